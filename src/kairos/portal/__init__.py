"""The download portal for campaign teams: a stand-alone FastAPI app (``kairos portal``).

Every route but the login form is authenticated (a signed, HTTP-only session cookie) and
authorised: a user belongs to one team and sees and downloads only the lists whose rule
that team owns (``owner_team`` in the warning-rule catalogue, copied into each day's
manifest). Anything else -- another team's list, an unknown list, a guessed file name --
is a 404, so the portal does not even confirm that it exists. Files are found through
the manifest, never by joining a user-supplied path. Every download (and every refused
one) is appended to ``publish/_audit/downloads.jsonl``: who, what, when, the file's hash.

Users live in ``$KAIROS_HOME/portal/users.json`` (``kairos portal-user``: add, change
the password, disable, remove), passwords as PBKDF2-SHA256 hashes of 12 characters or
more. The session key comes from ``KAIROS_PORTAL_SECRET`` or a key file made once under
``$KAIROS_HOME/secrets``. The dbt docs site is served under ``/docs`` to any signed-in
user.

OWASP ASVS level 1 is the bar:

* a session cookie carries the user's *session generation*; signing out, a password
  change, disabling or removing the user draws a new one, which ends every live session
  of that user at once (the cookie is also signed and expires after 8 hours);
* sign-in is throttled: 5 failures for a user name within 15 minutes lock it, 30 from a
  client lock that client, for the rest of the window, the right password included; an
  attempt is counted before its password is checked, in one step under the throttle's
  lock, so guesses sent at once are counted one by one; an unknown user costs the same
  PBKDF2 time as a known one;
* a user name over 64 characters or a password over 1,024 is refused before anything is
  written, and a request body over 16 KiB before more of it is read, chunked or not;
* every response carries CSP (``frame-ancestors 'none'``), ``nosniff``, a
  ``Referrer-Policy``, ``Cache-Control: no-store``, and HSTS unless the portal serves plain
  HTTP; the cookie is ``Secure`` unless ``KAIROS_PORTAL_INSECURE_HTTP=1`` (local use);
* the audit (0600) records sign-ins, sign-outs and every refusal, with the client's
  address from the socket -- ``X-Forwarded-For`` only from ``KAIROS_PORTAL_TRUSTED_PROXY``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import secrets
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, select_autoescape

from kairos import locks, publish
from kairos.config import Settings
from kairos.files import write_json
from kairos.publish import approval
from kairos.publish.outcomes import outcome_dates, read_outcome

SESSION_COOKIE = "kairos_session"
SESSION_HOURS = 8
PBKDF2_ITERATIONS = 200_000
DOWNLOAD_KINDS = {"csv": "csv", "parquet": "parquet", "diff": "diff_csv"}
MIN_PASSWORD = 12
MAX_USER = 64
MAX_PASSWORD = 1024
MAX_BODY = 16 * 1024
THROTTLE_WINDOW_S = 15 * 60
MAX_USER_FAILURES = 5
MAX_CLIENT_FAILURES = 30


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


@cache
def _dummy_hash() -> str:
    """Checked for an unknown user, so that it takes as long as a known one."""
    return hash_password(secrets.token_hex(16))


def _locked(path: Path):
    """An exclusive lock for a read-modify-write of ``path`` (several workers; the
    retention trims the audit log under the same lock): ``<path>.lock``."""
    return locks.hold(path.with_name(path.name + ".lock"), f"portal ({path.name})", wait_s=None)


def load_users(cfg: Settings) -> dict:
    path = users_path(cfg)
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("users", {})


@contextlib.contextmanager
def _users_for_update(cfg: Settings) -> Iterator[dict]:
    """The users, locked for a read-modify-write, saved (0600) when the block ends."""
    with _locked(users_path(cfg)):
        users = load_users(cfg)
        yield users
        write_json(users_path(cfg), {"users": users}, mode=0o600)


def known_teams(cfg: Settings) -> set[str]:
    """The teams that own rules (``owner_team`` in the warning-rule seed)."""
    with (cfg.project_dir / "seeds" / "warning_rules.csv").open(encoding="utf-8") as fh:
        return {row["owner_team"] for row in csv.DictReader(fh) if row["owner_team"]}


def add_user(cfg: Settings, user: str, team: str, password: str) -> None:
    """Create a portal user or replace one (a new password ends its live sessions); the
    file is written 0600."""
    if not user or len(user) > MAX_USER or not user.isprintable() or user != user.strip():
        raise ValueError(f"a user name is 1 to {MAX_USER} printable characters")
    teams = known_teams(cfg)
    if team not in teams:
        raise ValueError(f"unknown team {team!r}; the teams are: {', '.join(sorted(teams))}")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    with _users_for_update(cfg) as users:
        users[user] = {
            "team": team,
            "password": hash_password(password),
            "session": secrets.token_hex(8),
        }


def set_disabled(cfg: Settings, user: str, disabled: bool) -> None:
    """Disable (or enable) a user; disabling ends its live sessions."""
    with _users_for_update(cfg) as users:
        if user not in users:
            raise ValueError(f"no portal user {user!r}")
        users[user]["disabled"] = disabled
        users[user]["session"] = secrets.token_hex(8)


def remove_user(cfg: Settings, user: str) -> None:
    """Remove a user; its live sessions end with it."""
    with _users_for_update(cfg) as users:
        if users.pop(user, None) is None:
            raise ValueError(f"no portal user {user!r}")


def end_sessions(cfg: Settings, user: str) -> None:
    """Draw a new session generation: every cookie issued to ``user`` stops working."""
    with _users_for_update(cfg) as users:
        if user in users:
            users[user]["session"] = secrets.token_hex(8)


# --- sign-in throttling -------------------------------------------------------------


def throttle_path(cfg: Settings) -> Path:
    return cfg.home / "portal" / "throttle.json"


def _recent_failures(cfg: Settings, now: float) -> dict[str, list[float]]:
    path = throttle_path(cfg)
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    return {
        k: kept for k, v in data.items() if (kept := [t for t in v if now - t < THROTTLE_WINDOW_S])
    }


def begin_sign_in(cfg: Settings, user: str, client: str) -> float | None:
    """Count a sign-in attempt against the user name and the client *before* its password
    is checked, in one step under the throttle's lock: None when either is locked out
    (nothing counted), else the attempt's mark for :func:`record_sign_in`. So N guesses
    sent at once cost N attempts, and those past the limit are never checked."""
    now = time.time()
    path = throttle_path(cfg)
    with _locked(path):
        failures = _recent_failures(cfg, now)
        if (
            len(failures.get(f"user:{user}", ())) >= MAX_USER_FAILURES
            or len(failures.get(f"client:{client}", ())) >= MAX_CLIENT_FAILURES
        ):
            return None
        for key in (f"user:{user}", f"client:{client}"):
            failures.setdefault(key, []).append(now)
        write_json(path, failures, mode=0o600)
    return now


def record_sign_in(cfg: Settings, user: str, client: str, ok: bool, mark: float) -> None:
    """The attempt ``mark`` turned out well: clear the user name's count and take the
    attempt off the client's. A failed attempt stays counted as it was."""
    if not ok:
        return
    path = throttle_path(cfg)
    with _locked(path):
        failures = _recent_failures(cfg, time.time())
        failures.pop(f"user:{user}", None)
        with contextlib.suppress(ValueError):
            failures.get(f"client:{client}", []).remove(mark)
        write_json(path, failures, mode=0o600)


