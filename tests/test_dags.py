"""The ingest DAGs, parsed and run for real by Airflow (dag.test())."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kairos import contract
from kairos.config import REPO_ROOT
from kairos.ingest.warehouse import WRITER_POOL
from tests.conftest import DAY

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


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
    for e in contract.for_system(system):
        wait = dag.task_dict[f"wait_{e.name}"]
        load = dag.task_dict[f"load_{e.name}"]
        assert load.pool == WRITER_POOL
        assert wait.task_id in load.upstream_task_ids
        assert load.task_id in dag.task_dict["day_complete"].upstream_task_ids
    outlets = dag.task_dict["day_complete"].outlets
    assert [a.uri for a in outlets] == [f"kairos://warehouse/raw/{system}"]


def test_ingest_dag_run_loads_the_day_and_emits_its_asset(airflow_db, deliver, read_warehouse):
    from kairos.airflow_local import asset_events, run_dag

    manifest = deliver(subscribers=1500)
    result = run_dag("ingest_crm", DAY)
    assert result.ok, result.task_states
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


def test_a_refused_file_fails_the_run_and_emits_no_asset(airflow_db, deliver, read_warehouse):
    from kairos.airflow_local import asset_events, run_dag

    deliver(subscribers=800, faults=["wrong-count:bi.customer_tags"])
    result = run_dag("ingest_bi", DAY)
    assert result.state == "failed"
    assert result.task_states["load_customer_tags"] == "failed"
    assert result.task_states["load_satisfaction_surveys"] == "success"
    assert result.task_states["day_complete"] == "upstream_failed"
    assert asset_events("ingest_bi", result.run_id) == []
    assert read_warehouse(
        "select status from audit.load_ledger where extract = 'customer_tags'"
    ) == [("refused",)]


def test_a_late_file_times_the_sensor_out(airflow_db, deliver, monkeypatch):
    from kairos.airflow_local import run_dag

    monkeypatch.setenv("KAIROS_SENSOR_POKE_S", "1")
    monkeypatch.setenv("KAIROS_SENSOR_TIMEOUT_S", "3")
    deliver(subscribers=500, faults=["late:boss.payments"])
    result = run_dag("ingest_boss", DAY)
    assert result.state == "failed"
    assert result.task_states["wait_payments"] == "failed"
    assert result.task_states["load_payments"] == "upstream_failed"
    assert result.task_states["load_daily_usage"] == "success"


def test_three_ingest_dags_for_one_date_run_together(tmp_path, deliver, cfg, read_warehouse):
    """Three Airflow processes load the same warehouse at once; the writer lock queues
    them, so none fails on DuckDB's file lock and every row arrives."""
    manifest = deliver(subscribers=4000)
    script = textwrap.dedent(f"""
        import datetime as dt, sys
        from kairos import airflow_local
        airflow_local.configure(quiet=True)
        airflow_local.ensure_metadata_db()
        r = airflow_local.run_dag(sys.argv[1], dt.date.fromisoformat("{DAY}"))
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
        (14,)
    ]


def test_a_scheduled_run_loads_the_day_before_its_logical_date(airflow_db, deliver, read_warehouse):
    """Scheduled and backfill runs carry no param: 06:00 on day X loads business date X-1."""
    from kairos.airflow_local import run_dag

    deliver(subscribers=400)
    result = run_dag("ingest_bi", DAY, scheduled=True)
    assert result.ok, result.task_states
    assert read_warehouse("select distinct business_date from raw.bi_customer_tags") == [(DAY,)]


def test_build_warehouse_is_scheduled_on_the_three_raw_assets(dagbag):
    dag = dagbag.get_dag("build_warehouse")
    assert _acyclic(dag)
    uris = {a.uri for a in dag.timetable.asset_condition.objects}
    assert uris == {f"kairos://warehouse/raw/{s}" for s in ("boss", "crm", "bi")}
    for layer in ("staging", "intermediate", "marts"):
        assert dag.task_dict[f"dbt_build_{layer}"].pool == WRITER_POOL
    assert dag.task_dict["publish_snapshot"].pool == WRITER_POOL
    assert [a.uri for a in dag.task_dict["publish_snapshot"].outlets] == [
        "kairos://warehouse/marts"
    ]
    assert dag.task_dict["dbt_build_marts"].outlets == []


def test_publish_target_lists_is_scheduled_on_the_warehouse_asset(dagbag):
    dag = dagbag.get_dag("publish_target_lists")
    assert _acyclic(dag)
    assert {a.uri for a in dag.timetable.asset_condition.objects} == {"kairos://warehouse/marts"}
    order = ["gate_warehouse", "build_lists", "gate_lists", "publish"]
    for before, after in itertools.pairwise(order):
        assert after in dag.task_dict[before].downstream_task_ids


def test_business_date_comes_from_agreeing_asset_events():
    from kairos.orchestration import business_date_from_events

    events = [{"business_date": "2026-11-21", "system": s} for s in ("boss", "crm", "bi")]
    assert business_date_from_events(events) == DAY
    with pytest.raises(ValueError, match="do not agree"):
        business_date_from_events([*events, {"business_date": "2026-11-20"}])
    with pytest.raises(ValueError):
        business_date_from_events([])


def test_build_warehouse_builds_the_marts_and_emits_its_asset(
    airflow_db, cfg, deliver, read_warehouse
):
    from kairos.airflow_local import asset_events, run_dag
    from kairos.ingest import ingest_dates

    deliver(subscribers=2000)
    ingest_dates(DAY, DAY)
    result = run_dag("build_warehouse", DAY)
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
    an upstream bug would); staging's tests fail, and no mart is built on it."""
    import duckdb

    from kairos.airflow_local import asset_events, run_dag
    from kairos.ingest import ingest_dates

    deliver(subscribers=1000)
    ingest_dates(DAY, DAY)
    con = duckdb.connect(str(cfg.warehouse))
    con.execute(
        "update raw.crm_campaign_members set member_group = 'bogus'"
        " where customer_id = (select min(customer_id) from raw.crm_campaign_members)"
    )
    con.close()
    result = run_dag("build_warehouse", DAY)
    assert result.state == "failed"
    assert result.task_states["dbt_build_staging"] == "failed"
    assert result.task_states["dbt_build_marts"] == "upstream_failed"
    assert result.task_states["publish_snapshot"] == "upstream_failed"
    assert not (cfg.home / "snapshot" / "kairos.duckdb").exists()
    assert asset_events("build_warehouse", result.run_id) == []
    assert read_warehouse(
        "select count(*) from information_schema.tables where table_schema = 'marts'"
    ) == [(0,)]
