"""The same dbt project on Spark (issue 14): local Spark from its own environment
(``make spark-setup``, dbt-spark's session method), its raw layer the Parquet lake the
ingest path writes, every mart equal to DuckDB's.

One delivery of two business dates is ingested once with ``KAIROS_LAKE`` set, then built
day by day on both engines: DuckDB through Kairos's own build, Spark through
``spark/build.py`` (seeds, lake sources, ``dbt build`` per date, every dbt test
included). The second date takes the incremental path on both: delete+insert on DuckDB,
insert_overwrite of the date's partition on Spark.

Marts are compared on what each engine wrote: DuckDB's tables, and the Parquet files
under Spark's warehouse directory, read back with DuckDB. Equal means the same columns,
the same number of rows and the same rows, where numbers agree to ``REL_TOL`` relative
or ``ABS_TOL`` absolute (the engines' floating-point sums may differ in the last bits;
anything rounded in SQL must agree exactly up to that).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import module_home

ROOT = Path(__file__).resolve().parents[1]
SPARK_PYTHON = ROOT / ".venv-spark" / "bin" / "python"
FIRST, DAYS, SUBSCRIBERS, SEED = dt.date(2026, 11, 1), 2, 2000, 3
DATES = [FIRST + dt.timedelta(days=i) for i in range(DAYS)]
REL_TOL, ABS_TOL = 1e-9, 1e-9
MARTS = sorted(p.stem for p in (ROOT / "dbt_project" / "models" / "marts").glob("*/*.sql"))


def spark_build(cfg, *args: str) -> subprocess.CompletedProcess:
    """Run the Spark build driver in its own environment; the output is kept in a log."""
    log = cfg.home / "spark-build.log"
    with log.open("a") as out:
        done = subprocess.run(
            [str(SPARK_PYTHON), str(ROOT / "spark" / "build.py"), *args],
            env={**os.environ, "KAIROS_HOME": str(cfg.home), "KAIROS_LAKE": str(cfg.lake)},
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=3600,
            check=False,
        )
    assert done.returncode == 0, "\n".join(log.read_text().splitlines()[-60:])
    return done


# the runs of build_warehouse_spark that built DATES, by date (the engines fixture)
SPARK_RUNS: dict = {}
# a lake partition the fixture deletes before the Spark DAG runs: its lake task restores it
LOST_PARTITION = ("crm_customers", FIRST)


def _spark_env(cfg, **more: str) -> dict[str, str]:
    return {
        "KAIROS_HOME": str(cfg.home),
        "KAIROS_LAKE": str(cfg.lake),
        "KAIROS_ENGINES": "duckdb,spark",
        **more,
    }


@pytest.fixture(scope="module")
def engines(tmp_path_factory, airflow_db):
    """Settings of the data root both engines built: DuckDB through Kairos's build, then
    Spark through the ``build_warehouse_spark`` DAG, date by date."""
    from kairos import airflow_local, warehouse
    from kairos.ingest import ingest_dates
    from kairos.ingest.lake import partition_path
    from kairos_sample import generate

    if not SPARK_PYTHON.exists():
        pytest.fail("no Spark environment: run `make spark-setup` (make test does)")
    lake = tmp_path_factory.mktemp("lake")
    mp, cfg = module_home(
        tmp_path_factory, "spark", KAIROS_LAKE=str(lake), KAIROS_ENGINES="duckdb,spark"
    )
    try:
        generate(cfg.landing, FIRST, DAYS, SUBSCRIBERS, SEED, progress=False)
        _, failures = ingest_dates(cfg, DATES[0], DATES[-1])
        assert failures == []
        for day in DATES:
            warehouse.build(cfg, day)  # raises on any failed model or test
        partition_path(cfg.lake, *LOST_PARTITION).unlink()
        airflow_local.ensure_metadata_db(cfg)  # and the Spark pool beside DuckDB's
        for day in DATES:
            run = airflow_local.run_dag(cfg, "build_warehouse_spark", day)
            SPARK_RUNS[day] = run
            assert run.ok, (run.task_states, (cfg.home / "spark" / "logs").exists())
    finally:
        mp.undo()
    return cfg


def spark_table(cfg, schema: str, name: str) -> Path:
    return cfg.home / "spark" / "warehouse" / f"{schema}.db" / name


def _normal(value):
    """A value as both engines' types compare: numbers as float, instants naive UTC."""
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _sort_key(row):
    return tuple(
        (v is None, round(v, 6) if isinstance(v, float) else v if v is not None else 0) for v in row
    )