def _secret(cfg: Settings) -> str:
    return cfg.secret("KAIROS_PORTAL_SECRET", "portal.key")


# --- audit ----------------------------------------------------------------------------


def audit_path(cfg: Settings) -> Path:
    return cfg.portal_audit_log


def audit_lock(cfg: Settings):
    """The audit log's lock: several portal workers append, the retention trims."""
    return _locked(audit_path(cfg))


def audit(cfg: Settings, event: dict) -> None:
    """Append one line to the audit log (0600), under its lock: opened inside it, so a
    line never goes to a file the retention has just replaced."""
    path = audit_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(
        {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **event},
        ensure_ascii=False,
        sort_keys=True,
    )
    with audit_lock(cfg):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with open(fd, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


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
<select name="date" id="date">
{% for d in dates %}<option value="{{ d }}" {% if d == day %}selected{% endif %}>{{ d }}</option>
{% endfor %}</select></label>
{% if managers %}<label>Phone manager <select name="manager" id="manager">
<option value="">all</option>
{% for m in managers %}<option value="{{ m }}" {% if m == manager %}selected{% endif %}>{{ m }}
</option>{% endfor %}</select></label>{% endif %}
<button type="submit" id="show">Show</button></form>
{% if manager %}<p id="manager-filter">Calls of phone manager {{ manager }} only.</p>{% endif %}
{% if certified is not none %}
<p id="certification" class="{{ 'ok' if certified else 'bad' }}">
{{ 'Certified' if certified else 'Not certified' }}: {{ gates }}</p>{% endif %}
{% if lists %}
<table id="lists"><thead><tr><th>list</th><th>rule</th><th>channel</th><th>rows</th>
<th>holdout</th><th>added</th><th>removed</th><th>suppressed</th><th>download</th></tr></thead>
<tbody>{% for l in lists %}<tr data-list="{{ l.list_id }}">
<td>{{ l.list_id }}</td><td>{{ l.rule_name }}</td><td>{{ l.channel }}</td>
{% if l.status == "withheld" %}<td colspan="6" class="bad withheld">Withheld:
{{ l.withheld_reasons | join("; ") }}</td>{% elif l.status == "pending_approval" %}
<td class="rows">{{ l.rows }}</td><td>{{ l.holdout_rows }}</td>
<td>{{ l.diff.added }}</td><td>{{ l.diff.removed }}</td><td>{{ l.suppressed_total }}</td>
<td class="pending">Pending approval
<a class="button review" href="/lists/{{ day }}/{{ l.list_id }}/review">Review</a></td>
{% else %}
<td class="rows">{{ l.rows }}</td><td>{{ l.holdout_rows }}</td>
<td>{{ l.diff.added }}</td><td>{{ l.diff.removed }}</td>
<td>{{ l.suppressed_total }}</td>
<td><a class="button" href="/lists/{{ day }}/{{ l.list_id }}/csv{{ query }}">CSV</a>
<a class="button" href="/lists/{{ day }}/{{ l.list_id }}/parquet{{ query }}">Parquet</a>
<a class="button" href="/lists/{{ day }}/{{ l.list_id }}/diff">diff</a>
{% if l.approval and l.approval.state == "approved" %}<span class="ok approved">approved by
{{ l.approval.by }}</span>{% endif %}</td>
{% endif %}</tr>{% endfor %}</tbody></table>
{% elif day and published %}<p id="empty">No list of your team for this date.</p>{% endif %}"""


REVIEW = """<h1>Review {{ item.list_id }} of {{ day }}</h1>
<p><a href="/lists?date={{ day }}">back to the lists</a></p>
<p id="state" class="{{ state_class }}">{{ state_text }}</p>
<table id="preview"><tbody>
<tr><th>rule</th><td>{{ item.rule_name }} ({{ item.rule_code }}), {{ item.channel }}</td></tr>
<tr><th>rows</th><td id="rows">{{ p.rows }}</td></tr>
<tr><th>yesterday</th><td id="yesterday">{% if p.yesterday is none %}no list yesterday{% else %}
{{ p.yesterday }} ({{ pct(p.change_vs_yesterday) }}){% endif %}</td></tr>
<tr><th>trailing average</th><td id="trailing">{% if p.trailing_average is none %}no history
{% else %}{{ "%.1f" | format(p.trailing_average) }} over {{ p.trailing_days }} dates
({{ pct(p.change_vs_average) }}){% endif %}</td></tr>
<tr><th>holdout</th><td id="holdout">{{ p.holdout_rows }} held out:
{{ "%.1f" | format(100 * p.holdout_share) }}% of the eligible (rule: {{ p.holdout_pct }}%)</td></tr>
<tr><th>suppressed</th><td id="suppressed">{% for reason, n in p.suppressed.items() %}
<span class="suppression">{{ reason }}: {{ n }}</span>{% if not loop.last %}, {% endif %}
{% else %}none{% endfor %}</td></tr>
</tbody></table>
<h2>Last 30 dates</h2>
<svg id="chart" role="img" aria-label="list size on the last dates" width="{{ chart.width }}"
 height="{{ chart.height + 16 }}" xmlns="http://www.w3.org/2000/svg">
{% for b in chart.bars %}<rect class="bar" data-date="{{ b.date }}" data-rows="{{ b.rows }}"
 x="{{ b.x }}" y="{{ b.y }}" width="{{ b.w }}" height="{{ b.h }}"
 fill="{{ '#c60' if b.today else '#789' }}"><title>{{ b.date }}: {{ b.rows }}</title></rect>
{% endfor %}<text x="0" y="{{ chart.height + 14 }}" font-size="11">{{ chart.first }}</text>
<text x="{{ chart.width }}" y="{{ chart.height + 14 }}" font-size="11" text-anchor="end">
{{ chart.last }}</text></svg>
{% if pending %}
<form method="post" action="/lists/{{ day }}/{{ item.list_id }}/decision" id="decide">
<input type="hidden" name="csrf" value="{{ csrf }}">
<label>Comment <textarea name="comment" id="comment" maxlength="500" rows="3"
 cols="60"></textarea></label><br>
<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="reject" id="reject">Reject</button>
</form>{% endif %}
{% if error %}<p class="bad" id="error">{{ error }}</p>{% endif %}"""


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
        return f"Approved by {a['by']} at {a['at']}" + (
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
        return HTMLResponse(_page(LOGIN))

    def login(self, request: Request, username: str = Form(""), password: str = Form("")):
        client = self.client(request)
        refused = HTMLResponse(_page(LOGIN, error="Unknown user or wrong password."), 401)
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
                _page(LOGIN, error="Too many failed sign-ins; try again later."), 429
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
                REVIEW,
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
