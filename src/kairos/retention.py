"""Nothing grows without bound: what the daily run keeps, and for how long.

Published lists have their own retention (``KAIROS_PUBLISH_RETENTION`` business dates,
:func:`kairos.publish.clean`). Everything else Kairos or Airflow writes each day is kept
for a number of days, by age, and removed by :func:`apply`, which the daily publishing
run calls after each publication:

* **working files**, ``KAIROS_WORK_RETENTION_DAYS`` (30): the gates' JSON results and
  Data Docs pages (``quality/``), Airflow's task logs (``$AIRFLOW_HOME/logs``);
* **audit records**, ``KAIROS_AUDIT_RETENTION_DAYS`` (400): publishing reports and
  outcomes (``publish/_reports``, ``publish/_outcomes``) and the portal's audit log,
  whose lines older than that are dropped. They are kept longer than working files on
  purpose: they answer "who downloaded what, and what was published, when" a year on.

dbt's own log rotates itself (10 MB, five files); the landing area is the source
systems' and is never touched.
"""

from __future__ import annotations

import calendar
import json
import logging
import os
import shutil
import time
from pathlib import Path

from kairos import locks
from kairos.config import Settings

log = logging.getLogger(__name__)

DAY_S = 86400


def _older(path: Path, cutoff: float) -> bool:
    try:
        return path.lstat().st_mtime < cutoff
    except FileNotFoundError:
        return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _prune(root: Path, cutoff: float, pattern: str) -> int:
    """Remove what ``pattern`` matches under ``root`` last changed before ``cutoff``; then
    the folders that emptied (never ``root`` itself)."""
    if not root.is_dir():
        return 0
    removed = 0
    for path in sorted(root.glob(pattern)):
        if _older(path, cutoff):
            _remove(path)
            removed += 1
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return removed


def trim_jsonl(path: Path, cutoff: float) -> int:
    """Drop the lines of an append-only JSON-lines log whose ``at`` is before
    ``cutoff``: under the writers' lock (``<path>.lock``, see :func:`kairos.portal.audit`,
    which opens the log inside it), the kept lines are written beside it and renamed over
    it, so no line is lost to the old file."""
    if not path.exists():
        return 0
    with locks.hold(path.with_name(path.name + ".lock"), "kairos retention", wait_s=None):
        kept, dropped = [], 0
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    at = json.loads(line).get("at", "")
                    stamp = calendar.timegm(time.strptime(at[:19], "%Y-%m-%dT%H:%M:%S"))
                except (ValueError, AttributeError):
                    stamp = None
                if stamp is not None and stamp < cutoff:
                    dropped += 1
                else:
                    kept.append(line)
        if dropped:
            tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.writelines(kept)
            tmp.replace(path)
    return dropped


def apply(cfg: Settings, now: float | None = None) -> dict[str, int]:
    """Remove what is past its retention; returns how much went, by kind."""
    now = time.time() if now is None else now
    work = now - cfg.work_retention_days * DAY_S
    audit = now - cfg.audit_retention_days * DAY_S
    removed = {
        "gate results": _prune(cfg.quality_dir, work, "[0-9]*-[0-9]*-[0-9]*/*.json"),
        "data docs pages": _prune(cfg.quality_dir / "data_docs", work, "validations/**/*.html"),
        "airflow task logs": _prune(cfg.airflow_home / "logs", work, "dag_id=*/run_id=*"),
        "publishing reports": _prune(cfg.publish_dir / "_reports", audit, "*.txt"),
        "publishing outcomes": _prune(cfg.publish_dir / "_outcomes", audit, "*.json"),
        "portal audit lines": trim_jsonl(cfg.portal_audit_log, audit),
    }
    if any(removed.values()):
        log.info("retention: %s", {k: v for k, v in removed.items() if v})
    return removed
