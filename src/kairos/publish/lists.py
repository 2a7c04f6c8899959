"""The day's list files: rows of ``marts.fct_target_list_members`` streamed into one
CSV, Parquet, holdout and diff per list in a staging folder, customers under a keyed
pseudonym, and one call sheet per phone manager (see :mod:`kairos.publish` for the layout
and the guarantees)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from kairos.config import Settings
from kairos.files import write_json
from kairos.publish.store import latest_published, settle_call_sheets

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


# A phone manager's call sheet: the calls they make that day, in call order -- the
# key-moment calls their queue gave them, then the planned calls -- from the same mart
# rows as the lists (a call is on its rule's list and on its manager's sheet).
SHEET_QUERY = """
select * from marts.fct_target_list_members
where business_date = $business_date and contact_group = 'target'
  and phone_manager_id is not null
order by phone_manager_id, call_order
"""
SHEET_COLUMNS = [
    "sheet_id",
    "phone_manager_id",
    "call_order",
    "list_id",
    "customer_key",
    "msisdn_masked",
    "customer_tier",
    "segment",
    "rule_code",
    "rule_name",
    "offer",
    "script",
    "evidence_detail",
    "contact_window",
    "task_date",
]
SHEET_SCHEMA = pa.schema(
    [
        ("sheet_id", pa.string()),
        ("phone_manager_id", pa.int64()),
        ("call_order", pa.int64()),
        *[(c, LIST_SCHEMA.field(c).type) for c in SHEET_COLUMNS[3:]],
    ]
)
SHEETS_DIR = "call_sheets"
SHEETS_FILE = "call_sheets.parquet"  # every sheet's rows: what the list gate checks


def sheet_id(phone_manager_id: int) -> str:
    return f"call_sheet__{phone_manager_id}"


def _write_call_sheets(con, business_date: dt.date, staging: Path, key: bytes) -> list[dict]:
    """One CSV per phone manager under ``call_sheets/`` and every row in one Parquet file
    (written even when empty, so the gate always has a file to read); returns the
    manifest's entries."""
    directory = staging / SHEETS_DIR
    directory.mkdir()
    everything = pq.ParquetWriter(
        directory / SHEETS_FILE, SHEET_SCHEMA, compression="zstd", write_statistics=True
    )
    sheets: dict[int, dict] = {}
    fh = writer = None
    try:
        reader = con.sql(SHEET_QUERY, params={"business_date": business_date}).to_arrow_reader(
            50_000
        )
        for batch in reader:
            rows = batch.to_pylist()
            records = []
            for r in rows:
                pm = r["phone_manager_id"]
                if pm not in sheets:
                    if fh is not None:
                        fh.close()
                    name = f"{pm}.csv"
                    fh = (directory / name).open("w", encoding=CSV_ENCODING, newline="")
                    writer = csv.writer(fh, lineterminator="\r\n")
                    writer.writerow(SHEET_COLUMNS[1:])
                    sheets[pm] = {"sheet_id": sheet_id(pm), "name": name, "rows": 0, "lists": {}}
                record = {
                    **{c: r.get(c) for c in SHEET_COLUMNS[1:]},
                    "sheet_id": sheet_id(pm),
                    "customer_key": customer_key(key, r["customer_id"]),
                }
                writer.writerow(["" if record[c] is None else record[c] for c in SHEET_COLUMNS[1:]])
                sheet = sheets[pm]
                sheet["rows"] += 1
                sheet["lists"][r["list_id"]] = sheet["lists"].get(r["list_id"], 0) + 1
                records.append(record)
            everything.write_table(pa.Table.from_pylist(records, schema=SHEET_SCHEMA))
    finally:
        if fh is not None:
            fh.close()
        everything.close()
    out = []
    for pm, sheet in sorted(sheets.items()):
        path = directory / sheet["name"]
        out.append(
            {
                "sheet_id": sheet["sheet_id"],
                "phone_manager_id": pm,
                "status": "published",
                "rows": sheet["rows"],
                "lists": dict(sorted(sheet["lists"].items())),
                "files": {
                    "csv": {
                        "name": f"{SHEETS_DIR}/{sheet['name']}",
                        "bytes": path.stat().st_size,
                        "sha256": sha256_file(path),
                    }
                },
            }
        )
    return out


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
        call_sheets = _write_call_sheets(con, business_date, staging, key)
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
    manifest["call_sheets"] = call_sheets
    path = staging / SHEETS_DIR / SHEETS_FILE
    manifest["call_sheets_file"] = {
        "name": f"{SHEETS_DIR}/{SHEETS_FILE}",
        "bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }
    settle_call_sheets(manifest)
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
