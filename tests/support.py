"""What several test modules share (fixtures are in conftest.py)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from kairos import contract
from kairos.control import ControlRecord, write_control

# the checkout under test: its dbt project, seeds, suites and DAGs
PROJECT = Path(__file__).resolve().parents[1]


def redeliver(cfg, key: str, data: bytes, day=None, rows: int | None = None) -> None:
    """Replace an extract's data file (of ``day``, by default conftest's DAY) and write a
    control file that matches it."""
    if day is None:
        from tests.conftest import DAY as day
    e = contract.get(key)
    path = e.data_path(cfg.landing, day)
    path.unlink(missing_ok=True)
    path.write_bytes(data)
    control = ControlRecord(
        path.name,
        day,
        data.count(b"\n") - 1 if rows is None else rows,
        len(data),
        hashlib.md5(data).hexdigest(),
    )
    write_control(e.control_path(cfg.landing, day), control)


def snapshot_differences(cfg) -> list[str]:
    """How the analysts' snapshot differs from the live warehouse: tables, views, rows
    (both ways, duplicates counted; the live rows with their identifying columns masked,
    as the snapshot holds them) and comments; empty when it is an exact copy."""
    import duckdb

    from kairos.warehouse.snapshot import rows_as_snapshot

    con = duckdb.connect(":memory:")
    try:
        con.execute(f"attach '{cfg.warehouse}' as live (read_only)")
        con.execute(f"attach '{cfg.snapshot}' as snap (read_only)")

        def catalog(db):
            return {
                "tables": con.execute(
                    "select schema_name, table_name, sql, comment from duckdb_tables()"
                    " where database_name = ? order by all",
                    [db],
                ).fetchall(),
                "views": con.execute(
                    "select schema_name, view_name, sql, comment from duckdb_views()"
                    " where database_name = ? and not internal order by all",
                    [db],
                ).fetchall(),
                "columns": con.execute(
                    "select schema_name, table_name, column_name, data_type, comment"
                    " from duckdb_columns() where database_name = ? order by all",
                    [db],
                ).fetchall(),
            }

        live, snap = catalog("live"), catalog("snap")
        out = [f"{k} differ" for k in live if live[k] != snap[k]]
        for schema, table, *_ in live["tables"]:
            rows = {
                "live": rows_as_snapshot(con, (schema, table), "live"),
                "snap": f'select * from snap."{schema}"."{table}"',
            }
            for a, b in (("live", "snap"), ("snap", "live")):
                extra = con.execute(
                    f"select count(*) from ({rows[a]} except all {rows[b]})"
                ).fetchone()[0]
                if extra:
                    out.append(f"{schema}.{table}: {extra} row(s) in {a} only")
        return out
    finally:
        con.close()


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# as the machine's probe starts it: no sandbox as root, and no background connections
# (refused by the closed network, many at a time)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# an 11-digit mainland mobile number, alone or inside text (not a run of digits inside a
# hexadecimal hash or key)
SUBSCRIBER_NUMBER = r"(^|[^0-9A-Za-z])1[3-9][0-9]{9}([^0-9A-Za-z]|$)"


def subscriber_numbers_in(path) -> list[str]:
    """Every table and column of the DuckDB file at ``path`` holding a value that reads as
    an 11-digit subscriber number (cast to text: a number stored as BIGINT counts too):
    ``schema.table.column (n rows)``."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns()"
            " where database_name = current_database() and not internal"
            " and data_type in ('VARCHAR', 'BIGINT', 'HUGEINT', 'UBIGINT', 'JSON')"
            " and (schema_name, table_name) in (select (schema_name, table_name)"
            "   from duckdb_tables() where database_name = current_database())"
        ).fetchall()
        found = []
        for schema, table, column in columns:
            n = con.execute(
                f'select count(*) from "{schema}"."{table}"'
                f' where regexp_matches(cast("{column}" as varchar), ?)',
                [SUBSCRIBER_NUMBER],
            ).fetchone()[0]
            if n:
                found.append(f"{schema}.{table}.{column} ({n} rows)")
        return found
    finally:
        con.close()