def read_both(cfg, name: str) -> tuple[list[str], list, list[str], list]:
    """(columns, rows) of the mart on DuckDB and on Spark, rows normalised and sorted."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{cfg.warehouse}' as wh (read_only)")
        duck = con.execute(f"select * from wh.marts.{name}")
        duck_cols = [d[0] for d in duck.description]
        duck_rows = duck.fetchall()
        folder = spark_table(cfg, "marts", name)
        files = list(folder.rglob("*.parquet"))
        if files:
            spark = con.execute(
                "select * from read_parquet(?, hive_partitioning = true, union_by_name = true)",
                [str(folder / "**" / "*.parquet")],
            )
            spark_cols = [d[0] for d in spark.description]
            spark_rows = spark.fetchall()
        else:  # an empty table: Spark writes no data file
            spark_cols, spark_rows = duck_cols, []
    finally:
        con.close()
    order = [spark_cols.index(c) for c in duck_cols if c in spark_cols]
    spark_rows = [tuple(r[i] for i in order) for r in spark_rows]

    def norm(rows):
        return sorted((tuple(_normal(v) for v in r) for r in rows), key=_sort_key)

    return duck_cols, norm(duck_rows), [spark_cols[i] for i in order], norm(spark_rows)


def _equal(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a == b


def test_every_mart_is_built_on_both_engines(engines):
    """Spark built every mart model, and DuckDB holds the same set."""
    con = duckdb.connect(str(engines.warehouse), read_only=True)
    try:
        duck = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
    finally:
        con.close()
    spark = {p.name for p in spark_table(engines, "marts", "").iterdir() if p.is_dir()}
    assert set(MARTS) <= duck
    assert set(MARTS) <= spark, sorted(set(MARTS) - spark)


@pytest.mark.parametrize("mart", MARTS)
def test_mart_is_equal_on_both_engines(engines, mart):
    duck_cols, duck_rows, spark_cols, spark_rows = read_both(engines, mart)
    assert spark_cols == duck_cols, f"columns only on DuckDB: {set(duck_cols) - set(spark_cols)}"
    assert len(spark_rows) == len(duck_rows)
    for duck_row, spark_row in zip(duck_rows, spark_rows, strict=True):
        differ = {
            col: (d, s)
            for col, d, s in zip(duck_cols, duck_row, spark_row, strict=True)
            if not _equal(d, s)
        }
        assert not differ, f"{mart}: first differing row, (duckdb, spark) by column: {differ}"


def test_the_spark_dag_built_each_date_in_the_spark_pool(engines):
    """build_warehouse_spark built both dates, each recorded in the engine build ledger;
    its Spark task held the Spark pool, never DuckDB's writer; the lake partition lost
    before it ran was written again (and the marts above are equal with it)."""
    from airflow.models.pool import Pool

    from kairos.ingest.lake import partition_path
    from kairos.orchestration import engine_pool

    for day, run in SPARK_RUNS.items():
        assert run.task_states["spark_build"] == "success", (day, run.task_states)
    con = duckdb.connect(str(engines.warehouse), read_only=True)
    try:
        ledger = con.execute(
            "select business_date, status, dag_run_id from audit.engine_build_ledger"
            " where engine = 'spark' order by finished_at"
        ).fetchall()
    finally:
        con.close()
    assert ledger == [(day, "built", SPARK_RUNS[day].run_id) for day in DATES]
    assert partition_path(engines.lake, *LOST_PARTITION).exists()
    assert engine_pool("spark") != engine_pool("duckdb")
    assert Pool.get_pool(engine_pool("spark")).slots == 1
    assert Pool.get_pool(engine_pool("duckdb")).slots == 1


def test_a_failed_spark_build_fails_its_run_and_is_recorded(engines, monkeypatch):
    """The Spark driver failing (here: run with Kairos's own Python, which has no
    dbt-spark) fails the task and the run, says what failed in the ledger, and leaves the
    Spark plan with nothing pending: the date is not retried until its data changes."""
    import sys

    from kairos import airflow_local, pipeline
    from kairos.config import Settings

    for key, value in _spark_env(engines, KAIROS_SPARK_PYTHON=sys.executable).items():
        monkeypatch.setenv(key, value)
    cfg = Settings.from_env()
    run = airflow_local.run_dag(cfg, "build_warehouse_spark", DATES[-1])
    assert not run.ok
    assert run.task_states["spark_build"] == "failed"
    assert run.task_states["record_spark_build"] != "success"
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        status, message = con.execute(
            "select status, message from audit.engine_build_ledger"
            " where engine = 'spark' order by finished_at desc limit 1"
        ).fetchone()
    finally:
        con.close()
    assert status == "failed"
    assert message.startswith(f"spark_build: Spark build of {DATES[-1]} failed")
    assert "spark-build: failed" not in message and "dbt:" in message
    assert str(cfg.home) not in message
    plan = pipeline.plan_build(cfg, engine="spark")
    assert plan.dates == () and plan.last_built == DATES[-1]


def test_the_comparison_fails_on_a_changed_value(engines):
    """The comparison above can fail: one number moved past the tolerance is a difference."""
    _, rows, _, _ = read_both(engines, "fct_key_moment_warnings")
    assert rows, "no warnings to compare"
    number = next(i for i, v in enumerate(rows[0]) if isinstance(v, float))
    moved = rows[0][number] * (1 + 1e-6) + 1e-6
    assert not _equal(rows[0][number], moved)
    assert _equal(rows[0][number], rows[0][number] * (1 + 1e-12))


def test_a_rebuilt_day_whose_result_is_empty_leaves_no_old_rows(engines):
    """Spark's dynamic insert_overwrite replaces only the partitions the new rows fall in;
    the pre-hook clear_business_date_partition drops the date's partition first, so a day
    rebuilt to nothing is empty on Spark as on DuckDB. Runs last: it changes the lake."""
    model, day = "int_service_product_events_daily", DATES[-1]
    table = spark_table(engines, "intermediate", model)

    def rows_by_date():
        con = duckdb.connect()
        try:
            return dict(
                con.execute(
                    "select business_date, count(*) from read_parquet(?, hive_partitioning = true)"
                    " group by all",
                    [str(table / "**" / "*.parquet")],
                ).fetchall()
            )
        finally:
            con.close()

    before = rows_by_date()
    assert before.get(day, 0) > 0 and before.get(DATES[0], 0) > 0
    # the day's events re-delivered empty (the same file, no rows)
    from kairos.ingest.lake import partition_path

    events = partition_path(engines.lake, "boss_service_product_events", day)
    emptied = events.with_name(f".{events.name}.emptied")
    con = duckdb.connect()
    try:
        con.execute(
            f"copy (select * from read_parquet('{events}') limit 0) to '{emptied}' (format parquet)"
        )
    finally:
        con.close()
    os.replace(emptied, events)
    spark_build(engines, f"--date={day}", f"--select={model}")
    assert rows_by_date() == {DATES[0]: before[DATES[0]]}
