"""Load one delivered extract into ``raw.<system>_<extract>``, idempotently by date.

The steps, each of which can stop the load with a clear reason:

1. The control file must be there (else the file is *not delivered*, and the caller's
   sensor waits). Both files must be regular files inside the landing area (no symlink,
   device or FIFO, nothing reached through a symlinked folder), no larger than the size
   limit, and the business date must not be in the future; else the delivery is refused.
2. If the ledger already holds a good load of the same bytes (same MD5, size and count)
   for that date, the re-delivery is a no-op, recorded in the ledger as ``unchanged``.
3. A delivery much smaller than the last good one (a header-only re-delivery, a
   snapshot that lost most of its rows) is *held*: refused, with the old rows kept,
   unless the operator forces it.
4. The streaming scan checks byte size, MD5, row count and header against the control
   file and the contract; a mismatch refuses the whole file (ledger: ``refused``) and
   nothing of it is loaded.
5. In one transaction: the date's partition and its quarantine are deleted, DuckDB
   reads the file with the contract's types (rows it cannot read go to quarantine with
   DuckDB's line numbers), row rules DuckDB's types cannot express (ranges, patterns,
   empty required text, the business date, duplicate keys) move the rows that break
   them to quarantine too, and loaded + quarantined must equal the control count, or
   the transaction is rolled back. Then the ledger row is written and it commits. The
   same transaction withdraws the system's delivery seal for the date (see
   ``kairos.warehouse.store.seal_delivery``): the build refuses the date until the
   system's whole delivery is in.

Any other failure (DuckDB cannot read the file at all, the disk is full) is recorded as
``failed`` with a reason that quotes no data, and the load raises ``LoadFailed``.

Raw rows carry only the contract's columns and ``business_date`` -- nothing about the
load itself -- so that rerunning a date gives identical tables; the ledger holds the
rest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from kairos import contract
from kairos.contract import Column, Extract
from kairos.control import MAX_CONTROL_BYTES, ControlFileError, ControlRecord, parse_control
from kairos.dates import today, utc_now
from kairos.ingest.landed import LandedFile, LandingProblem, open_landed
from kairos.ingest.scan import DEFAULT_MAX_LINE_BYTES, ControlCheckError, ScanResult, is_utf8, scan
from kairos.warehouse.store import withdraw_seal

log = logging.getLogger(__name__)

GOOD_STATUSES = ("loaded", "replaced", "unchanged")


@dataclass(frozen=True)
class Limits:
    """What an untrusted delivery may be: its size, its lines, how far it may shrink."""

    max_file_bytes: int = 64 * 1024**3
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    # hold a delivery with fewer rows than this share of the last good one ...
    hold_below: float = 0.5
    # ... when the last good one had at least this many rows
    hold_min_rows: int = 10


class NotDelivered(FileNotFoundError):
    """The control file has not arrived yet: the extract is not delivered."""


class DeliveryRefused(Exception):
    """The file was refused whole; the ledger records why."""


class DeliveryHeld(DeliveryRefused):
    """The delivery is far smaller than the last good one: held, the old rows kept."""


class LoadFailed(Exception):
    """The load failed for a reason other than the delivery's content checks; the
    ledger records it as ``failed`` and nothing of the file was kept."""


class ReconciliationError(LoadFailed):
    """Loaded plus quarantined rows did not equal the control count; nothing was kept."""


def describe_error(exc: BaseException) -> str:
    """An exception as one line that quotes no data: its type and the first line of its
    message with quoted values masked (DuckDB's errors quote the offending line)."""

    first = (str(exc).strip().splitlines() or [""])[0]
    first = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", first)[:300]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


@dataclass(frozen=True)
class LoadResult:
    """The outcome of one extract load, as written to the ledger."""

    extract: str
    business_date: dt.date
    status: str
    file_name: str
    file_md5: str | None
    control_rows: int | None
    rows_loaded: int
    rows_quarantined: int
    message: str = ""

    def summary(self) -> str:
        return (
            f"{self.extract} {self.business_date}: {self.status}, {self.rows_loaded} loaded,"
            f" {self.rows_quarantined} quarantined"
            + (f" of {self.control_rows}" if self.control_rows is not None else "")
            + (f" ({self.message})" if self.message else "")
        )


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _scan_type(col: Column) -> str:
    """The type DuckDB parses a column as: code lists become ENUMs so bad codes reject."""
    if col.values:
        return "ENUM(" + ", ".join(_sql_str(v) for v in col.values) + ")"
    return col.type


def _read_csv(path: Path, columns: dict[str, str], force_not_null: list[str], rejects: str) -> str:
    cols = "{" + ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in columns.items()) + "}"
    fnn = "[" + ", ".join(_sql_str(c) for c in force_not_null) + "]"
    return (
        f"read_csv({_sql_str(str(path))}, delim='|', header=true, quote='', escape='',"
        f" auto_detect=false, columns={cols}, force_not_null={fnn}, store_rejects=true,"
        f" rejects_table={_sql_str(rejects)}, rejects_scan={_sql_str(rejects + '_scan')})"
    )


