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

from kairos.portal.audit import audit, audit_lock, audit_path
from kairos.portal.routes import (
    DOWNLOAD_KINDS,
    MAX_BODY,
    SESSION_COOKIE,
    SESSION_HOURS,
    BodyCap,
    _Portal,
    create_app,
)
from kairos.portal.throttle import (
    MAX_CLIENT_FAILURES,
    MAX_USER_FAILURES,
    THROTTLE_WINDOW_S,
    begin_sign_in,
    record_sign_in,
    throttle_path,
)
from kairos.portal.users import (
    MAX_PASSWORD,
    MAX_USER,
    MIN_PASSWORD,
    PBKDF2_ITERATIONS,
    add_user,
    check_password,
    end_sessions,
    hash_password,
    known_teams,
    load_users,
    remove_user,
    set_disabled,
    users_path,
)

__all__ = [
    "DOWNLOAD_KINDS",
    "MAX_BODY",
    "MAX_CLIENT_FAILURES",
    "MAX_PASSWORD",
    "MAX_USER",
    "MAX_USER_FAILURES",
    "MIN_PASSWORD",
    "PBKDF2_ITERATIONS",
    "SESSION_COOKIE",
    "SESSION_HOURS",
    "THROTTLE_WINDOW_S",
    "BodyCap",
    "_Portal",
    "add_user",
    "audit",
    "audit_lock",
    "audit_path",
    "begin_sign_in",
    "check_password",
    "create_app",
    "end_sessions",
    "hash_password",
    "known_teams",
    "load_users",
    "record_sign_in",
    "remove_user",
    "set_disabled",
    "throttle_path",
    "users_path",
]
