"""Kairos's Airflow plugin: a view in Airflow's UI, for data engineers, of each business
date's load ledger, quarantine counts, build, gate results and certification, and the
dbt docs site -- behind Airflow's own authentication and authorisation.

Airflow mounts a plugin's FastAPI app with ``app.mount()``, which inherits none of the
API server's authentication (apache/airflow#72655, #72935): every route here therefore
depends on the auth manager's ``requires_access_view(AccessView.PLUGINS)`` -- a signed-in
user the auth manager allows to see plugins (SimpleAuthManager: viewer and up), with
Airflow's session cookie or a bearer token. If that dependency cannot be imported the app
refuses everything (fail closed).

Light at import: Airflow imports this module in every process that loads plugins; it
imports FastAPI and Airflow's security module only. The data comes from
:mod:`kairos.operations`, imported when a page is requested.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import ClassVar
from urllib.parse import quote

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

PREFIX = "/kairos"


def _auth_dependencies() -> list:
    try:
        from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
        from airflow.api_fastapi.core_api.security import requires_access_view
    except ImportError:  # a different Airflow: refuse rather than serve unauthenticated

        def deny_all() -> None:
            raise HTTPException(status_code=403, detail="Kairos view: no Airflow auth")

        return [Depends(deny_all)]
    return [Depends(requires_access_view(AccessView.PLUGINS))]


def _settings():
    from kairos.config import Settings

    return Settings.from_env()


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1f2933}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #cbd2d9;padding:.25rem .6rem;text-align:left;font-size:.9rem}
th{background:#f0f4f8} .bad{color:#b42318;font-weight:600} .ok{color:#027a48}
.muted{color:#616e7c;font-size:.85rem}
"""


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


class Markup(str):
    """HTML this module wrote itself (a link); every other value is escaped."""


def _cell(value) -> str:
    if isinstance(value, Markup):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "<span class='ok'>passed</span>" if value else "<span class='bad'>failed</span>"
    return html.escape(str(value))


def _run_link(dag_id: str, run_id: str | None):
    """The run in Airflow's UI; a run from the command line (``manual-…``) is named only."""
    if not run_id or run_id.startswith("manual"):
        return run_id
    href = f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
    return Markup(f"<a href='{html.escape(href)}'>{html.escape(run_id)}</a>")


def _table(rows: list[dict], columns: list[str] | None = None) -> str:
    if not rows:
        return "<p class='muted'>none</p>"
    columns = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _overview_page() -> HTMLResponse:
    from kairos import operations

    days, source = operations.overview(_settings())
    rows = [
        {
            "business date": Markup(
                f"<a href='{PREFIX}/dates/{d.business_date}'>{d.business_date}</a>"
            ),
            "extracts loaded": d.extracts_loaded,
            "extracts failed": _marked(d.extracts_failed, d.extracts_failed > 0),
            "rows loaded": f"{d.rows_loaded:,}",
            "rows quarantined": f"{d.rows_quarantined:,}",
            "build": _marked(d.build_status, d.build_status == "failed"),
            "gates": Markup(
                ", ".join(
                    f"{html.escape(g)}: " + ("passed" if ok else "<span class='bad'>FAILED</span>")
                    for g, ok in d.gates.items()
                )
            ),
            "lists": _marked(
                d.publish_status or "not published", d.publish_status in ("withheld", "failed")
            ),
        }
        for d in days
    ]
    return _page(
        "Kairos: business dates",
        f"<p class='muted'>from the {source}; <a href='{PREFIX}/docs/index.html'>dbt docs</a>;"
        " extracts counted once, by their latest load</p>" + _trend(days) + _table(rows),
    )


def _marked(value, bad: bool):
    """A value shown in red when it is a failure."""
    text = html.escape(str(value))
    return Markup(f"<span class='bad'>{text}</span>") if bad else text


# the publishing outcome of a date, as the trend's colour under its bar
OUTCOME_COLOURS = {
    "published": "#027a48",
    "partial": "#b54708",
    "withheld": "#b42318",
    "failed": "#b42318",
}


