"""The publish store: versions, the ``lists/<date>`` symlinks readers follow, the
publishers' lock, retention and run reports (see :mod:`kairos.publish` for the layout)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from kairos import locks
from kairos.config import Settings
from kairos.files import safe_name, write_json

log = logging.getLogger(__name__)


def published_dates(cfg: Settings) -> list[dt.date]:
    root = cfg.publish_dir / "lists"
    if not root.exists():
        return []
    out = []
    for p in root.iterdir():
        try:
            out.append(dt.date.fromisoformat(p.name))
        except ValueError:
            continue
    return sorted(out)


def latest_published(cfg: Settings, before: dt.date | None = None):
    """(date, directory) of the latest published day (before ``before``), or None."""
    dates = [d for d in published_dates(cfg) if before is None or d < before]
    if not dates:
        return None
    d = dates[-1]
    return d, (cfg.publish_dir / "lists" / d.isoformat()).resolve()


def published_dir(cfg: Settings, day: dt.date) -> Path | None:
    path = cfg.publish_dir / "lists" / day.isoformat()
    return path.resolve() if path.exists() else None


def staging_dir(cfg: Settings, business_date: dt.date, run_id: str) -> Path:
    return cfg.publish_dir / "_staging" / f"{business_date.isoformat()}.{safe_name(run_id)}"


def withhold(staging: Path, withheld: dict[str, list[str]]) -> None:
    """Take the lists (and call sheets) a list-level check refused out of the staged set:
    their files go to ``_withheld`` (kept for inspection, never served) and the manifest
    marks them withheld with the reasons; the others publish as usual, but a call sheet
    holding calls of a withheld list is withheld with it (``settle_call_sheets``)."""
    if not withheld:
        return
    path = staging / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    aside = staging / "_withheld"
    aside.mkdir(mode=0o700, exist_ok=True)
    for item in manifest["lists"]:
        reasons = withheld.get(item["list_id"])
        if not reasons:
            continue
        for entry in item.pop("files", {}).values():
            _set_aside(staging, aside, entry["name"])
        item["status"] = "withheld"
        item["withheld_reasons"] = reasons
    for sheet in manifest.get("call_sheets", []):
        reasons = withheld.get(sheet["sheet_id"])
        if reasons:
            sheet["gate_reasons"] = reasons
    settle_call_sheets(manifest)
    for sheet in manifest.get("call_sheets", []):
        if sheet["status"] == "withheld":
            for entry in sheet.pop("files", {}).values():
                _set_aside(staging, aside, entry["name"])
    write_json(path, manifest)


def settle_call_sheets(manifest: dict) -> None:
    """Each call sheet's status from its own check and its lists': a sheet goes live with
    the lists whose calls are on it. Withheld when the gate refused the sheet or any list
    on it is withheld (its manager must not make those calls, and a sheet is called in
    order); pending approval while any list on it waits for its team; else published."""
    status = {item["list_id"]: item["status"] for item in manifest["lists"]}
    for sheet in manifest.get("call_sheets", []):
        refused = sheet.get("gate_reasons", [])
        withheld = sorted(x for x in sheet["lists"] if status.get(x, "withheld") == "withheld")
        pending = sorted(x for x in sheet["lists"] if status.get(x) == "pending_approval")
        if refused or withheld:
            sheet["status"] = "withheld"
            sheet["withheld_reasons"] = [*refused, *(f"list {x} is withheld" for x in withheld)]
        elif pending:
            sheet["status"] = "pending_approval"
            sheet["waiting_for"] = pending
        else:
            sheet["status"] = "published"
        if sheet["status"] != "pending_approval":
            sheet.pop("waiting_for", None)
        if sheet["status"] != "withheld":
            sheet.pop("withheld_reasons", None)


def _set_aside(staging: Path, aside: Path, name: str) -> None:
    target = aside / name
    target.parent.mkdir(mode=0o700, exist_ok=True)
    os.chmod(staging / name, 0o600)
    os.replace(staging / name, target)


def certify(staging: Path, certification: dict) -> None:
    """Record in the manifest what certified the lists (dbt run, GX results)."""
    path = staging / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["certified_by"] = certification
    write_json(path, manifest)


PRIVATE_ROOTS = ("_private", "_withheld")


def _next_version(root: Path, business_date: dt.date) -> str:
    """The date's next version name, unused in ``versions`` and the private folders
    alike (a crash between the renames below can leave a private folder behind)."""
    day = business_date.isoformat()
    used = [
        p.name.rsplit(".", 1)[1]
        for folder in ("versions", *PRIVATE_ROOTS)
        for p in (root / folder).glob(f"{day}.*")
    ]
    seq = 1 + max((int(x) for x in used if x.isdigit()), default=0)
    return f"{day}.{seq:03d}"


# how long a publisher waits for another one's publish step (renames and retention)
PUBLISH_LOCK_WAIT_S = 600.0


@contextlib.contextmanager
def publish_lock(cfg: Settings, purpose: str) -> Iterator[None]:
    """The data root's one publishing lock: version numbers, the ``lists`` and
    ``current`` links, retention and approval decisions all change under it, so two
    publishers (or a publisher and a team's decision) take turns. The second waits,
    saying for whom, up to ``PUBLISH_LOCK_WAIT_S``."""
    cfg.publish_dir.mkdir(parents=True, exist_ok=True)
    with locks.hold(
        cfg.publish_dir / ".publish.lock",
        purpose,
        wait_s=PUBLISH_LOCK_WAIT_S,
        advice="publish again once it has finished",
        name="the publishing lock",
    ):
        yield


def publish(cfg: Settings, staging: Path, business_date: dt.date) -> Path:
    """Make the staged lists the published lists of ``business_date``, atomically; then
    apply the retention (:func:`clean`). Under :func:`publish_lock`."""
    with publish_lock(cfg, f"{locks.process_name()} publishing {business_date}"):
        return _publish(cfg, staging, business_date)


def _publish(cfg: Settings, staging: Path, business_date: dt.date) -> Path:
    root = cfg.publish_dir
    versions = root / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    (root / "lists").mkdir(exist_ok=True)
    for folder in PRIVATE_ROOTS:
        (root / folder).mkdir(mode=0o700, exist_ok=True)
    name = _next_version(root, business_date)
    _fsync_tree(staging)
    os.replace(staging / "_private", root / "_private" / name)
    if (staging / "_withheld").exists():
        os.replace(staging / "_withheld", root / "_withheld" / name)
    target = versions / name
    os.chmod(staging, 0o755)  # private while staged; the certified lists are for readers
    os.replace(staging, target)  # same filesystem: a rename, never a copy
    _swap_symlink(root / "lists" / business_date.isoformat(), Path("..") / "versions" / name)
    latest = published_dates(cfg)[-1]
    _swap_symlink(root / "current", Path("lists") / latest.isoformat())
    log.info("published %s as %s", business_date, target.name)
    _clean(cfg, keep_staging=())
    return target


# a staging folder younger than this may belong to a run still going
STAGING_GRACE_S = 6 * 3600


def clean(cfg: Settings, keep_staging: tuple[Path, ...] = (), now: float | None = None) -> dict:
    """Apply the retention and remove what no reader can reach, under
    :func:`publish_lock` (so never a version another run is making current); returns
    what went:

    * dates beyond the newest ``cfg.publish_retention`` published dates: their link,
      versions and private folders (outcomes and reports, which hold no personal data,
      stay as the record);
    * versions of a kept date other than the one published, with their private folders;
    * private folders without a version (a crash between the renames of ``publish``);
    * staging folders older than ``STAGING_GRACE_S`` (runs that died), except
      ``keep_staging``.
    """
    with publish_lock(cfg, f"{locks.process_name()} applying the list retention"):
        return _clean(cfg, keep_staging, now)


def _clean(cfg: Settings, keep_staging: tuple[Path, ...] = (), now: float | None = None) -> dict:
    root = cfg.publish_dir
    removed: dict[str, list[str]] = {"dates": [], "versions": [], "orphans": [], "staging": []}
    dates = published_dates(cfg)
    keep = set(dates[-cfg.publish_retention :]) if cfg.publish_retention > 0 else set(dates)
    for day in dates:
        if day not in keep:
            (root / "lists" / day.isoformat()).unlink()
            removed["dates"].append(day.isoformat())
    current = {
        os.readlink(link).rsplit("/", 1)[-1]
        for link in (root / "lists").glob("*")
        if link.is_symlink()
    } if (root / "lists").exists() else set()  # fmt: skip
    for folder in ("versions", *PRIVATE_ROOTS):
        for path in sorted((root / folder).glob("*")) if (root / folder).exists() else []:
            if path.name in current:
                continue
            kind = "versions" if folder == "versions" else "orphans"
            if folder != "versions" and (root / "versions" / path.name).exists():
                kind = "versions"  # goes with its superseded version
            shutil.rmtree(path)
            removed[kind].append(f"{folder}/{path.name}")
    now = time.time() if now is None else now
    staging_root = root / "_staging"
    for path in sorted(staging_root.glob("*")) if staging_root.exists() else []:
        if path in keep_staging or now - path.stat().st_mtime < STAGING_GRACE_S:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed["staging"].append(path.name)
    if any(removed.values()):
        log.info("publish retention: %s", {k: len(v) for k, v in removed.items()})
    return removed


def _swap_symlink(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)  # rename(2) over the old link: readers see old or new, never none


def _fsync_tree(path: Path) -> None:
    for p in sorted(path.rglob("*")):
        if p.is_file():
            with p.open("rb") as fh:
                os.fsync(fh.fileno())


def discard(staging: Path) -> None:
    """Remove a staging directory that will not be published."""
    shutil.rmtree(staging, ignore_errors=True)


def write_report(cfg: Settings, business_date: dt.date, run_id: str, text: str) -> Path:
    """Keep a human-readable summary of a publishing run."""
    reports = cfg.publish_dir / "_reports"
    reports.mkdir(parents=True, exist_ok=True)
    path = reports / f"{business_date.isoformat()}-{safe_name(run_id)}.txt"
    path.write_text(text.rstrip() + "\n", encoding="utf-8")
    return path