def row_checks(
    extract: Extract, business_date: dt.date, expr: Callable[[Column], str]
) -> list[tuple[str, str]]:
    """The row rules DuckDB's types do not enforce, as (predicate, reason) SQL pairs.

    ``expr`` maps a column to the SQL expression of its typed value, so the same rules
    run on the raw table and on the all-text rescan.
    """
    checks = []

    def reason(col: Column, value: str, text: str) -> str:
        return f"concat({_sql_str(col.name + ': ')}, cast({value} as varchar), {_sql_str(text)})"

    for c in extract.columns:
        e = expr(c)
        if c.is_text and not c.nullable and not c.values:
            checks.append((f"{e} = ''", _sql_str(f"{c.name}: required value is empty")))
        if c.min is not None:
            checks.append((f"{e} < {c.min}", reason(c, e, f" is below the minimum {c.min}")))
        if c.max is not None:
            checks.append((f"{e} > {c.max}", reason(c, e, f" is above the maximum {c.max}")))
        if c.pattern:
            checks.append(
                (
                    f"not regexp_full_match({e}, {_sql_str(c.pattern)})",
                    reason(c, e, f" does not match {c.pattern}"),
                )
            )
        if c.name == extract.business_date_column:
            checks.append(
                (
                    f"{e} <> DATE '{business_date}'",
                    reason(c, e, f" is not the business date {business_date}"),
                )
            )
    return checks


def _reason_sql(checks: list[tuple[str, str]], dup_pred: str) -> str:
    parts = [f"case when {p} then {r} end" for p, r in checks]
    parts.append(f"case when {dup_pred} then 'duplicate primary key' end")
    return "concat_ws('; ', " + ", ".join(parts) + ")"


def _last_good_load(
    con: duckdb.DuckDBPyConnection, extract: Extract, business_date: dt.date
) -> tuple[str, int, int, int, int] | None:
    rows = con.execute(
        """
        select file_md5, control_rows, rows_loaded, rows_quarantined, file_bytes
        from audit.load_ledger
        where system = ? and extract = ? and business_date = ? and status in ?
        order by finished_at desc
        limit 1
        """,
        [extract.system, extract.name, business_date, list(GOOD_STATUSES)],
    ).fetchall()
    return rows[0] if rows else None


# how far back a snapshot's baseline looks, in business dates
BASELINE_DAYS = 30
FORCED = "forced"


def _hold_baseline(
    con: duckdb.DuckDBPyConnection, extract: Extract, business_date: dt.date
) -> tuple[dt.date, int] | None:
    """What a delivery is held against: (date, rows) of the largest accepted delivery of
    the same date -- for a snapshot of stable size, of the ``BASELINE_DAYS`` dates up to
    it -- loaded since the last forced load in that scope. A held delivery is never
    accepted, and an accepted one that shrank cannot lower the largest, so re-deliveries
    that each shrink a little cannot walk the baseline down; only an operator's
    ``--force`` says a smaller size is right."""
    same_day_only = extract.kind != "snapshot" or extract.size_varies
    first = business_date - dt.timedelta(days=0 if same_day_only else BASELINE_DAYS)
    rows = con.execute(
        """
        with accepted as (
            select business_date, control_rows, finished_at,
                starts_with(coalesce(message, ''), ?) as forced
            from audit.load_ledger
            where system = ? and extract = ? and status in ('loaded', 'replaced')
                and business_date between ? and ?
        )
        select business_date, control_rows
        from accepted
        where finished_at >= coalesce(
            (select max(finished_at) from accepted where forced), '-infinity'::timestamp
        )
        order by control_rows desc, business_date desc
        limit 1
        """,
        [FORCED, extract.system, extract.name, first, business_date],
    ).fetchall()
    return rows[0] if rows else None


