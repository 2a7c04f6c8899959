"""The warehouse side of ingestion: raw tables, the load ledger, the quarantine, and the
single-writer rule.

DuckDB lets one process write a database file at a time; a second writer fails at once
with a lock error. Every Kairos writer therefore takes an exclusive ``flock`` on a lock
file beside the database first and waits its turn: the three ingest DAGs, the CLI and
(later) the dbt build can be started together and simply queue. The Airflow pool
``kairos_duckdb_writer`` (one slot) keeps the scheduler from starting them together in
the first place; the lock is what holds when it does not (``dag.test()``, the CLI, a
second Airflow).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from kairos import contract, locks
from kairos.config import Settings
from kairos.contract import Extract
from kairos.locks import Busy

log = logging.getLogger(__name__)

WRITER_POOL = "kairos_duckdb_writer"

LEDGER_DDL = """
create table if not exists audit.load_ledger (
    load_id varchar not null primary key,
    system varchar not null,
    extract varchar not null,
    business_date date not null,
    file_name varchar not null,
    file_md5 varchar,
    file_bytes bigint,
    control_rows bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    status varchar not null,
    message varchar,
    dag_run_id varchar,
    started_at timestamp not null,
    finished_at timestamp not null
)
"""

QUARANTINE_DDL = """
create table if not exists audit.quarantine (
    system varchar not null,
    extract varchar not null,
    business_date date not null,
    file_name varchar not null,
    file_md5 varchar not null,
    line_number bigint not null,
    raw_line varchar,
    reason varchar not null
)
"""


BUILD_LEDGER_DDL = """
create table if not exists audit.build_ledger (
    business_date date not null,
    status varchar not null,
    dag_run_id varchar,
    message varchar,
    finished_at timestamp not null
)
"""


# The builds of the warehouse on an engine other than DuckDB (``KAIROS_ENGINES``), kept
# as audit.build_ledger keeps DuckDB's: the engine's build plan reads it.
ENGINE_BUILD_LEDGER_DDL = """
create table if not exists audit.engine_build_ledger (
    engine varchar not null,
    business_date date not null,
    status varchar not null,
    dag_run_id varchar,
    message varchar,
    finished_at timestamp not null
)
"""


# Every dbt command that writes models, recorded before dbt starts (so a killed build is
# recorded too): the dates whose partitions it may change (NULL: every date). The analysts'
# snapshot copies those dates' partitions (kairos.warehouse.snapshot).
DBT_INVOCATIONS_DDL = """
create table if not exists audit.dbt_invocations (
    invocation_id varchar primary key,
    command varchar not null,
    business_date date,
    full_refresh boolean not null,
    started_at timestamp not null
)
"""


# What the build's seed load and docs site were last made from (kairos.warehouse): a
# step is skipped while its inputs' digest is the one recorded here.
FINGERPRINT_DDL = """
create table if not exists audit.build_fingerprint (
    name varchar primary key,
    fingerprint varchar not null,
    recorded_at timestamp not null
)
"""


# A system's delivery for a date is *sealed* once every one of its extracts has a good
# load from the same ingest; a load that changes a partition withdraws the seal in its own
# transaction. A killed ingest therefore leaves the date unsealed -- possibly mixing new
# and old extracts -- and the build refuses it until an ingest of the system completes.
SEAL_DDL = """
create table if not exists audit.delivery_seal (
    system varchar not null,
    business_date date not null,
    sealed_at timestamp not null,
    primary key (system, business_date)
)
"""

# Warehouses from before seals: every (system, date) whose extracts all have a good load
# is taken as sealed when the table is made.
_SEAL_EXISTING = """
insert into audit.delivery_seal
select system, business_date, max(finished_at)
from audit.load_ledger
where status in ('loaded', 'replaced', 'unchanged')
group by system, business_date
having count(distinct extract) = (
    select count(*) from (values {extracts}) as c(system, extract)
    where c.system = load_ledger.system
)
"""


def withdraw_seal(con: duckdb.DuckDBPyConnection, system: str, business_date) -> None:
    """Mark the system's delivery for the date as in progress (inside the load's
    transaction)."""
    con.execute(
        "delete from audit.delivery_seal where system = ? and business_date = ?",
        [system, business_date],
    )


def seal_delivery(con: duckdb.DuckDBPyConnection, system: str, business_date) -> list[str]:
    """Seal the system's delivery for the date if the latest ledger row of each of its
    extracts is a good load; return the extracts that are not (nothing sealed then). An
    extract a later contract version added is wanted from its first good load on."""
    introduced = {
        name
        for (name,) in con.execute(
            "select distinct extract from audit.load_ledger"
            " where system = ? and business_date <= ? and status in ('loaded', 'replaced')",
            [system, business_date],
        ).fetchall()
    }
    wanted = [e.name for e in contract.for_system(system) if e.since == 1 or e.name in introduced]
    latest = dict(
        con.execute(
            """
            select extract, arg_max(status, finished_at)
            from audit.load_ledger
            where system = ? and business_date = ?
            group by extract
            """,
            [system, business_date],
        ).fetchall()
    )
    missing = [
        f"{system}.{x}" for x in wanted if latest.get(x) not in ("loaded", "replaced", "unchanged")
    ]
    if not missing:
        con.execute(
            "insert or ignore into audit.delivery_seal values (?, ?, now()::timestamp)",
            [system, business_date],
        )
    return missing


# the longest trailing window a list reads (30-day windows, month-to-date projections)
HISTORY_WINDOW_DAYS = 30
GAP_EFFECT = "its 7- and 30-day windows, month-to-date projections and cooldowns miss those dates"


def history_gaps(
    con: duckdb.DuckDBPyConnection, day: dt.date, window_days: int = HISTORY_WINDOW_DAYS
) -> list[dict]:
    """The dates in the ``window_days`` before ``day`` that the marts of ``day`` are built
    without: from the first built date on, each date whose latest build attempt failed,
    or that has no build at all (its delivery never completed). Oldest first, as
    ``{"date": ..., "status": "build failed" | "not built"}``."""
    rows = con.execute(
        """
        with attempts as (
            select business_date, arg_max(status, finished_at) as status
            from audit.build_ledger
            group by business_date
        ),
        first_built as (
            select min(business_date) as first from attempts where status = 'built'
        ),
        days as (
            select cast(unnest(generate_series(
                greatest(cast(? as date) - cast(? as integer), (select first from first_built)),
                cast(? as date) - 1,
                interval 1 day
            )) as date) as business_date
        )
        select d.business_date, coalesce(a.status, 'not built')
        from days as d
        left join attempts as a using (business_date)
        where coalesce(a.status, 'not built') <> 'built'
        order by 1
        """,
        [day, window_days, day],
    ).fetchall()
    return [
        {"date": d.isoformat(), "status": "build failed" if s == "failed" else "not built"}
        for d, s in rows
    ]


def describe_gaps(gaps: list[dict]) -> str:
    """Gaps as one line for a ledger, an alert or a report; empty when there are none."""
    if not gaps:
        return ""
    dates = ", ".join(f"{g['date']} ({g['status']})" for g in gaps)
    return f"built over a hole in its {HISTORY_WINDOW_DAYS}-day history: {dates}; {GAP_EFFECT}"


class WriterLockTimeout(Busy):
    """Another writer held the warehouse for longer than we were willing to wait."""


@contextlib.contextmanager
def writer_lock(lock_path: Path, timeout_s: float, purpose: str = "") -> Iterator[None]:
    """Hold the exclusive warehouse writer lock, waiting up to ``timeout_s`` for it
    (logging once which process holds it); WriterLockTimeout names that process."""
    what = purpose or locks.process_name()
    with locks.hold(
        lock_path,
        what,
        wait_s=timeout_s,
        advice="KAIROS_WRITER_LOCK_TIMEOUT sets how long a writer waits",
        error=WriterLockTimeout,
        name="the warehouse writer lock",
    ):
        yield


def quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """No progress bar on this connection: DuckDB draws one (carriage returns, no newline)
    on stdout for every query over two seconds, even into an Airflow task's log or a
    pipe, where it is noise and can leave a line unfinished."""
    con.execute("set enable_progress_bar = false")
    return con


def open_warehouse(cfg: Settings, deadline: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-write, waiting while another process -- not a Kairos
    writer, which takes the writer lock, but e.g. an analyst's DuckDB session on the live
    file -- holds DuckDB's own lock on it; raise WriterLockTimeout, saying what to do,
    once ``writer_lock_timeout_s`` has passed."""
    config = {}
    if cfg.duckdb_memory_limit:  # e.g. "4GB"; DuckDB spills to disk beyond it
        config["memory_limit"] = cfg.duckdb_memory_limit
    if deadline is None:
        deadline = time.monotonic() + cfg.writer_lock_timeout_s
    waited = False
    while True:
        try:
            con = duckdb.connect(str(cfg.warehouse), config=config)
            quiet(con)
            con.execute("set TimeZone = 'UTC'")  # current_timestamp::timestamp is UTC
            return con
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() > deadline:
                raise WriterLockTimeout(
                    f"the warehouse {cfg.warehouse.name} is held open by another process"
                    f" (an analyst's DuckDB session on the live file?); waited"
                    f" {cfg.writer_lock_timeout_s:.0f}s (KAIROS_WRITER_LOCK_TIMEOUT). Close"
                    " that session; analysts read the snapshot (kairos sql does by default)."
                ) from None
            if not waited:
                log.warning("the warehouse is held open by another process; waiting")
                waited = True
            time.sleep(0.5)


