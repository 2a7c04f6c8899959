"""The portal's web app: its pages (Jinja templates in ``templates/``), routes, the body
cap and the security headers. See :mod:`kairos.portal` for what it guarantees."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
from pathlib import Path

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, PackageLoader, select_autoescape

from kairos import dates, publish
from kairos.config import Settings
from kairos.portal.audit import audit
from kairos.portal.throttle import begin_sign_in, record_sign_in
from kairos.portal.users import (
    MAX_PASSWORD,
    MAX_USER,
    _dummy_hash,
    check_password,
    end_sessions,
    load_users,
)
from kairos.publish import approval
from kairos.publish.outcomes import outcome_dates, read_outcome

SESSION_COOKIE = "kairos_session"
SESSION_HOURS = 8
DOWNLOAD_KINDS = {"csv": "csv", "parquet": "parquet", "diff": "diff_csv"}
MAX_BODY = 16 * 1024

_env = Environment(
    loader=PackageLoader("kairos.portal", "templates"), autoescape=select_autoescape(default=True)
)


def _secret(cfg: Settings) -> str:
    return cfg.secret("KAIROS_PORTAL_SECRET", "portal.key")


# --- pages --------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0%}"


def _chart(history: list[dict], width: int = 600, height: int = 120) -> dict:
    """Bars of the list's size on each date (the last one is today's)."""
    top = max((h["rows"] for h in history), default=0) or 1
    w = width / max(len(history), 1)
    bars = [
        {
            "date": h["date"],
            "rows": h["rows"],
            "x": round(k * w + 1, 1),
            "w": round(max(w - 2, 1), 1),
            "h": round(height * h["rows"] / top, 1),
            "y": round(height - height * h["rows"] / top, 1),
            "today": k == len(history) - 1,
        }
        for k, h in enumerate(history)
    ]
    first = history[0]["date"] if history else ""
    last = history[-1]["date"] if history else ""
    return {"bars": bars, "width": width, "height": height, "first": first, "last": last}


def _state_text(item: dict) -> tuple[str, str]:
    a = item.get("approval", {})
    if item["status"] == "pending_approval":
        return "Pending your team's approval: nobody can download it and CRM does not work it.", ""
    if a.get("state") == "approved":
        at = dates.local_text(dt.datetime.fromisoformat(a["at"]))
        return f"Approved by {a['by']} at {at}" + (
            f": {a['comment']}" if a.get("comment") else ""
        ), "ok"
    if a.get("state") == "auto_approved":
        return "Approved automatically (the rule's policy: a service notice).", "ok"
    if item["status"] == "withheld":
        return "Withheld: " + "; ".join(item.get("withheld_reasons", [])), "bad"
    return "Published.", "ok"


def _outcome_text(day: str | None, outcome: dict | None, published: bool) -> tuple[str, str]:
    """What happened to the date's publication, in one sentence, and its style."""
    if day is None:
        return "", ""
    status = (outcome or {}).get("status")
    reason = (outcome or {}).get("reason") or ""
    if status in ("withheld", "failed") and not published:
        return f"Not published ({status}): {reason}", "bad"
    if status in ("withheld", "failed"):
        return (
            f"A later run was not published ({status}): {reason}; shown: the last good lists",
            "bad",
        )
    if status == "partial":
        return f"Published, with lists withheld: {reason}", "bad"
    if not published:
        return "Not published: no publication for this date.", "bad"
    return "", ""