def _ledger(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    result: LoadResult,
    file_bytes: int | None,
    dag_run_id: str | None,
    started_at: dt.datetime,
) -> None:
    con.execute(
        "insert into audit.load_ledger values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            str(uuid.uuid4()),
            extract.system,
            extract.name,
            result.business_date,
            result.file_name,
            result.file_md5,
            file_bytes,
            result.control_rows,
            result.rows_loaded,
            result.rows_quarantined,
            result.status,
            result.message,
            dag_run_id,
            started_at,
            utc_now(),
        ],
    )


def load_extract(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    business_date: dt.date,
    landing: Path,
    work_dir: Path,
    dag_run_id: str | None = None,
    force: bool = False,
    limits: Limits = Limits(),
) -> LoadResult:
    """Load one extract of one business date; see the module docstring for the steps.

    Raises NotDelivered when the control file is missing, DeliveryRefused (DeliveryHeld)
    when the file is refused (held), LoadFailed when anything else stops it (counts that
    do not add up, a file DuckDB cannot read) -- each after recording it in the ledger,
    with nothing of the file kept. ``force`` reloads identical bytes and loads a
    delivery that would be held.
    """
    load = _Load(con, extract, business_date, landing, work_dir, dag_run_id, limits)
    load.force = force
    try:
        return load.run(force)
    except (NotDelivered, DeliveryRefused):
        raise
    except Exception as exc:
        _rollback(con)
        message = f"{extract.key} {load.data_path.name}: load failed: {describe_error(exc)}"
        if isinstance(exc, LoadFailed):
            message = str(exc)
        load.record("failed", message, None, None, None)
        log.error("%s", message)
        raise (exc if isinstance(exc, LoadFailed) else LoadFailed(message)) from None


