"""The raw layer as Parquet, for an engine other than the embedded DuckDB (``--target
spark``).

When ``KAIROS_LAKE`` is set, sealing a system's delivery for a date also writes each of
its raw partitions to ``<lake>/raw/<table>/<business_date>.parquet``: one file per table
and date, holding the same rows and types as ``raw.<table>`` for that date, the
``business_date`` column included. The file is written beside its final name and renamed
over it, so a reader sees the old partition or the new one, never half of one; a date
re-delivered and sealed again replaces its file. A withdrawn seal does not delete the
file: the engine reading the lake builds only sealed dates, as the DuckDB build does.

Only what sealing has accepted reaches the lake: quarantined rows and refused files
never do. The files hold the same personal data as the warehouse (the phone number
among them) and are protected as it is.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import duckdb

from kairos import contract

log = logging.getLogger(__name__)


def partition_path(lake: Path, table: str, business_date: dt.date) -> Path:
    """Where one raw table's partition for a date lies in the lake."""
    return lake / "raw" / table / f"{business_date.isoformat()}.parquet"


def export_partitions(
    con: duckdb.DuckDBPyConnection, lake: Path, system: str, business_date: dt.date
) -> list[Path]:
    """Write the system's raw partitions for the date to the lake; return the files."""
    written = [_export(con, lake, e, business_date) for e in contract.for_system(system)]
    log.info("%s %s: %d raw partitions written to the lake", system, business_date, len(written))
    return written


def export_missing(
    con: duckdb.DuckDBPyConnection, lake: Path, business_date: dt.date
) -> list[Path]:
    """Write the date's raw partitions the lake lacks (a date sealed before the lake was
    set, or a file lost); return the files written. Call it for sealed dates only."""
    written = [
        _export(con, lake, e, business_date)
        for e in contract.extracts()
        if not partition_path(lake, _table(e), business_date).exists()
    ]
    if written:
        log.info("%s: %d raw partitions the lake lacked written", business_date, len(written))
    return written


def _table(extract: contract.Extract) -> str:
    return extract.raw_table.split(".")[1]


def _export(
    con: duckdb.DuckDBPyConnection, lake: Path, extract: contract.Extract, business_date: dt.date
) -> Path:
    final = partition_path(lake, _table(extract), business_date)
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(f".{final.name}.partial")
    con.execute(
        f"copy (select * from {extract.raw_table} where business_date = ?)"
        f" to '{_sql_path(partial)}' (format parquet, compression zstd)",
        [business_date],
    )
    os.replace(partial, final)
    return final


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