def _manager_rows(path: Path, manager: int) -> bytes:
    """The rows of one phone manager of a published list file, in the same format (a
    call list is one manager's day at most a few hundred rows: read whole)."""
    # lazy: only a Parquet download needs it
    import pyarrow.compute as pc

    # lazy: only a Parquet download needs it
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        table = pq.read_table(path)
        table = table.filter(pc.equal(table["phone_manager_id"], manager))
        out = io.BytesIO()
        pq.write_table(table, out, compression="zstd")
        return out.getvalue()
    text = io.StringIO(newline="")
    with path.open(encoding=publish.CSV_ENCODING, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        column = header.index("phone_manager_id")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(row for row in reader if row[column] == str(manager))
    return text.getvalue().encode(publish.CSV_ENCODING)


def _page(template: str, user: str | None = None, team: str | None = None, **context) -> str:
    """``templates/<template>`` inside ``templates/layout.html``."""
    body = _env.get_template(template).render(**context)
    return _env.get_template("layout.html").render(user=user, team=team, body=_Markup(body))


class _Markup(str):
    def __html__(self):
        return self


# --- app ----------------------------------------------------------------------------


class _Portal:
    """The portal's request handlers over one configuration."""

    def __init__(self, cfg: Settings):
        self.cfg = cfg
        self.signer = URLSafeTimedSerializer(_secret(cfg), salt="kairos-portal-session")

    def current_user(self, request: Request) -> tuple[str, str]:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise HTTPException(status_code=401)
        try:
            data = self.signer.loads(token, max_age=SESSION_HOURS * 3600)
        except BadSignature:
            raise HTTPException(status_code=401) from None
        user = load_users(self.cfg).get(data.get("user"))
        if (
            user is None  # removed
            or user.get("disabled")
            or user["team"] != data.get("team")  # moved
            or not hmac.compare_digest(str(user.get("session", "")), str(data.get("session")))
        ):  # signed out, or the password changed, since the cookie was issued
            raise HTTPException(status_code=401)
        return data["user"], data["team"]

    async def errors(self, request: Request, exc: HTTPException):
        if exc.status_code == 401:
            path = request.url.path
            if request.method == "GET" and (path == "/" or path.startswith(("/lists", "/docs"))):
                return RedirectResponse("/login", status_code=303)
            return HTMLResponse("not signed in", status_code=401)
        return HTMLResponse(str(exc.detail or "not found"), status_code=exc.status_code)

    def root(self, request: Request):
        self.current_user(request)
        return RedirectResponse("/lists", status_code=303)

    def login_form(self):
        return HTMLResponse(_page("login.html"))

    def login(self, request: Request, username: str = Form(""), password: str = Form("")):
        client = self.client(request)
        refused = HTMLResponse(_page("login.html", error="Unknown user or wrong password."), 401)
        if len(username) > MAX_USER or len(password) > MAX_PASSWORD:
            audit(
                self.cfg,
                {
                    "event": "login_refused",
                    "reason": "too long",
                    "user": username[:MAX_USER] + "…",
                    "client": client,
                },
            )
            return refused
        mark = begin_sign_in(self.cfg, username, client)
        if mark is None:
            audit(
                self.cfg,
                {"event": "login_refused", "reason": "locked", "user": username, "client": client},
            )
            return HTMLResponse(
                _page("login.html", error="Too many failed sign-ins; try again later."), 429
            )
        user = load_users(self.cfg).get(username)
        ok = check_password(password, user["password"] if user else _dummy_hash())
        ok = ok and user is not None and not user.get("disabled")
        record_sign_in(self.cfg, username, client, ok, mark)
        if not ok:
            audit(
                self.cfg,
                {"event": "login_refused", "reason": "bad credentials", "user": username,
                 "client": client},
            )  # fmt: skip
            return refused
        token = self.signer.dumps(
            {"user": username, "team": user["team"], "session": user.get("session", "")}
        )
        audit(self.cfg, {"event": "login", "user": username, "client": client})
        response = RedirectResponse("/lists", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=SESSION_HOURS * 3600,
            httponly=True,
            samesite="strict",
            secure=not self.cfg.portal_insecure_http,
        )
        return response

    def logout(self, request: Request):
        try:
            user, _ = self.current_user(request)
        except HTTPException:
            user = None
        if user is not None:
            end_sessions(self.cfg, user)  # the cookie stops working everywhere
            audit(self.cfg, {"event": "logout", "user": user, "client": self.client(request)})
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    def client(self, request: Request) -> str:
        """The client's address: the socket's, unless the socket is the trusted proxy,
        whose ``X-Forwarded-For`` last entry is then believed."""
        host = request.client.host if request.client else ""
        proxy = self.cfg.portal_trusted_proxy
        if proxy and host == proxy:
            forwarded = request.headers.get("x-forwarded-for", "")
            return (forwarded.rsplit(",", 1)[-1].strip() or host)[:64]
        return host

    def team_lists(self, day: dt.date, team: str) -> tuple[dict, list[dict]]:
        directory = publish.published_dir(self.cfg, day)
        if directory is None:
            return {}, []
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        return manifest, [item for item in manifest["lists"] if item["owner_team"] == team]

    def _chosen_date(self, date: str | None) -> tuple[str | None, list[str]]:
        """The date to show (asked for, else the latest known) and the dates to offer."""
        known = {*publish.published_dates(self.cfg), *outcome_dates(self.cfg)}
        dates = [d.isoformat() for d in sorted(known, reverse=True)]
        if date:
            try:
                day = dt.date.fromisoformat(date).isoformat()  # asked for: say what happened
            except ValueError:
                raise HTTPException(status_code=404) from None
        else:
            day = dates[0] if dates else None
        if day and day not in dates:
            dates.insert(0, day)
        return day, dates

    def lists(self, request: Request, date: str | None = None, manager: str | None = None):
        user, team = self.current_user(request)
        day, dates = self._chosen_date(date)
        manifest, items = self.team_lists(dt.date.fromisoformat(day), team) if day else ({}, [])
        managers = sorted({m for i in items for m in i.get("managers", {})}, key=int)
        manager = manager or None
        if manager is not None:
            if manager not in managers:
                raise HTTPException(status_code=404)
            # the call lists with this manager's calls, each with the manager's rows only
            items = [
                {**i, "rows": i["managers"][manager]}
                for i in items
                if manager in i.get("managers", {})
            ]
        outcome = read_outcome(self.cfg, dt.date.fromisoformat(day)) if day else None
        outcome_text, outcome_class = _outcome_text(day, outcome, bool(manifest))
        for item in items:
            item["suppressed_total"] = sum(item.get("suppressed", {}).values())
        gates = manifest.get("certified_by", {}).get("gates", [])
        certified = all(g.get("success") for g in gates) if gates else None
        return HTMLResponse(
            _page(
                "lists.html",
                user=user,
                team=team,
                day=day,
                dates=dates,
                lists=items,
                certified=certified,
                published=bool(manifest),
                outcome_text=outcome_text,
                outcome_class=outcome_class,
                managers=managers,
                manager=manager,
                query=f"?manager={manager}" if manager else "",
                gates=", ".join(
                    f"{g['gate']} {'passed' if g['success'] else 'failed'}" for g in gates
                ),
            )
        )

    def download(
        self, request: Request, date: str, list_id: str, kind: str, manager: str | None = None
    ):
        user, team = self.current_user(request)
        event = {"user": user, "team": team, "date": date, "list_id": list_id}
        if manager:
            event["manager"] = manager[:32]
        refused = {
            "event": "download_refused",
            **event,
            "kind": kind,
            "client": self.client(request),
        }
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            audit(self.cfg, refused)
            raise HTTPException(status_code=404) from None
        _, items = self.team_lists(day, team)
        item = next((i for i in items if i["list_id"] == list_id), None)
        if (
            item is None
            or kind not in DOWNLOAD_KINDS
            or "files" not in item
            or item["status"] != "published"  # pending approval or rejected: not live
            or (manager and (manager not in item.get("managers", {}) or kind == "diff"))
        ):
            audit(self.cfg, refused)
            raise HTTPException(status_code=404)
        entry = item["files"][DOWNLOAD_KINDS[kind]]
        path = publish.published_dir(self.cfg, day) / entry["name"]
        audit(
            self.cfg,
            {
                "event": "download",
                **event,
                "file": entry["name"],
                "sha256": entry["sha256"],
                "bytes": entry["bytes"],
                "client": self.client(request),
            },
        )
        media = (
            "text/csv; charset=utf-8"
            if entry["name"].endswith(".csv")
            else "application/vnd.apache.parquet"
        )
        if manager:
            return Response(
                _manager_rows(path, int(manager)),
                media_type=media,
                headers={
                    "content-disposition": (
                        f'attachment; filename="{date}_{manager}_{entry["name"]}"'
                    )
                },
            )
        return FileResponse(path, media_type=media, filename=f"{date}_{entry['name']}")

    def csrf_token(self, request: Request) -> str:
        """A form token bound to the session cookie (defence in depth over SameSite)."""
        token = request.cookies.get(SESSION_COOKIE, "")
        return hmac.new(_secret(self.cfg).encode(), token.encode(), hashlib.sha256).hexdigest()

    def _team_item(self, date: str, list_id: str, team: str) -> tuple[dt.date, dict]:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise HTTPException(status_code=404) from None
        _, items = self.team_lists(day, team)
        item = next((i for i in items if i["list_id"] == list_id), None)
        if item is None:
            raise HTTPException(status_code=404)
        return day, item

    def review(self, request: Request, date: str, list_id: str, error: str = "", status=200):
        user, team = self.current_user(request)
        day, item = self._team_item(date, list_id, team)
        p = approval.preview(self.cfg, day, item)
        state_text, state_class = _state_text(item)
        return HTMLResponse(
            _page(
                "review.html",
                user=user,
                team=team,
                day=day.isoformat(),
                item=item,
                p=p,
                pct=_pct,
                chart=_chart(p["history"]),
                pending=item["status"] == approval.PENDING,
                csrf=self.csrf_token(request),
                state_text=state_text,
                state_class=state_class,
                error=error,
            ),
            status_code=status,
        )

    def decide(
        self,
        request: Request,
        date: str,
        list_id: str,
        decision: str = Form(""),
        comment: str = Form(""),
        csrf: str = Form(""),
    ):
        user, team = self.current_user(request)
        event = {"user": user, "team": team, "date": date, "list_id": list_id,
                 "client": self.client(request)}  # fmt: skip
        if not hmac.compare_digest(csrf, self.csrf_token(request)):
            audit(self.cfg, {"event": "decision_refused", **event, "reason": "bad form token"})
            raise HTTPException(status_code=403, detail="stale form: reload the page")
        day, _ = self._team_item(date, list_id, team)
        try:
            item = approval.decide(self.cfg, day, list_id, user, team, decision, comment)
        except approval.DecisionRefused as exc:
            audit(self.cfg, {"event": "decision_refused", **event, "reason": str(exc)})
            if exc.status == 404:
                raise HTTPException(status_code=404) from None
            return self.review(request, date, list_id, error=str(exc), status=exc.status)
        audit(
            self.cfg,
            {
                "event": f"list_{item['approval']['state']}",
                **event,
                "comment": item["approval"]["comment"],
                "rows": item.get("rows"),
            },
        )
        return RedirectResponse(f"/lists/{day}/{list_id}/review", status_code=303)

    def dbt_docs(self, request: Request, path: str):
        self.current_user(request)
        root = self.cfg.docs_site_dir.resolve()
        target = (root / (path or "index.html")).resolve()
        allowed = {"index.html", "manifest.json", "catalog.json"}
        if not target.is_relative_to(root) or target.name not in allowed or not target.is_file():
            raise HTTPException(status_code=404)
        return FileResponse(target)


def create_app(cfg: Settings) -> FastAPI:
    """The portal over ``cfg``'s publish directory (settings read at start)."""
    portal = _Portal(cfg)
    app = FastAPI(title="Kairos target lists", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(HTTPException, portal.errors)
    app.add_middleware(BodyCap, limit=MAX_BODY)  # inside: its 413 gets the headers too
    app.middleware("http")(_security(cfg))
    routes = [
        ("/", portal.root, "GET"),
        ("/login", portal.login_form, "GET"),
        ("/login", portal.login, "POST"),
        ("/logout", portal.logout, "POST"),
        ("/lists", portal.lists, "GET"),
        ("/lists/{date}/{list_id}/review", portal.review, "GET"),
        ("/lists/{date}/{list_id}/decision", portal.decide, "POST"),
        ("/lists/{date}/{list_id}/{kind}", portal.download, "GET"),
        ("/docs/{path:path}", portal.dbt_docs, "GET"),
    ]
    for path, endpoint, method in routes:
        app.add_api_route(path, endpoint, methods=[method], include_in_schema=False)
    return app


class BodyCap:
    """No request body over ``limit`` bytes is read, however it is framed: a declared
    ``Content-Length`` over the limit is refused unread, and a chunked body (no length)
    is read only up to the limit, then refused -- 413 either way, before any route,
    sign-in included, sees it. A body within the limit is replayed to the app."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await self._too_large(scope, receive, send)
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                return await self._too_large(scope, receive, send)
            if not message.get("more_body", False):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)

    async def _too_large(self, scope, receive, send):
        response = HTMLResponse("request too large", status_code=413)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _security(cfg: Settings):
    """Put the security headers on every response."""
    page_csp = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    )
    # the dbt docs site is one page of inline scripts and styles reading its two JSON files
    docs_csp = (
        "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval';"
        " style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:;"
        " frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )

    async def middleware(request: Request, call_next):
        response = await call_next(request)
        docs = request.url.path.startswith("/docs/")
        response.headers["Content-Security-Policy"] = docs_csp if docs else page_csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        if not cfg.portal_insecure_http:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    return middleware
