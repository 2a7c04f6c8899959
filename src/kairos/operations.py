"""What data engineers see of each business date: loads, quarantine, build, gates and
certification, gathered from the ledgers and the files the pipeline keeps. The Airflow
plugin (``plugins/kairos_operations.py``) renders it inside Airflow's UI.

Counts, statuses and reasons only: no quarantined line, no list row, no customer. A
quarantine reason is shown as its kind (the column and the rule it broke), never with the
value it quotes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kairos.config import Settings
from kairos.ingest.load import reason_kind_sql
from kairos.publish.outcomes import outcomes_dir


@dataclass
class DateSummary:
    business_date: dt.date
    extracts_loaded: int = 0
    extracts_failed: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    build_status: str = ""
    gates: dict[str, bool] = field(default_factory=dict)
    publish_status: str = ""


@dataclass
class DateDetail:
    business_date: dt.date
    source: str  # which database answered: the live warehouse or the snapshot
    loads: list[dict]
    quarantine: list[dict]
    builds: list[dict]
    gates: list[dict]
    certification: dict | None


def _connect(cfg: Settings) -> tuple[duckdb.DuckDBPyConnection | None, str]:
    """A read-only connection: the live warehouse, else (a writer holds it) the snapshot."""
    for path, label in ((cfg.warehouse, "warehouse"), (cfg.snapshot, "snapshot")):
        if not path.exists():
            continue
        try:
            return duckdb.connect(str(path), read_only=True), label
        except duckdb.Error:
            continue
    return None, "none"


def _rows(con, sql: str, params: list | None = None) -> list[dict]:
    try:
        rel = con.execute(sql, params or [])
    except duckdb.CatalogException:  # an empty warehouse: no audit tables yet
        return []
    names = [d[0] for d in rel.description]
    return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]


def _gate_files(cfg: Settings, day: dt.date) -> list[dict]:
    """The kept gate results of ``day``, newest last (what each gate run decided)."""
    out = []
    for path in sorted((cfg.quality_dir / day.isoformat()).glob("*.json")):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out.append(
            {
                "gate": result.get("gate"),
                "run_id": result.get("run_id"),
                "success": bool(result.get("success")),
                "failed": [
                    {
                        "suite": s.get("suite"),
                        "error": s.get("error"),
                        "checks": [
                            e.get("description")
                            or f"{e.get('expectation')} {e.get('column') or ''}".strip()
                            for e in s.get("expectations") or []
                            if not e.get("success")
                        ],
                    }
                    for s in result.get("suites") or []
                    if not s.get("success")
                ],
                "suites": len(result.get("suites") or []),
                "modified": dt.datetime.fromtimestamp(path.stat().st_mtime),
            }
        )
    out.sort(key=lambda g: g["modified"])
    return out


def _outcome(cfg: Settings, day: dt.date) -> dict | None:
    path = outcomes_dir(cfg) / f"{day.isoformat()}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def overview(cfg: Settings, limit: int = 60) -> tuple[list[DateSummary], str]:
    """The latest ``limit`` business dates, newest first, and which database answered."""
    con, source = _connect(cfg)
    days: dict[dt.date, DateSummary] = {}
    if con is not None:
        try:
            for r in _rows(
                con,
                """
                with latest as (  -- each extract once: its latest attempt, not every attempt
                    select business_date, system, extract,
                        arg_max(status, finished_at) as status,
                        arg_max(rows_loaded, finished_at) as rows_loaded,
                        arg_max(rows_quarantined, finished_at) as rows_quarantined
                    from audit.load_ledger group by business_date, system, extract
                )
                select business_date,
                    count(*) filter (where status in ('loaded', 'replaced', 'unchanged'))
                        as loaded,
                    count(*) filter (where status not in ('loaded', 'replaced', 'unchanged'))
                        as failed,
                    sum(rows_loaded) filter (where status in ('loaded', 'replaced', 'unchanged'))
                        as rows_loaded,
                    sum(rows_quarantined)
                        filter (where status in ('loaded', 'replaced', 'unchanged'))
                        as rows_quarantined
                from latest group by business_date
                order by business_date desc limit ?
                """,
                [limit],
            ):
                days[r["business_date"]] = DateSummary(
                    r["business_date"],
                    int(r["loaded"] or 0),
                    int(r["failed"] or 0),
                    int(r["rows_loaded"] or 0),
                    int(r["rows_quarantined"] or 0),
                )
            for r in _rows(
                con,
                "select business_date, arg_max(status, finished_at) as status"
                " from audit.build_ledger group by business_date",
            ):
                if r["business_date"] in days:
                    days[r["business_date"]].build_status = r["status"]
        finally:
            con.close()
    for summary in days.values():
        for g in _gate_files(cfg, summary.business_date):
            summary.gates[g["gate"]] = g["success"]  # the latest run of each gate
        outcome = _outcome(cfg, summary.business_date) or {}
        summary.publish_status = outcome.get("status", "")
    return sorted(days.values(), key=lambda s: s.business_date, reverse=True), source


def detail(cfg: Settings, day: dt.date) -> DateDetail:
    """Everything kept about one business date."""
    con, source = _connect(cfg)
    loads = quarantine = builds = []
    if con is not None:
        try:
            loads = _rows(
                con,
                "select system, extract, status, control_rows, rows_loaded, rows_quarantined,"
                " file_name, dag_run_id, finished_at, message from audit.load_ledger"
                " where business_date = ? order by finished_at",
                [day],
            )
            quarantine = _rows(
                con,
                f"select system, extract, {reason_kind_sql()} as reason, count(*) as rows"
                " from audit.quarantine where business_date = ? group by all order by all",
                [day],
            )
            builds = _rows(
                con,
                "select * exclude (business_date) from audit.build_ledger"
                " where business_date = ? order by all",
                [day],
            )
        finally:
            con.close()
    return DateDetail(
        business_date=day,
        source=source,
        loads=loads,
        quarantine=quarantine,
        builds=builds,
        gates=_gate_files(cfg, day),
        certification=_certification(cfg, day),
    )


def _certification(cfg: Settings, day: dt.date) -> dict | None:
    """The publishing outcome and what certified the published version."""
    outcome = _outcome(cfg, day)
    if outcome is None:
        return None
    manifest_path = cfg.publish_dir / "lists" / day.isoformat() / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    return {
        "status": outcome.get("status"),
        "reason": outcome.get("reason", ""),
        "version": outcome.get("version"),
        "lists": {
            list_id: item.get("status") for list_id, item in (outcome.get("lists") or {}).items()
        },
        "certified_by": manifest.get("certified_by"),
    }


DOCS_FILES = ("index.html", "manifest.json", "catalog.json")  # kairos.warehouse's


def docs_file(cfg: Settings, name: str) -> Path | None:
    """A file of the dbt docs site, by name from a fixed list (never a path)."""
    if name not in DOCS_FILES:
        return None
    path = cfg.docs_site_dir / name
    return path if path.is_file() else None
