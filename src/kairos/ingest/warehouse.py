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
import fcntl
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from kairos import contract
from kairos.config import Settings
from kairos.contract import Extract

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


class WriterLockTimeout(TimeoutError):
    """Another writer held the warehouse for longer than we were willing to wait."""


@contextlib.contextmanager
def writer_lock(lock_path: Path, timeout_s: float) -> Iterator[None]:
    """Hold the exclusive warehouse writer lock, waiting up to ``timeout_s`` for it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as fh:
        deadline = time.monotonic() + timeout_s
        waited = False
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WriterLockTimeout(
                        f"waited {timeout_s:.0f}s for the warehouse writer lock {lock_path}"
                    ) from None
                if not waited:
                    log.info("waiting for the warehouse writer lock %s", lock_path)
                    waited = True
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def connect_writer(cfg: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to the warehouse, held under the writer lock."""
    cfg.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(cfg.writer_lock, cfg.writer_lock_timeout_s):
        config = {}
        if cfg.duckdb_memory_limit:  # e.g. "4GB"; DuckDB spills to disk beyond it
            config["memory_limit"] = cfg.duckdb_memory_limit
        con = duckdb.connect(str(cfg.warehouse), config=config)
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
    for extract in contract.extracts():
        con.execute(raw_table_ddl(extract))
