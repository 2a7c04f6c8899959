"""The download portal for campaign teams: a stand-alone FastAPI app (``kairos portal``).

Every route but the login form is authenticated (a signed, HTTP-only session cookie) and
authorised: a user belongs to one team and sees and downloads only the lists whose rule
that team owns (``owner_team`` in the warning-rule catalogue, copied into each day's
manifest). Anything else -- another team's list, an unknown list, a guessed file name --
is a 404, so the portal does not even confirm that it exists. Files are found through
the manifest, never by joining a user-supplied path. Every download (and every refused
one) is appended to ``publish/_audit/downloads.jsonl``: who, what, when, the file's hash.

Users live in ``$KAIROS_HOME/portal/users.json`` (``kairos portal-user``), passwords as
PBKDF2-SHA256 hashes. The session key comes from ``KAIROS_PORTAL_SECRET`` or a key file
made once under ``$KAIROS_HOME/secrets``. The dbt docs site is served under ``/docs``
to any signed-in user.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import secrets
from pathlib import Path

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, select_autoescape

from kairos import publish
from kairos.config import Settings
from kairos.files import write_json

SESSION_COOKIE = "kairos_session"
SESSION_HOURS = 8
PBKDF2_ITERATIONS = 200_000
DOWNLOAD_KINDS = {"csv": "csv", "parquet": "parquet", "diff": "diff_csv"}


# --- users ---------------------------------------------------------------------------


def users_path(cfg: Settings) -> Path:
    return cfg.home / "portal" / "users.json"


def hash_password(password: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), PBKDF2_ITERATIONS)
    return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${salt}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, iterations, salt, expected = stored.split("$")
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    return hmac.compare_digest(digest.hex(), expected)


def load_users(cfg: Settings) -> dict:
    path = users_path(cfg)
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("users", {})


def add_user(cfg: Settings, user: str, team: str, password: str) -> None:
    """Create or replace a portal user (the file is written 0600)."""
    if not user or not team or len(password) < 8:
        raise ValueError("a user needs a name, a team and a password of 8 characters or more")
    users = load_users(cfg)
    users[user] = {"team": team, "password": hash_password(password)}
    path = users_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"users": users}, mode=0o600)


def _secret(cfg: Settings) -> str:
    return cfg.secret("KAIROS_PORTAL_SECRET", "portal.key")


# --- audit ----------------------------------------------------------------------------


def audit_path(cfg: Settings) -> Path:
    return cfg.publish_dir / "_audit" / "downloads.jsonl"


def audit(cfg: Settings, event: dict) -> None:
    """Append one line to the download audit log (flock: several workers may write)."""
    path = audit_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(
        {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **event},
        ensure_ascii=False,
        sort_keys=True,
    )
    with path.open("a", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        fh.write(line + "\n")
        fh.flush()
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# --- pages ----------------------------------------------------------------------------

_env = Environment(autoescape=select_autoescape(default=True))

LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kairos target lists</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin-top:1rem}td,th{border:1px solid #ccc;padding:.3rem .6rem}
th{background:#f4f4f4;text-align:left}.ok{color:#170}.bad{color:#a00}
header{display:flex;gap:1rem;align-items:center}a.button,button{padding:.2rem .6rem}
</style></head><body>
{% if user %}<header><strong>Kairos</strong> <span id="who">{{ user }} ({{ team }})</span>
<a href="/lists">lists</a> <a href="/docs/index.html">data docs</a>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
</header>{% endif %}
{{ body }}
</body></html>"""

LOGIN = """<h1>Kairos target lists</h1>
{% if error %}<p class="bad" id="error">{{ error }}</p>{% endif %}
<form method="post" action="/login">
<label>User <input name="username" id="username" autocomplete="username"></label>
<label>Password <input name="password" id="password" type="password"
 autocomplete="current-password"></label>
<button type="submit" id="sign-in">Sign in</button></form>"""

LISTS = """<h1>Target lists of {{ day or "-" }}</h1>
{% if outcome_text %}<p id="outcome" class="{{ outcome_class }}">{{ outcome_text }}</p>
{% endif %}
<form method="get" action="/lists"><label>Business date
<select name="date" id="date" onchange="this.form.submit()">
{% for d in dates %}<option value="{{ d }}" {% if d == day %}selected{% endif %}>{{ d }}</option>
{% endfor %}</select></label></form>
{% if certified is not none %}
<p id="certification" class="{{ 'ok' if certified else 'bad' }}">
{{ 'Certified' if certified else 'Not certified' }}: {{ gates }}</p>{% endif %}
{% if lists %}
<table id="lists"><thead><tr><th>list</th><th>rule</th><th>channel</th><th>rows</th>
<th>holdout</th><th>added</th><th>removed</th><th>suppressed</th><th>download</th></tr></thead>
<tbody>{% for l in lists %}<tr data-list="{{ l.list_id }}">
<td>{{ l.list_id }}</td><td>{{ l.rule_name }}</td><td>{{ l.channel }}</td>
{% if l.status == "withheld" %}<td colspan="6" class="bad withheld">Withheld:
{{ l.withheld_reasons | join("; ") }}</td>{% else %}
<td class="rows">{{ l.rows }}</td><td>{{ l.holdout_rows }}</td>
<td>{{ l.diff.added }}</td><td>{{ l.diff.removed }}</td>
<td>{{ l.suppressed_total }}</td>
<td><a class="button" href="/lists/{{ day }}/{{ l.list_id }}/csv">CSV</a>
<a class="button" href="/lists/{{ day }}/{{ l.list_id }}/parquet">Parquet</a>
<a class="button" href="/lists/{{ day }}/{{ l.list_id }}/diff">diff</a></td>
{% endif %}</tr>{% endfor %}</tbody></table>
{% elif day and published %}<p id="empty">No list of your team for this date.</p>{% endif %}"""


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


