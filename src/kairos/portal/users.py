"""Portal users: ``$KAIROS_HOME/portal/users.json`` (0600), passwords as PBKDF2-SHA256
hashes, each user with a *session generation* that a sign-out, a password change,
disabling or removing the user redraws (which ends every live session of that user)."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from kairos import locks
from kairos.config import Settings
from kairos.files import write_json

PBKDF2_ITERATIONS = 200_000
MIN_PASSWORD = 12
MAX_USER = 64
MAX_PASSWORD = 1024


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
