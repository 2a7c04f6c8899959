"""Sign-in throttling: 5 failures for a user name within 15 minutes lock it, 30 from a
client lock that client, for the rest of the window. An attempt is counted before its
password is checked, in one step under the throttle's lock, so guesses sent at once are
counted one by one."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

from kairos.config import Settings
from kairos.files import write_json
from kairos.portal.users import _locked

THROTTLE_WINDOW_S = 15 * 60
MAX_USER_FAILURES = 5
MAX_CLIENT_FAILURES = 30


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
