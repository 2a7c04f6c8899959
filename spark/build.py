"""Build the Kairos dbt project on Spark (``make spark-build``), from ``.venv-spark``.

The raw layer is the Parquet lake that ingestion writes when ``KAIROS_LAKE`` is set; the
Spark warehouse and its metastore lie under ``$KAIROS_HOME/spark`` (profiles.yml, target
``spark``). In one process, so that one Spark session serves every step:

1. ``dbt build`` of the seeds -- the reference tables and their own tests;
2. ``dbt run-operation register_lake_sources`` -- one external table per raw source;
3. ``dbt build`` of everything else with ``business_date`` set, for each ``--date`` in
   order (without a date, one build of every date in the lake). Its tests are those of
   Kairos's layer builds together (``buildable``: a test reading a seed runs too).

    python spark/build.py --date 2026-11-01 --date 2026-11-02

Exits non-zero at the first step that fails, after a ``spark-build: failed <node>: <status>``
line per failed node (``kairos.spark`` reads them). Runs only dbt: it does not import Kairos,
whose environment (dbt-duckdb, Airflow) is not this one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

from dbt.cli.main import dbtRunner

ROOT = Path(__file__).resolve().parents[1]


def _dbt(runner: dbtRunner, home: Path, *args: str) -> None:
    started = time.monotonic()
    common = [
        "--project-dir",
        str(ROOT),
        "--profiles-dir",
        str(ROOT),
        "--target",
        "spark",
        "--target-path",
        str(home / "spark" / "target"),
    ]
    result = runner.invoke([*args, *common])
    took = time.monotonic() - started
    print(
        f"spark-build: dbt {' '.join(args)}: {'ok' if result.success else 'FAILED'}"
        f" in {took:.1f} s",
        flush=True,
    )
    if not result.success:
        for line in _failures(result):
            print(f"spark-build: failed {line}", flush=True)
        raise SystemExit(1)


def _failures(result) -> list[str]:
    """What failed, a line each: the node and its status (and dbt's message: a test's
    count of failing rows, never the rows), or the exception that stopped dbt."""
    if result.exception is not None:
        return [f"dbt: {type(result.exception).__name__}: {result.exception}"]
    lines = []
    for r in getattr(result.result, "results", None) or []:
        status = str(getattr(r, "status", "")).lower()
        if status in ("error", "fail", "runtimeerr"):
            node = getattr(getattr(r, "node", None), "unique_id", None) or "operation"
            message = " ".join(str(r.message or "").split())[:300]
            lines.append(f"{node}: {status} {message}".strip())
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--date",
        action="append",
        type=dt.date.fromisoformat,
        default=[],
        help="a business date to build (repeatable, built in order)",
    )
    parser.add_argument("--select", help="dbt selection of each build (default: all)")
    args = parser.parse_args(argv)
    if not os.environ.get("KAIROS_LAKE"):
        print(
            "spark-build: KAIROS_LAKE is not set (the folder ingestion writes the raw"
            " Parquet files to)",
            file=sys.stderr,
        )
        return 2
    os.environ["KAIROS_LAKE"] = str(Path(os.environ["KAIROS_LAKE"]).resolve())
    home = Path(os.environ.setdefault("KAIROS_HOME", str(ROOT / "var"))).resolve()
    os.environ["KAIROS_HOME"] = str(home)
    os.environ.setdefault("KAIROS_PROJECT_DIR", str(ROOT))
    os.environ.setdefault("DBT_LOG_PATH", str(home / "spark" / "logs"))
    runner = dbtRunner()
    _dbt(
        runner, home, "build", "--select", "resource_type:seed", "--indirect-selection", "cautious"
    )
    _dbt(runner, home, "run-operation", "register_lake_sources")
    selection = ["--select", args.select] if args.select else []
    build = ["build", "--exclude", "resource_type:seed", "--indirect-selection", "buildable"]
    build += selection
    # the date reaches the project's business_date() macro as Kairos's own builds pass it
    # (kairos.warehouse): in the environment, read only when a node runs, so each date's
    # build reuses the parse of the one before instead of parsing the project again
    os.environ.pop("KAIROS_BUSINESS_DATE", None)
    for day in sorted(args.date) or [None]:
        if day:
            os.environ["KAIROS_BUSINESS_DATE"] = day.isoformat()
        _dbt(runner, home, *build)
    return 0


if __name__ == "__main__":
    sys.exit(main())