class _Load:
    """One load of one extract and date: the steps of :func:`load_extract`."""

    def __init__(
        self,
        con,
        extract: Extract,
        business_date: dt.date,
        landing: Path,
        work_dir: Path,
        dag_run_id: str | None,
        limits: Limits,
    ):
        self.con, self.extract, self.business_date = con, extract, business_date
        self.work_dir, self.dag_run_id, self.limits = work_dir, dag_run_id, limits
        self.landing = landing
        self.data_path = extract.data_path(landing, business_date)
        self.ctl_path = extract.control_path(landing, business_date)
        self.started_at = utc_now()
        self.t0 = time.perf_counter()
        self.force = False

    def record(self, status: str, message: str, md5, rows, size) -> None:
        result = LoadResult(
            self.extract.key, self.business_date, status, self.data_path.name, md5, rows, 0, 0,
            message,
        )  # fmt: skip
        _ledger(self.con, self.extract, result, size, self.dag_run_id, self.started_at)

    def refuse(self, message: str, md5: str | None, rows: int | None, size: int | None):
        self.record("refused", message, md5, rows, size)
        log.error("%s", message)
        raise DeliveryRefused(message)

    def hold(self, message: str, control: ControlRecord):
        self.record("held", message, control.md5, control.row_count, control.byte_size)
        log.error("%s", message)
        raise DeliveryHeld(message)

    def open_untrusted(self, path: Path, control: ControlRecord | None = None) -> LandedFile:
        """``path`` opened once (see ``kairos.ingest.landed``), or the load refused."""
        key, name = self.extract.key, self.data_path.name
        try:
            return open_landed(path, self.landing)
        except FileNotFoundError:
            self.refuse(
                f"{key} {self.business_date}: control file present but data file {name} is missing",
                control and control.md5, control and control.row_count, None,
            )  # fmt: skip
        except LandingProblem as exc:
            self.refuse(f"{key} {name} refused: {exc}", None, None, None)
        except OSError:
            why = f"{path.name} cannot be read as a file"
            self.refuse(f"{key} {name} refused: {why}", None, None, None)

    def run(self, force: bool) -> LoadResult:
        if not self.ctl_path.exists() and not self.ctl_path.is_symlink():
            raise NotDelivered(
                f"{self.extract.key} {self.business_date}: control file {self.ctl_path}"
                " not delivered"
            )
        control = self.control()
        self.data = self.open_data(control)
        try:
            return self.load(control, force)
        finally:
            self.data.close()

    def load(self, control: ControlRecord, force: bool) -> LoadResult:
        previous = _last_good_load(self.con, self.extract, self.business_date)
        if (
            previous is not None
            and not force
            and (previous[0], previous[1], previous[4])
            == (control.md5, control.row_count, control.byte_size)
        ):
            unchanged = self.unchanged(control, previous)
            if unchanged is not None:
                return unchanged
        if not force:
            self.hold_if_shrunk(control)
        if is_utf8(self.extract.encoding):
            scanned, outcome = self.load_in_place(control)
        else:
            scanned, outcome = self.load_transcoded(control)
        return self.reconcile(control, scanned, outcome, replaced=previous is not None)

    def control(self) -> ControlRecord:
        """The control record, read from the control file opened once, checked against
        the date."""
        key, name = self.extract.key, self.data_path.name
        if self.business_date > today():
            self.refuse(
                f"{key} {name} refused: business date {self.business_date} is in the future"
                f" (today is {today()} in the operator's time zone)",
                None, None, None,
            )  # fmt: skip
        try:
            with self.open_untrusted(self.ctl_path) as ctl:
                control = parse_control(ctl.name, ctl.read(MAX_CONTROL_BYTES))
        except ControlFileError as exc:
            self.refuse(f"{key} {name} refused: {exc}", None, None, None)
        if control.byte_size > self.limits.max_file_bytes:
            self.refuse(
                f"{key} {name} refused: control says {control.byte_size} bytes, more than the"
                f" limit of {self.limits.max_file_bytes}",
                control.md5, control.row_count, control.byte_size,
            )  # fmt: skip
        if control.business_date != self.business_date:
            self.refuse(
                f"{key} {name} refused: control file is for"
                f" {control.business_date}, not {self.business_date}",
                control.md5,
                control.row_count,
                control.byte_size,
            )
        return control

    def open_data(self, control: ControlRecord) -> LandedFile:
        """The data file, opened once; its size must be the control file's before a
        byte of it is read."""
        key, name = self.extract.key, self.data_path.name
        data = self.open_untrusted(self.data_path, control)
        if data.size != control.byte_size:
            data.close()
            self.refuse(
                f"{key} {name} refused: {data.size} bytes, control says {control.byte_size};"
                " nothing read",
                control.md5, control.row_count, control.byte_size,
            )  # fmt: skip
        return data

    def hold_if_shrunk(self, control: ControlRecord) -> None:
        """Hold a delivery far smaller than its baseline (see ``_hold_baseline``), or one
        below the contract's floor on a date with no accepted history."""
        force_hint = (
            " Load it anyway with: kairos ingest --force"
            f" --date {self.business_date} --extract {self.extract.key}"
        )
        last = _hold_baseline(self.con, self.extract, self.business_date)
        if last is None:
            if control.row_count < self.extract.min_rows:
                self.hold(
                    f"{self.extract.key} {self.data_path.name} held: {control.row_count} rows,"
                    f" fewer than the contract's {self.extract.min_rows} for a date with no"
                    " accepted delivery to compare with." + force_hint,
                    control,
                )
            return
        day, rows = last
        if rows >= self.limits.hold_min_rows and control.row_count < rows * self.limits.hold_below:
            self.hold(
                f"{self.extract.key} {self.data_path.name} held: {control.row_count} rows against"
                f" {rows} in the largest accepted delivery ({day}); the loaded rows are kept."
                + force_hint,
                control,
            )

    def unchanged(self, control: ControlRecord, previous) -> LoadResult | None:
        """A re-delivery of the very bytes already loaded: recorded, nothing reloaded."""
        actual = self.data.md5(control.byte_size)
        if actual != control.md5 or self.data.changed():
            return None
        result = LoadResult(
            self.extract.key,
            self.business_date,
            "unchanged",
            self.data_path.name,
            actual,
            control.row_count,
            previous[2],
            previous[3],
            "identical re-delivery; nothing reloaded",
        )
        _ledger(self.con, self.extract, result, control.byte_size, self.dag_run_id, self.started_at)
        log.info("%s", result.summary())
        return result

    def load_in_place(self, control: ControlRecord):
        """No transcoding needed: DuckDB reads the delivered file itself while the control
        check (MD5, size, count, header) runs beside it in a thread; if the check fails,
        the load is rolled back and the file refused, so nothing of it is kept."""
        scanned = ScanResult(
            self.data.path, control.md5, control.byte_size, control.row_count, careful=False
        )
        with ThreadPoolExecutor(max_workers=1) as pool:
            check = pool.submit(self.scan, control, careful=False)
            try:
                outcome = self.partition(scanned)
            except duckdb.Error:
                outcome = None  # e.g. a CR DuckDB cannot parse: the careful pass copes
                _rollback(self.con)
            except Exception as exc:
                outcome = exc
            try:
                check.result()
            except ControlCheckError as exc:
                _rollback(self.con)
                self.refuse(str(exc), control.md5, control.row_count, control.byte_size)
        if isinstance(outcome, Exception):
            _rollback(self.con)
            raise outcome
        return scanned, outcome

    def load_transcoded(self, control: ControlRecord):
        """Transcode (and check) first, then load the UTF-8 work copy."""
        try:
            scanned = self.scan(control, careful=False)
        except ControlCheckError as exc:
            self.refuse(str(exc), control.md5, control.row_count, control.byte_size)
        try:
            return scanned, self.partition(scanned)
        except duckdb.Error:
            _rollback(self.con)
            return scanned, None  # the careful pass tries again
        except BaseException:
            _rollback(self.con)
            scanned.discard()
            raise

    def scan(self, control: ControlRecord, careful: bool) -> ScanResult:
        return scan(
            self.extract,
            self.data,
            control,
            self.work_dir,
            careful=careful,
            max_line_bytes=self.limits.max_line_bytes,
        )

    def partition(self, scanned: ScanResult) -> tuple[int, int, bool]:
        return _load_partition(self.con, self.extract, self.business_date, scanned, self.data_path)

    def reconcile(self, control: ControlRecord, scanned: ScanResult, outcome, replaced: bool):
        """Counts must add up to the control file's; then record and commit."""
        loaded, quarantined, bad_encoding = outcome or (0, -1, True)
        try:
            if bad_encoding or loaded + quarantined != control.row_count:
                # The fast pass neither looks for empty lines (DuckDB skips them silently)
                # nor decodes UTF-8 (DuckDB rejects bad bytes, but mangles the raw text).
                # Start again with the careful pass, which keeps both with their raw bytes.
                log.info("%s: empty or undecodable lines; reading carefully", self.extract.key)
                _rollback(self.con)
                scanned.discard()
                try:
                    scanned = self.scan(control, careful=True)
                except ControlCheckError as exc:
                    self.refuse(str(exc), control.md5, control.row_count, control.byte_size)
                loaded, quarantined, _ = self.partition(scanned)
            total = loaded + quarantined
            if total == control.row_count and loaded == 0 and quarantined > 0:
                kinds = _top_reason_kinds(self.con, self.extract, self.business_date)
                _rollback(self.con)
                self.refuse(
                    f"{self.extract.key} {self.data_path.name} refused: all {quarantined} rows"
                    f" break a rule ({kinds}); nothing kept and the date is not sealed."
                    " Ask for a corrected delivery",
                    control.md5, control.row_count, control.byte_size,
                )  # fmt: skip
            if total != control.row_count:
                raise ReconciliationError(
                    f"{self.extract.key} {self.data_path.name}: {loaded} loaded +"
                    f" {quarantined} quarantined = {total}, control says {control.row_count};"
                    " nothing kept"
                )
            if self.data.changed():
                _rollback(self.con)
                self.refuse(
                    f"{self.extract.key} {self.data_path.name} refused: the file was written to"
                    " while it was read; nothing kept. Deliver it again once it is complete",
                    control.md5, control.row_count, control.byte_size,
                )  # fmt: skip
            result = LoadResult(
                self.extract.key,
                self.business_date,
                "replaced" if replaced else "loaded",
                self.data_path.name,
                scanned.md5,
                control.row_count,
                loaded,
                quarantined,
                (f"{FORCED}; " if self.force else "") + f"{time.perf_counter() - self.t0:.1f}s",
            )
            _ledger(
                self.con,
                self.extract,
                result,
                scanned.byte_size,
                self.dag_run_id,
                self.started_at,
            )
            self.con.execute("commit")
        except BaseException:
            _rollback(self.con)
            raise
        finally:
            scanned.discard()
        log.info("%s", result.summary())
        return result


