"""Daily campaign target lists: built from the contact policy's dispatched tasks, written
to a staging directory, gated, then made visible in one atomic step.

Layout under ``$KAIROS_HOME/publish``::

    lists/<date>            symlink -> versions/<date>.<seq>   (what readers see)
    current                 symlink -> lists/<latest date>
    versions/<date>.<seq>/  immutable: <list>.csv, <list>.parquet, <list>.holdout.parquet,
                            <list>.diff.csv, manifest.json
    _staging/<date>.<run>/  work in progress, never read by the portal
    _private/<date>.<seq>/  list row -> customer_id, for the list gate; never served
    _withheld/<date>.<seq>/ files of lists a list-level check withheld; never served
    _outcomes/<date>.json   what publishing did for the date (published, partial,
                            withheld, failed) and why: what the portal shows
    _reports/               one human-readable summary per run (success or failure)

Visibility changes only by renaming a new symlink over ``lists/<date>`` (atomic on
POSIX): a crash at any earlier point leaves yesterday's lists -- and an earlier version
of today's -- exactly as they were. A version's sequence number is new in ``versions``,
``_private`` and ``_withheld`` alike, so the leftovers of a crash between the renames
never block the next run; :func:`clean` removes them, staging folders of dead runs, and
every date beyond the retention (``KAIROS_PUBLISH_RETENTION`` business dates, 30 by
default; superseded versions of a kept date go too). Files holding personal data
(``_private``, ``_withheld``) are readable by their owner only (0600 in 0700 folders).
Republishing a date writes byte-identical list files (rows ordered by customer, no
timestamps in the files, keyed hash from configuration).

The rows come from the mart ``fct_target_list_members``; phone numbers are masked there
(``138****1234``) and never reach Python unmasked;
customers are identified by a keyed pseudonym (HMAC-SHA256 with a key from
``KAIROS_PSEUDONYM_KEY`` or ``$KAIROS_HOME/secrets/pseudonym.key``, never committed).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from kairos import locks
from kairos.config import Settings
from kairos.files import safe_name, write_json

log = logging.getLogger(__name__)

LIST_COLUMNS = [
    "list_id",
    "business_date",
    "customer_key",
    "msisdn_masked",
    "customer_tier",
    "segment",
    "rule_code",
    "rule_name",
    "warning_type",
    "priority",
    "evidence_value",
    "evidence_unit",
    "evidence_detail",
    "offer",
    "service_product_code",
    "script",
    "channel",
    "contact_window",
    "phone_manager_id",
    "task_date",
]
CSV_ENCODING = "utf-8-sig"  # UTF-8 with BOM: Excel opens the Chinese text correctly


def pseudonym_key(cfg: Settings) -> bytes:
    """The key of the customer pseudonym: ``KAIROS_PSEUDONYM_KEY``, else a key file made
    once (0600) under ``$KAIROS_HOME/secrets``. Changing it changes every customer_key."""
    return cfg.secret("KAIROS_PSEUDONYM_KEY", "pseudonym.key").encode()


def customer_key(key: bytes, customer_id: int) -> str:
    """Keyed pseudonym of a customer: stable across days, useless without the key."""
    return hmac.new(key, str(customer_id).encode(), hashlib.sha256).hexdigest()[:32]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# The list rows are the mart fct_target_list_members (dbt: tested, in the lineage and the
# docs); publishing only adds the keyed pseudonym and writes the files, list by list.
LIST_QUERY = """
select * from marts.fct_target_list_members
where business_date = $business_date
order by list_id, contact_group, customer_id
"""

SUPPRESSION_QUERY = """
select rule_code || '__' || channel as list_id, suppression_reason, count(*) as n
from marts.fct_key_moment_tasks
where business_date = $business_date and decision = 'suppressed'
group by all order by all
"""


@dataclass
class _ListWriter:
    """The open files of one list while its rows stream in."""

    list_id: str
    directory: Path
    business_date: dt.date
    meta: dict
    rows: int = 0
    holdout_rows: int = 0
    keys: list[str] = field(default_factory=list)
    managers: dict[str, int] = field(default_factory=dict)  # call rows per phone manager
    _csv_fh: object = None
    _csv: object = None
    _parquet: pq.ParquetWriter | None = None
    _holdout: pq.ParquetWriter | None = None
    _private: list[dict] = field(default_factory=list)

    def open(self) -> None:
        self._csv_fh = (self.directory / f"{self.list_id}.csv").open(
            "w", encoding=CSV_ENCODING, newline=""
        )
        self._csv = csv.writer(self._csv_fh, lineterminator="\r\n")
        self._csv.writerow(LIST_COLUMNS)

    def write(self, records: list[dict], holdout: bool) -> None:
        table = pa.Table.from_pylist(records, schema=LIST_SCHEMA)
        if holdout:
            if self._holdout is None:
                self._holdout = _parquet_writer(self.directory / f"{self.list_id}.holdout.parquet")
            self._holdout.write_table(table)
            self.holdout_rows += len(records)
            return
        if self._parquet is None:
            self._parquet = _parquet_writer(self.directory / f"{self.list_id}.parquet")
        self._parquet.write_table(table)
        for r in records:
            self._csv.writerow(["" if r[c] is None else r[c] for c in LIST_COLUMNS])
            self.keys.append(r["customer_key"])
            if r.get("phone_manager_id") is not None:
                pm = str(r["phone_manager_id"])
                self.managers[pm] = self.managers.get(pm, 0) + 1
        self.rows += len(records)

    def close(self) -> None:
        if self._parquet is None:  # a list of holdouts only: still publish an empty list
            self._parquet = _parquet_writer(self.directory / f"{self.list_id}.parquet")
        self._parquet.close()
        if self._holdout is None:
            self._holdout = _parquet_writer(self.directory / f"{self.list_id}.holdout.parquet")
        self._holdout.close()
        self._csv_fh.close()


LIST_SCHEMA = pa.schema(
    [
        ("list_id", pa.string()),
        ("business_date", pa.date32()),
        ("customer_key", pa.string()),
        ("msisdn_masked", pa.string()),
        ("customer_tier", pa.string()),
        ("segment", pa.string()),
        ("rule_code", pa.string()),
        ("rule_name", pa.string()),
        ("warning_type", pa.string()),
        ("priority", pa.int32()),
        ("evidence_value", pa.float64()),
        ("evidence_unit", pa.string()),
        ("evidence_detail", pa.string()),
        ("offer", pa.string()),
        ("service_product_code", pa.string()),
        ("script", pa.string()),
        ("channel", pa.string()),
        ("contact_window", pa.string()),
        ("phone_manager_id", pa.int64()),
        ("task_date", pa.date32()),
    ]
)


def _parquet_writer(path: Path) -> pq.ParquetWriter:
    # no statistics timestamps or creator strings vary between runs: same rows, same bytes
    return pq.ParquetWriter(path, LIST_SCHEMA, compression="zstd", write_statistics=True)


@dataclass
class BuiltLists:
    business_date: dt.date
    directory: Path
    manifest: dict


PRIVATE_SCHEMA = pa.schema(
    [
        ("list_id", pa.string()),
        ("customer_key", pa.string()),
        ("customer_id", pa.int64()),
        ("subscriber_id", pa.int64()),
        ("contact_group", pa.string()),
    ]
)


def _runs(reader):
    """(list_id, contact_group, rows) for each run of rows of one list and group, in the
    order of the query (a run may continue in the next batch: it is then two runs)."""
    for batch in reader:
        rows = batch.to_pylist()
        start = 0
        while start < len(rows):
            list_id, group = rows[start]["list_id"], rows[start]["contact_group"]
            end = start
            while (
                end < len(rows)
                and rows[end]["list_id"] == list_id
                and rows[end]["contact_group"] == group
            ):
                end += 1
            yield list_id, group, rows[start:end]
            start = end


def _list_meta(first: dict) -> dict:
    keys = ("rule_code", "rule_name", "warning_type", "channel", "owner_team", "holdout_pct")
    return {k: first[k] for k in keys}


def build_lists(
    cfg: Settings,
    business_date: dt.date,
    staging: Path,
    database: Path | None = None,
) -> BuiltLists:
    """Write every list of ``business_date`` into ``staging`` (created, must not exist)
    from a read-only connection, streaming the list mart; returns the manifest (also
    written there)."""
    key = pseudonym_key(cfg)
    staging.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir(mode=0o700)  # unchecked lists: nobody else may read them (see publish)
    private_dir = staging / "_private"
    private_dir.mkdir(mode=0o700)
    private_path = private_dir / "list_members.parquet"
    private_path.touch(mode=0o600)
    private = pq.ParquetWriter(private_path, PRIVATE_SCHEMA)
    con = duckdb.connect(str(database or cfg.warehouse), read_only=True)
    con.execute("set enable_progress_bar = false")  # no bar in task logs (warehouse.quiet)
    lists: dict[str, _ListWriter] = {}
    try:
        reader = con.sql(LIST_QUERY, params={"business_date": business_date}).to_arrow_reader(
            50_000
        )
        current: _ListWriter | None = None
        for list_id, group, rows in _runs(reader):
            if current is None or current.list_id != list_id:
                if current is not None:
                    current.close()
                current = _ListWriter(list_id, staging, business_date, _list_meta(rows[0]))
                current.open()
                lists[list_id] = current
            keys = [customer_key(key, r["customer_id"]) for r in rows]
            current.write(
                [
                    {**{c: r.get(c) for c in LIST_COLUMNS}, "customer_key": k}
                    for r, k in zip(rows, keys, strict=True)
                ],
                holdout=group == "holdout",
            )
            private.write_table(
                pa.Table.from_pydict(
                    {
                        "list_id": [list_id] * len(rows),
                        "customer_key": keys,
                        "customer_id": [r["customer_id"] for r in rows],
                        "subscriber_id": [r["subscriber_id"] for r in rows],
                        "contact_group": [group] * len(rows),
                    },
                    schema=PRIVATE_SCHEMA,
                )
            )
        if current is not None:
            current.close()
        suppressed: dict[str, dict[str, int]] = {}
        for list_id, reason, n in con.execute(
            SUPPRESSION_QUERY, {"business_date": business_date}
        ).fetchall():
            suppressed.setdefault(list_id, {})[reason] = n
    finally:
        con.close()
        private.close()
    previous = latest_published(cfg, before=business_date)
    manifest = {
        "business_date": business_date.isoformat(),
        "lists": [],
        "previous_business_date": previous[0].isoformat() if previous else None,
    }
    for list_id, w in sorted(lists.items()):
        diff = _write_diff(staging, list_id, w.keys, previous[1] if previous else None)
        files = {}
        for kind, name in (
            ("csv", f"{list_id}.csv"),
            ("parquet", f"{list_id}.parquet"),
            ("holdout_parquet", f"{list_id}.holdout.parquet"),
            ("diff_csv", f"{list_id}.diff.csv"),
        ):
            path = staging / name
            files[kind] = {"name": name, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
        eligible = w.rows + w.holdout_rows
        manifest["lists"].append(
            {
                "list_id": list_id,
                "status": "published",
                **w.meta,
                "rows": w.rows,
                "holdout_rows": w.holdout_rows,
                "holdout_share": round(w.holdout_rows / eligible, 4) if eligible else 0.0,
                "managers": dict(sorted(w.managers.items())),
                "suppressed": suppressed.get(list_id, {}),
                "diff": diff,
                "files": files,
            }
        )
    write_json(staging / "manifest.json", manifest)
    return BuiltLists(business_date, staging, manifest)


def _write_diff(staging: Path, list_id: str, keys: list[str], previous_dir: Path | None) -> dict:
    """``<list>.diff.csv``: customers added to and removed from the list since the
    previous published date."""
    old: set[str] = set()
    if previous_dir is not None and (previous_dir / f"{list_id}.parquet").exists():
        old = set(
            pq.read_table(previous_dir / f"{list_id}.parquet", columns=["customer_key"])
            .column("customer_key")
            .to_pylist()
        )
    new = set(keys)
    added, removed = sorted(new - old), sorted(old - new)
    with (staging / f"{list_id}.diff.csv").open("w", encoding=CSV_ENCODING, newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(["customer_key", "change"])
        w.writerows([k, "added"] for k in added)
        w.writerows([k, "removed"] for k in removed)
    return {"added": len(added), "removed": len(removed), "kept": len(new & old)}


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
    """Take the lists a list-level check refused out of the staged set: their files go to
    ``_withheld`` (kept for inspection, never served) and the manifest marks them withheld
    with the reasons; the other lists publish as usual."""
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
            os.chmod(staging / entry["name"], 0o600)
            os.replace(staging / entry["name"], aside / entry["name"])
        item["status"] = "withheld"
        item["withheld_reasons"] = reasons
    write_json(path, manifest)


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
