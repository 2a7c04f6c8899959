"""The portal's audit log (0600): sign-ins, sign-outs, downloads, decisions and every
refusal, one JSON line each, appended under the lock the retention trims it under."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from kairos.config import Settings
from kairos.portal.users import _locked


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