def reason_kind_sql(extract: Extract | None = None, reason: str = "reason") -> str:
    """SQL for what kind of rule a quarantine ``reason`` records, built only from the
    contract's column names and fixed phrases: never a character of the value that broke
    it (a reason like ``gender: "<script>" is not a valid code`` quotes the field). The
    first rule of a row that broke several is the one counted."""
    extracts = [extract] if extract is not None else contract.extracts()
    columns = sorted({c.name for e in extracts for c in e.columns})
    names = ", ".join(_sql_str(c) for c in columns)
    phrases = [
        ("is not a valid", "not a valid value"),
        ("is below the minimum", "below the minimum"),
        ("is above the maximum", "above the maximum"),
        ("does not match", "does not match its pattern"),
        ("is not the business date", "not the business date"),
        ("required value is empty", "required value is empty"),
    ]
    column = f"regexp_extract({reason}, '^([a-z_0-9]+): ', 1)"
    rule = " ".join(
        f"when contains({reason}, {_sql_str(p)}) then {_sql_str(label)}" for p, label in phrases
    )
    return f"""case
        when {column} in ({names}) then {column} || ': ' || case {rule} else 'other rule' end
        when regexp_full_match({reason}, 'expected [0-9]+ fields, found [0-9]+')
            then 'wrong number of fields'
        when starts_with({reason}, 'duplicate primary key') then 'duplicate primary key'
        when starts_with({reason}, 'empty line') then 'empty line'
        when starts_with({reason}, 'carriage return') then 'carriage return inside a line'
        when starts_with({reason}, 'bytes not valid') then 'bytes not valid in the encoding'
        else 'other'
    end"""