def _trend(days, width: int = 720, height: int = 120) -> str:
    """The last 30 dates as a picture: rows loaded as bars, and under each bar a square
    in the colour of what publishing did (green published, amber partial, red withheld
    or failed, grey nothing yet)."""
    days = sorted(days, key=lambda d: d.business_date)[-30:]
    if not days:
        return ""
    top = max(d.rows_loaded for d in days) or 1
    step = width / len(days)
    parts = []
    for i, d in enumerate(days):
        x = i * step + 2
        h = (height - 30) * d.rows_loaded / top
        colour = OUTCOME_COLOURS.get(d.publish_status, "#9aa5b1")
        label = html.escape(
            f"{d.business_date}: {d.rows_loaded:,} rows, {d.publish_status or 'not published'}"
        )
        parts.append(
            f"<rect x='{x:.1f}' y='{height - 20 - h:.1f}' width='{step - 4:.1f}' height='{h:.1f}'"
            f" fill='#3e7bfa'><title>{label}</title></rect>"
            f"<rect x='{x:.1f}' y='{height - 14}' width='{step - 4:.1f}' height='10'"
            f" fill='{colour}'><title>{label}</title></rect>"
        )
    first, last = days[0].business_date, days[-1].business_date
    return (
        f"<figure><svg role='img' aria-label='rows loaded and lists published, {first} to {last}'"
        f" width='{width}' height='{height}' viewBox='0 0 {width} {height}'>{''.join(parts)}</svg>"
        f"<figcaption class='muted'>{first} to {last}: rows loaded (bars); lists published"
        " (green), partly withheld (amber), withheld or failed (red), not yet (grey)"
        "</figcaption></figure>"
    )


def _detail_page(day: dt.date) -> HTMLResponse:
    from kairos import dates, operations

    d = operations.detail(_settings(), day)
    gates = [
        {
            "gate": g["gate"],
            "run": _run_link("publish_target_lists", g["run_id"]),
            "result": g["success"],
            "suites": g["suites"],
            "failed checks": "; ".join(
                f"{f['suite']}: {f['error'] or ', '.join(f['checks'])}" for f in g["failed"]
            ),
        }
        for g in d.gates
    ]
    cert = d.certification
    if cert is None:
        certification = "<p class='muted'>not published</p>"
    else:
        certification = _table(
            [
                {
                    "status": cert["status"],
                    "version": cert["version"],
                    "reason": cert["reason"],
                    "certified by": ", ".join(
                        f"{g.get('gate')}: {'passed' if g.get('success') else 'failed'}"
                        for g in (cert.get("certified_by") or {}).get("gates", [])
                    ),
                }
            ]
        ) + _table([{"list": k, "status": v} for k, v in sorted(cert["lists"].items())])

    def local(row: dict) -> dict:  # the ledgers keep UTC; people read the operator's time
        return {k: dates.local_text(v) if isinstance(v, dt.datetime) else v for k, v in row.items()}

    loads = [
        {**local(r), "run": _run_link(f"ingest_{r['system']}", r.get("dag_run_id"))}
        for r in d.loads
    ]
    builds = [
        {**{k: v for k, v in local(r).items() if k != "dag_run_id"},
         "run": _run_link("build_warehouse", r.get("dag_run_id"))}
        for r in d.builds
    ]  # fmt: skip
    body = (
        f"<p class='muted'>from the {d.source}; times in {dates.TIMEZONE};"
        f" <a href='{PREFIX}/'>all dates</a></p>"
        "<h2>Load ledger</h2>"
        + _table(
            loads,
            [
                "system",
                "extract",
                "status",
                "control_rows",
                "rows_loaded",
                "rows_quarantined",
                "finished_at",
                "run",
                "message",
            ],
        )
        + "<h2>Quarantine (rows by reason)</h2>"
        + _table(d.quarantine)
        + "<h2>Build</h2>"
        + _table(builds)
        + "<h2>Gates</h2>"
        + _table(gates)
        + "<h2>Certification</h2>"
        + certification
    )
    return _page(f"Kairos: business date {day}", body)


def create_app() -> FastAPI:
    app = FastAPI(
        title="Kairos operations",
        dependencies=_auth_dependencies(),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/", response_class=HTMLResponse)
    def overview() -> HTMLResponse:
        return _overview_page()

    @app.get("/dates/{day}", response_class=HTMLResponse)
    def date_detail(day: dt.date) -> HTMLResponse:
        return _detail_page(day)

    @app.get("/docs/{name}")
    def dbt_docs(name: str) -> FileResponse:
        from kairos import operations

        path = operations.docs_file(_settings(), name)
        if path is None:
            raise HTTPException(status_code=404, detail="not found")
        return FileResponse(path)

    return app


class KairosPlugin(AirflowPlugin):
    """The one Kairos plugin: its operations view, linked from Airflow's navigation."""

    name = "kairos"
    fastapi_apps: ClassVar[list[dict]] = [
        {"app": create_app(), "url_prefix": PREFIX, "name": "Kairos operations"}
    ]
    external_views: ClassVar[list[dict]] = [
        {
            "name": "Kairos: business dates",
            "href": f"{PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "kairos",
        },
        {
            "name": "Kairos: dbt docs",
            "href": f"{PREFIX}/docs/index.html",
            "destination": "nav",
            "category": "docs",
            "url_route": "kairos-dbt-docs",
        },
    ]