def _page(template: str, user: str | None = None, team: str | None = None, **context) -> str:
    body = _env.from_string(template).render(**context)
    return _env.from_string(LAYOUT).render(user=user, team=team, body=_Markup(body))


class _Markup(str):
    def __html__(self):
        return self


# --- app ------------------------------------------------------------------------------


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
        if user is None or user["team"] != data.get("team"):
            raise HTTPException(status_code=401)  # removed or moved since signing in
        return data["user"], data["team"]

    async def errors(self, request: Request, exc: HTTPException):
        if exc.status_code == 401:
            if request.url.path.startswith(("/lists", "/docs")) and request.method == "GET":
                return RedirectResponse("/login", status_code=303)
            return HTMLResponse("not signed in", status_code=401)
        return HTMLResponse(str(exc.detail or "not found"), status_code=exc.status_code)

    def root(self, request: Request):
        self.current_user(request)
        return RedirectResponse("/lists", status_code=303)

    def login_form(self):
        return HTMLResponse(_page(LOGIN))

    def login(self, request: Request, username: str = Form(""), password: str = Form("")):
        user = load_users(self.cfg).get(username)
        if user is None or not check_password(password, user["password"]):
            audit(
                self.cfg, {"event": "login_refused", "user": username, "client": _client(request)}
            )
            return HTMLResponse(_page(LOGIN, error="Unknown user or wrong password."), 401)
        token = self.signer.dumps({"user": username, "team": user["team"]})
        response = RedirectResponse("/lists", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=SESSION_HOURS * 3600,
            httponly=True,
            samesite="strict",
            secure=self.cfg.portal_https,
        )
        return response

    def logout(self):
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    def team_lists(self, day: dt.date, team: str) -> tuple[dict, list[dict]]:
        directory = publish.published_dir(self.cfg, day)
        if directory is None:
            return {}, []
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        return manifest, [item for item in manifest["lists"] if item["owner_team"] == team]

    def _chosen_date(self, date: str | None) -> tuple[str | None, list[str]]:
        """The date to show (asked for, else the latest known) and the dates to offer."""
        from kairos.pipeline import outcome_dates

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

    def lists(self, request: Request, date: str | None = None):
        from kairos.pipeline import read_outcome

        user, team = self.current_user(request)
        day, dates = self._chosen_date(date)
        manifest, items = self.team_lists(dt.date.fromisoformat(day), team) if day else ({}, [])
        outcome = read_outcome(self.cfg, dt.date.fromisoformat(day)) if day else None
        outcome_text, outcome_class = _outcome_text(day, outcome, bool(manifest))
        for item in items:
            item["suppressed_total"] = sum(item.get("suppressed", {}).values())
        gates = manifest.get("certified_by", {}).get("gates", [])
        certified = all(g.get("success") for g in gates) if gates else None
        return HTMLResponse(
            _page(
                LISTS,
                user=user,
                team=team,
                day=day,
                dates=dates,
                lists=items,
                certified=certified,
                published=bool(manifest),
                outcome_text=outcome_text,
                outcome_class=outcome_class,
                gates=", ".join(
                    f"{g['gate']} {'passed' if g['success'] else 'failed'}" for g in gates
                ),
            )
        )

    def download(self, request: Request, date: str, list_id: str, kind: str):
        user, team = self.current_user(request)
        event = {"user": user, "team": team, "date": date, "list_id": list_id}
        refused = {"event": "download_refused", **event, "kind": kind, "client": _client(request)}
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            audit(self.cfg, refused)
            raise HTTPException(status_code=404) from None
        _, items = self.team_lists(day, team)
        item = next((i for i in items if i["list_id"] == list_id), None)
        if item is None or kind not in DOWNLOAD_KINDS or "files" not in item:
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
                "client": _client(request),
            },
        )
        media = (
            "text/csv; charset=utf-8"
            if entry["name"].endswith(".csv")
            else "application/vnd.apache.parquet"
        )
        return FileResponse(path, media_type=media, filename=f"{date}_{entry['name']}")

    def dbt_docs(self, request: Request, path: str):
        self.current_user(request)
        root = self.cfg.dbt_target_dir.resolve()
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
    routes = [
        ("/", portal.root, "GET"),
        ("/login", portal.login_form, "GET"),
        ("/login", portal.login, "POST"),
        ("/logout", portal.logout, "POST"),
        ("/lists", portal.lists, "GET"),
        ("/lists/{date}/{list_id}/{kind}", portal.download, "GET"),
        ("/docs/{path:path}", portal.dbt_docs, "GET"),
    ]
    for path, endpoint, method in routes:
        app.add_api_route(path, endpoint, methods=[method], include_in_schema=False)
    return app


def _client(request: Request) -> str:
    return request.client.host if request.client else ""