def _top_reason_kinds(con: duckdb.DuckDBPyConnection, extract: Extract, day: dt.date) -> str:
    rows = con.execute(
        f"select {reason_kind_sql(extract)} as kind, count(*) from audit.quarantine"
        " where system = ? and extract = ? and business_date = ?"
        " group by kind order by 2 desc, 1 limit 3",
        [extract.system, extract.name, day],
    ).fetchall()
    return ", ".join(f"{kind}: {n}" for kind, n in rows)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if there is one."""
    with contextlib.suppress(duckdb.TransactionException):
        con.execute("rollback")


def _load_partition(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    business_date: dt.date,
    scanned: ScanResult,
    data_path: Path,
) -> tuple[int, int, bool]:
    """Replace the date's partition inside a transaction left open for the caller.

    Returns rows loaded, rows quarantined, and whether DuckDB found bytes that are not
    valid UTF-8 (the caller then retries with the careful scan).
    """
    raw = extract.raw_table
    tag = uuid.uuid4().hex[:12]
    rej = f"kairos_rej_{tag}"
    con.execute("set preserve_insertion_order = true")
    con.execute("begin")
    withdraw_seal(con, extract.system, business_date)
    con.execute(f"delete from {raw} where business_date = ?", [business_date])
    con.execute(
        "delete from audit.quarantine where system = ? and extract = ? and business_date = ?",
        [extract.system, extract.name, business_date],
    )
    required = [c.name for c in extract.columns if not c.nullable]
    typed = {c.name: _scan_type(c) for c in extract.columns}
    select = ", ".join(
        f"cast({c.name} as {c.type})" if c.values else c.name for c in extract.columns
    )
    con.execute(
        f"insert into {raw} ({', '.join(extract.column_names)}, business_date)"
        f" select {select}, DATE '{business_date}'"
        f" from {_read_csv(scanned.load_path, typed, required, rej)}"
    )
    meta = [extract.system, extract.name, business_date, data_path.name, scanned.md5]
    bad_encoding = (
        con.execute(f"select count(*) from {rej} where error_type = 'INVALID ENCODING'").fetchall()[
            0
        ][0]
        > 0
    )
    _quarantine_rejects(con, extract, rej, scanned, meta)

    checks = row_checks(extract, business_date, lambda c: c.name)
    pk = ", ".join(extract.primary_key)
    rules = " or ".join(p for p, _ in checks) or "false"
    # One pass for the row rules and a cheap key screen: distinct 64-bit hashes of the key
    # fewer than rows means a duplicate (or, vanishingly rarely, a hash collision, which
    # the exact grouping below then clears).
    n_rule_breakers, n_hash_dups = con.execute(
        f"select count(*) filter (where {rules}), count(*) - count(distinct hash({pk}))"
        f" from {raw} where business_date = ?",
        [business_date],
    ).fetchall()[0]
    con.execute(f"create or replace temp table kairos_dups as select {pk} from {raw} where false")
    if n_hash_dups:
        con.execute(
            f"insert into kairos_dups select {pk} from {raw}"
            f" where business_date = ? group by {pk} having count(*) > 1",
            [business_date],
        )
    dup_pred = (
        "exists (select 1 from kairos_dups d where "
        + " and ".join(f"d.{k} = t.{k}" for k in extract.primary_key)
        + ")"
    )
    bad_pred = " or ".join([p for p, _ in checks] + [dup_pred])
    n_bad = 0
    if n_rule_breakers or n_hash_dups:
        n_bad = con.execute(
            f"select count(*) from {raw} t where business_date = ? and ({bad_pred})",
            [business_date],
        ).fetchall()[0][0]
    if n_bad:
        _quarantine_rule_breakers(
            con, extract, business_date, scanned, meta, rej, checks, bad_pred, n_bad
        )
    for t in (rej, rej + "_scan", "kairos_dups"):
        con.execute(f"drop table if exists {t}")
    loaded = con.execute(
        f"select count(*) from {raw} where business_date = ?", [business_date]
    ).fetchall()[0][0]
    quarantined = con.execute(
        "select count(*) from audit.quarantine"
        " where system = ? and extract = ? and business_date = ?",
        meta[:3],
    ).fetchall()[0][0]
    return loaded, quarantined, bad_encoding


def _quarantine_rejects(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    rej: str,
    scanned: ScanResult,
    meta: list,
) -> None:
    """Quarantine the lines DuckDB could not read, one row per line, with a reason."""
    kinds = {
        c.name: ("code (one of " + "/".join(c.values) + ")" if c.values else c.type)
        for c in extract.columns
    }
    kind_values = ", ".join(f"({_sql_str(k)}, {_sql_str(v)})" for k, v in kinds.items())
    bad = pa.table(
        {
            "line": pa.array([b.line_number for b in scanned.bad_lines], pa.int64()),
            "raw_text": pa.array([b.raw_text for b in scanned.bad_lines], pa.string()),
            "reason": pa.array([b.reason for b in scanned.bad_lines], pa.string()),
        }
    )
    con.register("kairos_scan_bad", bad)
    try:
        con.execute(
            f"""
            insert into audit.quarantine
            with kinds(column_name, kind) as (values {kind_values}),
            errors as (
                select
                    e.line,
                    e.column_idx,
                    e.csv_line,
                    e.error_type in ('MISSING COLUMNS', 'TOO MANY COLUMNS') as is_shape,
                    case
                        when e.error_type = 'CAST'
                            and split_part(e.csv_line, '|', e.column_idx::int) = ''
                            then e.column_name || ': required value is empty'
                        when e.error_type = 'CAST'
                            then format('{{}}: "{{}}" is not a valid {{}}', e.column_name,
                                split_part(e.csv_line, '|', e.column_idx::int), k.kind)
                        when e.error_type in ('MISSING COLUMNS', 'TOO MANY COLUMNS')
                            then format('expected {len(extract.columns)} fields, found {{}}',
                                len(string_split(e.csv_line, '|')))
                        else e.error_type || ': ' || e.error_message
                    end as reason
                from {rej} as e
                left join kinds as k on k.column_name = e.column_name
            ),
            per_line as (
                select
                    line,
                    any_value(csv_line) as csv_line,
                    case
                        when bool_or(is_shape) then min(reason) filter (where is_shape)
                        else string_agg(reason, '; ' order by column_idx)
                    end as reason
                from errors
                group by line
            )
            select ?, ?, ?, ?, ?, p.line,
                coalesce(b.raw_text, p.csv_line), coalesce(b.reason, p.reason)
            from per_line as p
            left join kairos_scan_bad as b on b.line = p.line
            """,
            meta,
        )
        missing = con.execute(
            f"select count(*) from kairos_scan_bad where line not in (select line from {rej})"
        ).fetchall()[0][0]
    finally:
        con.unregister("kairos_scan_bad")
    if missing:
        raise ReconciliationError(
            f"{extract.key}: {missing} unusable line(s) found by the scan were not rejected"
            " by DuckDB; refusing to guess"
        )


def _quarantine_rule_breakers(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    business_date: dt.date,
    scanned: ScanResult,
    meta: list,
    rej: str,
    checks: list[tuple[str, str]],
    bad_pred: str,
    n_bad: int,
) -> None:
    """Move loaded rows that break a row rule to quarantine, with their line numbers.

    Only runs when there are such rows. DuckDB does not report line numbers of rows it
    accepted, so the file is read again as text, numbered in file order (insertion order
    is preserved), and the row numbers are mapped back to physical lines by skipping the
    lines that the text read itself rejected.
    """
    raw = extract.raw_table
    rrej = rej + "_text"
    text_cols = {c.name: "VARCHAR" for c in extract.columns}
    con.execute(
        "create or replace temp table kairos_text as select row_number() over () as rn, *"
        f" from {_read_csv(scanned.load_path, text_cols, list(text_cols), rrej)}"
    )
    # Physical line of text row rn = rn + 1 (header) + number of skipped lines before it.
    con.execute(
        f"""
        create or replace temp table kairos_text_lines as
        with skipped as (
            select line, row_number() over (order by line) as j
            from (select distinct line from {rrej})
        ),
        steps as (
            select line - 2 - (j - 1) as accepted_before, max(j) as j
            from skipped group by all
        )
        select t.rn, t.rn + 1 + coalesce(s.j, 0) as line
        from kairos_text as t
        asof left join steps as s on t.rn > s.accepted_before
        """
    )

    def typed(c: Column) -> str:
        if c.is_text:
            return c.name if not c.nullable else f"nullif({c.name}, '')"
        return f"try_cast(nullif({c.name}, '') as {c.type})"

    text_checks = row_checks(extract, business_date, lambda c: f"v.{c.name}")
    projection = ", ".join(
        f"{typed(c).replace(c.name, 't.' + c.name, 1)} as {c.name}" for c in extract.columns
    )
    raw_line = "array_to_string([" + ", ".join(f"t.{c}" for c in text_cols) + "], '|')"
    dup_pred = (
        "exists (select 1 from kairos_dups d where "
        + " and ".join(f"d.{k} = v.{k}" for k in extract.primary_key)
        + ")"
    )
    con.execute(
        f"""
        create or replace temp table kairos_breakers as
        with v as (
            select t.rn, {raw_line} as raw_line, {projection}
            from kairos_text as t
        )
        select l.line, v.raw_line, {_reason_sql(text_checks, dup_pred)} as reason
        from v
        join kairos_text_lines as l on l.rn = v.rn
        where l.line not in (select line from {rej})
        """
    )
    con.execute("delete from kairos_breakers where reason = ''")
    n_found = con.execute("select count(*) from kairos_breakers").fetchall()[0][0]
    if n_found != n_bad:
        raise ReconciliationError(
            f"{extract.key}: {n_bad} loaded rows break a row rule but {n_found} lines were"
            " found for them on re-reading the file; refusing to guess"
        )
    con.execute(
        "insert into audit.quarantine select ?, ?, ?, ?, ?, line, raw_line, reason"
        " from kairos_breakers",
        meta,
    )
    con.execute(f"delete from {raw} t where business_date = ? and ({bad_pred})", [business_date])
    for t in ("kairos_text", "kairos_text_lines", "kairos_breakers", rrej, rrej + "_scan"):
        con.execute(f"drop table if exists {t}")
