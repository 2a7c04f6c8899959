"""The ingest DAGs, parsed and run for real by Airflow (dag.test())."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kairos import contract
from kairos.warehouse.store import WRITER_POOL
from kairos_sample import generate
from tests.conftest import DAY
from tests.support import PROJECT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT / "dags"))


def _acyclic(dag) -> bool:
    indegree = {t: len(dag.task_dict[t].upstream_task_ids) for t in dag.task_dict}
    ready = [t for t, d in indegree.items() if d == 0]
    seen = 0
    while ready:
        t = ready.pop()
        seen += 1
        for d in dag.task_dict[t].downstream_task_ids:
            indegree[d] -= 1
            if indegree[d] == 0:
                ready.append(d)
    return seen == len(dag.task_dict)


def test_every_dag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"ingest_boss", "ingest_crm", "ingest_bi"} <= set(dagbag.dag_ids)


@pytest.mark.parametrize("system", ["boss", "crm", "bi"])
def test_ingest_dag_shape(dagbag, system):
    dag = dagbag.get_dag(f"ingest_{system}")
    assert _acyclic(dag)
    assert dag.catchup is False
    assert dag.doc_md and f"ingest_{system}" in dag.doc_md
    # one task waits for the system's delivery and loads it (not a sensor and a load
    # task, nor a sensor and a load per extract, each paying a task's start-up)
    assert set(dag.task_dict) == {"load", "missing_deliveries", "run_outcome"}
    load = dag.task_dict["load"]
    assert load.extract_keys == [e.key for e in contract.for_system(system)]
    assert load.pool == WRITER_POOL
    assert dag.task_dict["missing_deliveries"].upstream_task_ids == {"load"}
    assert dag.task_dict["missing_deliveries"].trigger_rule == "all_done"
    assert [a.uri for a in load.outlets] == [f"kairos://warehouse/raw/{system}"]


def test_ingest_dag_run_loads_the_day_and_emits_its_asset(cfg, airflow_db, deliver, read_warehouse):
    from kairos.airflow_local import asset_events, run_dag

    manifest = deliver(subscribers=1500)
    before = dt.datetime.now(dt.UTC)
    result = run_dag(cfg, "ingest_crm", DAY)
    assert result.ok, result.task_states
    # started when it started, not at its logical date: Airflow's duration charts are true
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.run_id == result.run_id).one()
        assert before <= run.start_date <= run.end_date
        assert run.end_date - run.start_date < dt.timedelta(minutes=10)
    files = manifest["files"]["20261121"]
    for e in contract.for_system("crm"):
        assert read_warehouse(f"select count(*) from {e.raw_table}")[0][0] == files[e.key]["rows"]
    ledger = read_warehouse("select distinct dag_run_id from audit.load_ledger")
    assert ledger == [(result.run_id,)]
    (event,) = asset_events("ingest_crm", result.run_id)
    assert event["uri"] == "kairos://warehouse/raw/crm"
    assert event["extra"]["business_date"] == "2026-11-21"
    assert event["extra"]["rows_loaded"] == sum(
        files[e.key]["rows"] for e in contract.for_system("crm")
    )


def test_a_refused_file_fails_the_run_and_emits_no_asset(cfg, airflow_db, deliver, read_warehouse):
    from kairos.airflow_local import asset_events, run_dag

    deliver(subscribers=800, faults=["wrong-count:bi.customer_tags"])
    result = run_dag(cfg, "ingest_bi", DAY)
    assert result.state == "failed"
    assert result.task_states["load"] == "failed"
    assert asset_events("ingest_bi", result.run_id) == []
    # the refused file did not stop the system's other extracts: each has its ledger row
    ledger = dict(read_warehouse("select extract, status from audit.load_ledger"))
    assert ledger.pop("customer_tags") == "refused"
    assert set(ledger) == {e.name for e in contract.for_system("bi")} - {"customer_tags"}
    assert set(ledger.values()) <= {"loaded", "replaced"}


def test_a_retry_of_the_load_reloads_only_what_failed(cfg, airflow_db, deliver, read_warehouse):
    """The operator fixes the refused file and runs the system's load again: the good
    extracts are not loaded again (identical bytes), the fixed one is, and the day is
    complete with its Asset."""
    from kairos.airflow_local import asset_events, run_dag

    manifest = deliver(subscribers=800, faults=["wrong-count:bi.customer_tags"])
    assert run_dag(cfg, "ingest_bi", DAY).state == "failed"
    deliver(subscribers=800)  # the same day delivered again, right this time
    result = run_dag(cfg, "ingest_bi", DAY)
    assert result.ok, result.task_states
    statuses = read_warehouse(
        "select extract, status from audit.load_ledger where dag_run_id = ? order by extract",
        [result.run_id],
    )
    tags = [s for e, s in statuses if e == "customer_tags"]
    others = {s for e, s in statuses if e != "customer_tags"}
    assert tags == ["loaded"] and others == {"unchanged"}, statuses
    assert asset_events("ingest_bi", result.run_id)
    assert (
        manifest["files"]["20261121"]["bi.customer_tags"]["rows"]
        == read_warehouse("select count(*) from raw.bi_customer_tags")[0][0]
    )


def test_a_late_file_times_the_sensor_out_softly_with_an_alert(
    cfg, airflow_db, deliver, monkeypatch, tmp_path, read_warehouse
):
    """A delivery that misses its deadline skips its load and the day's Asset (the run
    ends instead of blocking the runs behind it), and the alert hook hears of it."""
    from kairos.airflow_local import asset_events, run_dag

    alerts = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("KAIROS_ALERT_HOOK", "tests.harness.alert_sink:record")
    monkeypatch.setenv("KAIROS_TEST_ALERTS", str(alerts))
    monkeypatch.setenv("KAIROS_SENSOR_POKE_S", "1")
    monkeypatch.setenv("KAIROS_SENSOR_TIMEOUT_S", "3")
    deliver(subscribers=500, faults=["late:boss.payments", "late:boss.daily_balances"])
    result = run_dag(cfg, "ingest_boss", DAY)
    assert result.state != "running"
    # past the deadline the delivered extracts are loaded; the day is not complete, so
    # the load ends skipped, without the Asset
    assert result.task_states["load"] == "skipped"
    assert read_warehouse(
        "select count(*) from audit.load_ledger where extract = 'daily_usage'"
    ) == [(1,)]
    assert result.task_states["missing_deliveries"] == "success"
    assert asset_events("ingest_boss", result.run_id) == []
    # one alert for the system and run, naming both, not one per extract
    (alert,) = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert alert["info"]["event"] == "not delivered"
    assert sorted(alert["info"]["extracts"]) == ["daily_balances", "payments"]
    assert DAY.isoformat() in alert["text"] and "2 of 7 extracts" in alert["text"]


def test_three_ingest_dags_for_one_date_run_together(tmp_path, deliver, cfg, read_warehouse):
    """Three Airflow processes load the same warehouse at once; the writer lock queues
    them, so none fails on DuckDB's file lock and every row arrives."""
    manifest = deliver(subscribers=4000)
    script = textwrap.dedent(f"""
        import datetime as dt, sys
        from kairos import airflow_local
        from kairos.config import Settings
        cfg = Settings.from_env()
        airflow_local.configure(cfg, quiet=True)
        airflow_local.ensure_metadata_db(cfg)
        r = airflow_local.run_dag(cfg, sys.argv[1], dt.date.fromisoformat("{DAY}"))
        print(r.state, r.task_states)
        sys.exit(0 if r.ok else 1)
    """)
    procs = []
    for system in contract.systems():
        env = dict(
            os.environ, AIRFLOW_HOME=str(tmp_path / f"airflow-{system}"), KAIROS_HOME=str(cfg.home)
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", script, f"ingest_{system}"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outputs, strict=True):
        assert p.returncode == 0, out[-3000:]
    files = manifest["files"]["20261121"]
    for e in contract.extracts():
        assert read_warehouse(f"select count(*) from {e.raw_table}")[0][0] == files[e.key]["rows"]
    assert read_warehouse("select count(*) from audit.load_ledger where status = 'loaded'") == [
        (len(contract.extracts()),)
    ]


def test_a_scheduled_run_loads_the_day_before_its_logical_date(
    cfg, airflow_db, deliver, read_warehouse
):
    """Scheduled and backfill runs carry no param: 06:00 on day X loads business date X-1."""
    from kairos.airflow_local import run_dag

    deliver(subscribers=400)
    result = run_dag(cfg, "ingest_bi", DAY, scheduled=True)
    assert result.ok, result.task_states
    assert read_warehouse("select distinct business_date from raw.bi_customer_tags") == [(DAY,)]


def test_build_warehouse_is_scheduled_on_the_three_raw_assets(dagbag):
    dag = dagbag.get_dag("build_warehouse")
    assert _acyclic(dag)
    uris = {a.uri for a in dag.timetable.asset_condition.objects}
    assert uris == {f"kairos://warehouse/raw/{s}" for s in ("boss", "crm", "bi")}
    # the build steps in one task, every step once and in the pipeline's order
    from kairos import pipeline
    from kairos.orchestration import BUILD_TASKS

    assert [s for _, names in BUILD_TASKS for s in names] == [n for n, _ in pipeline.BUILD_STEPS]
    assert {"plan", "build", "has_more", "continue_backlog"} <= set(dag.task_dict)
    assert dag.task_dict["build"].pool == WRITER_POOL
    assert [a.uri for a in dag.task_dict["build"].outlets] == ["kairos://warehouse/marts"]


def test_every_task_goes_to_the_configured_queue(airflow_db, dagbag, monkeypatch):
    """KAIROS_TASK_QUEUE sends every task of every DAG to one queue (a distributed
    executor's workers on the data root's host); unset, Airflow's default queue."""
    from airflow.dag_processing.dagbag import DagBag

    assert {t.queue for d in dagbag.dags.values() for t in d.tasks} == {"default"}
    monkeypatch.setenv("KAIROS_TASK_QUEUE", "kairos_data_host")
    queued = DagBag(dag_folder=str(PROJECT / "dags"))
    assert queued.import_errors == {}
    tasks = [t for d in queued.dags.values() for t in d.tasks]
    assert len(tasks) == sum(len(d.tasks) for d in dagbag.dags.values())
    assert {t.queue for t in tasks} == {"kairos_data_host"}


def test_the_engines_and_the_spark_pool_are_read_from_the_environment():
    """DuckDB is always an engine (publishing reads its snapshot); Spark when named; a
    name Kairos does not know, or a pool of no slots, is refused with the variable."""
    from kairos.config import ConfigError, Settings
    from kairos.orchestration import pools

    assert Settings.from_env({}).engines == ("duckdb",)
    both = Settings.from_env({"KAIROS_ENGINES": " Spark , duckdb", "KAIROS_SPARK_POOL_SLOTS": "3"})
    assert both.engines == ("duckdb", "spark")
    assert [(name, slots) for name, slots, _ in pools(both)] == [
        (WRITER_POOL, 1),
        ("kairos_spark_build", 3),
    ]
    assert Settings.from_env({"KAIROS_ENGINES": "spark"}).engines == ("duckdb", "spark")
    with pytest.raises(ConfigError, match="KAIROS_ENGINES names unknown engines flink"):
        Settings.from_env({"KAIROS_ENGINES": "duckdb,flink"})
    for slots in ("0", "1.5", "-2"):
        with pytest.raises(ConfigError, match="KAIROS_SPARK_POOL_SLOTS must be a whole number"):
            Settings.from_env({"KAIROS_SPARK_POOL_SLOTS": slots})


def test_a_spark_build_without_its_environment_or_lake_says_what_to_set(tmp_path):
    """No Spark environment where KAIROS_SPARK_PYTHON points, or no lake: the Spark
    build refuses at once with what to run or set, before starting anything."""
    import datetime as dt

    from kairos import spark
    from kairos.config import Settings

    env = {"KAIROS_HOME": str(tmp_path), "KAIROS_PROJECT_DIR": str(PROJECT)}
    missing = Settings.from_env(
        {**env, "KAIROS_LAKE": str(tmp_path / "lake"), "KAIROS_SPARK_PYTHON": "/nowhere/python"}
    )
    with pytest.raises(spark.SparkBuildFailed, match="no Spark environment at /nowhere/python"):
        spark.build(missing, dt.date(2026, 11, 1))
    no_lake = Settings.from_env({**env, "KAIROS_SPARK_PYTHON": "/bin/sh"})
    with pytest.raises(spark.SparkBuildFailed, match="KAIROS_LAKE is not set"):
        spark.build(no_lake, dt.date(2026, 11, 1))


def test_the_spark_build_dag_takes_each_engines_pool(airflow_db, dagbag, monkeypatch, tmp_path):
    """With KAIROS_ENGINES=duckdb,spark a second build DAG builds on Spark: scheduled as
    build_warehouse is, its Spark task in the Spark pool (so ingestion and the DuckDB
    build keep DuckDB's one writer slot), its DuckDB tasks in DuckDB's. Without spark it
    is not defined; spark without a lake is an import error that says so."""
    from airflow.dag_processing.dagbag import DagBag

    from kairos.orchestration import engine_pool

    assert "build_warehouse_spark" not in dagbag.dag_ids
    monkeypatch.setenv("KAIROS_ENGINES", "duckdb,spark")
    monkeypatch.delenv("KAIROS_LAKE", raising=False)
    refused = DagBag(dag_folder=str(PROJECT / "dags"))
    [(file, error)] = refused.import_errors.items()
    assert file.endswith("build_warehouse_spark.py") and "KAIROS_LAKE is not set" in error
    monkeypatch.setenv("KAIROS_LAKE", str(tmp_path / "lake"))
    both = DagBag(dag_folder=str(PROJECT / "dags"))
    assert both.import_errors == {}
    dag = both.get_dag("build_warehouse_spark")
    assert _acyclic(dag)
    duckdb_build = dagbag.get_dag("build_warehouse")
    assert dag.timetable.asset_condition == duckdb_build.timetable.asset_condition
    pools = {t.task_id: t.pool for t in dag.tasks}
    assert pools["spark_build"] == engine_pool("spark") != WRITER_POOL
    for task_id in ("plan", "lake_partitions", "record_spark_build", "has_more"):
        assert pools[task_id] == WRITER_POOL
    order = ["plan", "lake_partitions", "spark_build", "record_spark_build", "has_more"]
    for before, after in itertools.pairwise(order):
        assert after in dag.task_dict[before].downstream_task_ids
    # the DuckDB build is the same DAG with or without Spark beside it
    assert {t.task_id: t.pool for t in both.get_dag("build_warehouse").tasks} == {
        t.task_id: t.pool for t in dagbag.get_dag("build_warehouse").tasks
    }


def test_publish_target_lists_is_scheduled_on_the_warehouse_asset(dagbag):
    dag = dagbag.get_dag("publish_target_lists")
    assert _acyclic(dag)
    assert {a.uri for a in dag.timetable.asset_condition.objects} == {"kairos://warehouse/marts"}
    # the four publishing steps run in one task (its report names a failing step)
    order = ["plan", "publish", "has_more"]
    for before, after in itertools.pairwise(order):
        assert after in dag.task_dict[before].downstream_task_ids


def test_every_way_a_run_starts_resolves_its_business_date():
    """Param, scheduled or backfill (logical date), and a manual run with neither: Airflow
    3 gives a manual run no logical date, only the time it was started."""
    import types

    import pendulum

    from kairos.orchestration import business_date

    assert business_date({"params": {"business_date": "2026-11-21"}}) == DAY
    scheduled = pendulum.datetime(2026, 11, 22, 6, tz="Asia/Shanghai")
    assert business_date({"params": {}, "logical_date": scheduled}) == DAY
    # 23:30 UTC on the 21st is 07:30 on the 22nd in Beijing: yesterday there is the 21st
    started = pendulum.datetime(2026, 11, 21, 23, 30, tz="UTC")
    manual = {
        "params": {"business_date": None},
        "dag_run": types.SimpleNamespace(run_after=started),
    }
    assert business_date(manual) == DAY


def test_every_task_reports_its_failure_through_airflow(dagbag):
    from kairos.orchestration import KairosNotifier

    for dag_id in ("ingest_boss", "build_warehouse", "publish_target_lists"):
        for task in dagbag.get_dag(dag_id).tasks:
            if task.task_id == "run_outcome":  # the watcher: the failed step alerted
                continue
            callbacks = task.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert any(isinstance(c, KairosNotifier) for c in callbacks), (dag_id, task.task_id)


def test_a_failing_plan_fires_the_failure_callback(airflow_db, cfg, monkeypatch, tmp_path):
    """Date resolution is a task like the others: a date that cannot be published fails
    the run and the alert hook hears of it, naming the task, the date and why."""
    from kairos.airflow_local import run_dag

    alerts = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("KAIROS_ALERT_HOOK", "tests.harness.alert_sink:record")
    monkeypatch.setenv("KAIROS_TEST_ALERTS", str(alerts))
    result = run_dag(cfg, "publish_target_lists", DAY)
    assert result.state == "failed"
    assert result.task_states["plan"] == "failed"
    sent = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert sent, "no alert"
    assert sent[-1]["info"]["task_id"] == "plan"
    assert sent[-1]["info"]["business_date"] == DAY.isoformat()
    assert "no analysts' snapshot" in sent[-1]["text"]


def test_build_warehouse_builds_the_marts_and_emits_its_asset(
    airflow_db, cfg, deliver, read_warehouse
):
    from kairos.airflow_local import asset_events, run_dag
    from kairos.ingest import ingest_dates

    deliver(subscribers=2000)
    ingest_dates(cfg, DAY, DAY)
    result = run_dag(cfg, "build_warehouse", DAY)
    assert result.ok, result.task_states
    assert read_warehouse(
        "select count(*) > 0 from marts.fct_service_product_usage_daily where business_date = ?",
        [DAY],
    ) == [(True,)]
    (event,) = asset_events("build_warehouse", result.run_id)
    assert event["uri"] == "kairos://warehouse/marts"
    assert event["extra"]["business_date"] == "2026-11-21"
    # the analysts' snapshot holds the built day and opens read-only beside a writer
    import duckdb

    snapshot = Path(event["extra"]["snapshot"])
    writer = duckdb.connect(str(cfg.warehouse))  # the pipeline holding the live file
    try:
        con = duckdb.connect(str(snapshot), read_only=True)
        assert con.execute(
            "select count(*) > 0 from marts.fct_key_moment_warnings where business_date = ?",
            [DAY],
        ).fetchall() == [(True,)]
        con.close()
    finally:
        writer.close()
    assert (cfg.home / "dbt" / "target" / "index.html").exists()


def test_a_failing_dbt_test_stops_the_build_before_the_marts(
    airflow_db, cfg, deliver, read_warehouse
):
    """The gate: a row no contract allows reaches raw (here written straight into it, as
    an upstream bug would); staging's check fails, no mart that reads it is built, the
    date fails and nothing reaches the analysts' snapshot."""
    import duckdb

    from kairos.airflow_local import asset_events, run_dag
    from kairos.ingest import ingest_dates

    deliver(subscribers=1000)
    ingest_dates(cfg, DAY, DAY)
    con = duckdb.connect(str(cfg.warehouse))
    con.execute(
        "update raw.crm_campaign_members set member_group = 'bogus'"
        " where customer_id = (select min(customer_id) from raw.crm_campaign_members)"
    )
    con.close()
    result = run_dag(cfg, "build_warehouse", DAY)
    assert result.state == "failed"
    assert result.task_states["build"] == "failed"
    assert not (cfg.home / "snapshot" / "kairos.duckdb").exists()
    assert asset_events("build_warehouse", result.run_id) == []
    built = {
        t
        for (t,) in read_warehouse(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        )
    }
    # the marts that read the campaign members (one dbt build: a failed check skips
    # every node downstream of the model it checked)
    readers = {
        "fct_campaign_participation_daily",
        "fct_campaign_reach_daily",
        "fct_customer_preference_scores",
        "fct_dissatisfied_pool_movement_daily",
        "rpt_care_activity_results",
        "fct_target_list_members",
    }
    assert built and not built & readers
    assert read_warehouse("select status from audit.build_ledger") == [("failed",)]


@pytest.fixture(scope="module")
def three_days(tmp_path_factory, airflow_db):
    """Three business dates delivered and loaded, none built (800 subscribers)."""
    from kairos.ingest import ingest_dates
    from tests.conftest import module_home

    mp, cfg = module_home(tmp_path_factory, "backlog")
    generate(cfg.landing, DAY, 3, 800, 3, progress=False)
    _, failures = ingest_dates(cfg, DAY, DAY + dt.timedelta(days=2))
    assert failures == []
    yield cfg
    mp.undo()


def _builds(cfg) -> list[tuple[dt.date, str]]:
    import duckdb

    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        return con.execute(
            "select business_date, status from audit.build_ledger order by finished_at"
        ).fetchall()
    finally:
        con.close()


def test_pending_dates_are_built_one_by_one_oldest_first(three_days, monkeypatch, tmp_path):
    """Asset-triggered runs carry no date: each run builds the oldest pending date, a
    date whose build fails does not hold up the next, and a run with nothing pending
    skips. A date older than the last built one is rebuilt with the later ones, or
    refused with what to run."""
    import duckdb

    from kairos import pipeline
    from kairos.airflow_local import run_dag

    cfg = three_days
    d1, d2, d3 = (DAY + dt.timedelta(days=i) for i in range(3))
    assert pipeline.plan_build(cfg).dates == (d1, d2, d3)

    first = run_dag(cfg, "build_warehouse", d1, scheduled=True)  # no param, as an Asset run
    assert first.ok, first.task_states
    assert first.task_states["continue_backlog"] == "success"  # more is pending
    assert _builds(cfg) == [(d1, "built")]

    # d2's raw data breaks a staging test: its build fails, and is not retried blindly
    con = duckdb.connect(str(cfg.warehouse))
    con.execute(
        "update raw.crm_campaign_members set member_group = 'bogus'"
        f" where business_date = '{d2}'"
        " and customer_id = (select min(customer_id) from raw.crm_campaign_members)"
    )
    con.close()
    second = run_dag(cfg, "build_warehouse", d2, scheduled=True)
    assert second.state == "failed"
    assert second.task_states["build"] == "failed"
    assert second.task_states["has_more"] == "success"  # d3 still goes ahead
    assert pipeline.plan_build(cfg).dates == (d3,)

    alerts = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("KAIROS_ALERT_HOOK", "tests.harness.alert_sink:record")
    monkeypatch.setenv("KAIROS_TEST_ALERTS", str(alerts))
    third = run_dag(cfg, "build_warehouse", d3, scheduled=True)
    assert third.ok, third.task_states
    assert _builds(cfg) == [(d1, "built"), (d2, "failed"), (d3, "built")]
    (alert,) = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert alert["info"]["severity"] == "warning" and f"{d2} (build failed)" in alert["text"]
    # d3 was built over the hole d2 left, and says so where people look: the build
    # ledger's note (the operations page), and what certifies d3's lists (the manifest,
    # the report, the outcome)
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    (note,) = con.execute(
        "select message from audit.build_ledger where business_date = ? and status = 'built'",
        [d3],
    ).fetchone()
    con.close()
    assert f"built over a hole in its 30-day history: {d2} (build failed)" in note
    assert "30-day windows" in note
    from kairos.pipeline import daily

    record = daily.build_record(cfg, d3)
    assert record["history_gaps"] == [{"date": str(d2), "status": "build failed"}]
    assert daily.build_record(cfg, d1)["history_gaps"] == []

    idle = run_dag(cfg, "build_warehouse", d3, scheduled=True)
    assert idle.ok and idle.task_states["build"] == "skipped"

    # d1 again: older than d3, so d3 (which depends on it) is rebuilt too, in order;
    # d2 stays refused until its data is fixed
    with pytest.raises(pipeline.PlanRefused, match="rebuild_later_dates"):
        pipeline.plan_build(cfg, d1, rebuild_later=False)
    with pytest.raises(pipeline.PlanRefused, match="not completely loaded"):
        pipeline.plan_build(cfg, DAY + dt.timedelta(days=9))
    assert pipeline.plan_build(cfg, d1).dates == (d1, d2, d3)


def test_a_backfill_loads_exactly_the_business_dates_it_names(airflow_db):
    """`kairos backfill --from D1 --to D2` asks Airflow for the runs whose business dates
    are D1..D2: checked against Airflow's own dry run, not against our arithmetic."""
    env = dict(os.environ)
    args = ["backfill", "--from", "2026-11-02", "--to", "2026-11-08", "--dry-run", "--system"]
    subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "reserialize"], env=env, capture_output=True
    )
    proc = subprocess.run(
        [sys.executable, "-m", "kairos.cli", *args, "bi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    logical = [line.split("|")[1].strip() for line in proc.stdout.splitlines() if "+00:00" in line]
    # 06:00 in Beijing the next morning is 22:00 UTC the same day
    assert logical == [f"2026-11-{d:02d} 22:00:00+00:00" for d in range(2, 9)], proc.stdout