@contextlib.contextmanager
def connect_writer(cfg: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the warehouse, held under the writer lock."""
    cfg.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(cfg.writer_lock, cfg.writer_lock_timeout_s):
        con = open_warehouse(cfg)
        try:
            ensure_schema(con)
            yield con
        finally:
            con.close()


def raw_column_type(col: contract.Column) -> str:
    """The raw table's type: the contract's, codes kept as plain VARCHAR."""
    return col.type


def raw_table_ddl(extract: Extract) -> str:
    cols = ",\n    ".join(f"{c.name} {raw_column_type(c)}" for c in extract.columns)
    return (
        f"create table if not exists {extract.raw_table} (\n    {cols},\n"
        "    business_date date not null\n)"
    )


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw and audit schemas and every table the contract names (idempotent)."""
    con.execute("create schema if not exists raw")
    con.execute("create schema if not exists audit")
    con.execute(LEDGER_DDL)
    con.execute(QUARANTINE_DDL)
    con.execute(BUILD_LEDGER_DDL)
    con.execute(ENGINE_BUILD_LEDGER_DDL)
    con.execute(FINGERPRINT_DDL)
    con.execute(DBT_INVOCATIONS_DDL)
    if not con.execute(
        "select count(*) from information_schema.tables"
        " where table_schema = 'audit' and table_name = 'delivery_seal'"
    ).fetchall()[0][0]:
        con.execute(SEAL_DDL)
        pairs = ", ".join(f"('{e.system}', '{e.name}')" for e in contract.extracts())
        con.execute(_SEAL_EXISTING.format(extracts=pairs))
    for extract in contract.extracts():
        con.execute(raw_table_ddl(extract))
        migrate_raw_table(con, extract)


def migrate_raw_table(con: duckdb.DuckDBPyConnection, extract: Extract) -> list[str]:
    """Add the columns a later contract version brought to a raw table made before it
    (earlier rows hold NULL); returns the columns added. Loads insert by name, so the
    new column standing after ``business_date`` does not matter."""
    schema, table = extract.raw_table.split(".")
    have = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns"
            " where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }
    added = [c for c in extract.columns if c.name not in have]
    for c in added:
        con.execute(f"alter table {extract.raw_table} add column {c.name} {raw_column_type(c)}")
        log.info("%s: added column %s (contract version %s)", extract.raw_table, c.name, c.since)
    return [c.name for c in added]
