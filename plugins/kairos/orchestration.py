"""Airflow DAG factories. DAG files in ``dags/`` only call these, so a DAG file reads
like a table of contents and parsing it touches no data (no I/O at import)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Asset, Param, dag, task

from kairos import contract
from kairos.ingest.warehouse import WRITER_POOL

TIMEZONE = "Asia/Shanghai"
# Extracts arrive overnight (T+1): the run at 06:00 on day X loads business date X-1.
SCHEDULE = "0 6 * * *"
START = pendulum.datetime(2026, 1, 1, tz=TIMEZONE)


def raw_asset(system: str) -> Asset:
    """The Asset a system's ingest DAG updates when its whole day is loaded."""
    return Asset(name=f"raw_{system}", uri=f"kairos://warehouse/raw/{system}")


def business_date(context) -> dt.date:
    """The run's business date: the ``business_date`` param, else the day before the
    logical date in the operator's time zone."""
    explicit = (context.get("params") or {}).get("business_date")
    if explicit:
        return dt.date.fromisoformat(str(explicit))
    logical = pendulum.instance(context["logical_date"]).in_timezone(TIMEZONE)
    return logical.date() - dt.timedelta(days=1)


def _business_date_param(description: str) -> Param:
    """The ``business_date`` param every Kairos DAG takes (empty = derive it)."""
    return Param(None, type=["null", "string"], format="date", description=description)


def _seconds(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def ingest_dag(system: str, doc_md: str | None = None) -> DAG:
    """``ingest_<system>``: per extract, wait for the control file, then load it; when every
    extract of the day is in, update the system's raw Asset."""
    extracts = contract.for_system(system)
    poke = _seconds("KAIROS_SENSOR_POKE_S", 300)
    timeout = _seconds("KAIROS_SENSOR_TIMEOUT_S", 6 * 3600)

    @dag(
        dag_id=f"ingest_{system}",
        schedule=SCHEDULE,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        doc_md=doc_md,
        tags=["kairos", "ingest", system],
        params={
            "business_date": _business_date_param(
                "Business date to load (YYYY-MM-DD); empty = the day before the run's logical date."
            )
        },
        default_args={"owner": "kairos-data-engineering", "retries": 0},
    )
    def _ingest():
        loads = []
        for extract in extracts:

            @task.sensor(
                task_id=f"wait_{extract.name}",
                poke_interval=poke,
                timeout=timeout,
                mode="reschedule",
            )
            def wait(extract_key: str = extract.key, **context) -> bool:
                from kairos.ingest import is_delivered

                return is_delivered(extract_key, business_date(context))

            @task(task_id=f"load_{extract.name}", pool=WRITER_POOL)
            def load(extract_key: str = extract.key, **context) -> dict:
                from kairos.ingest import ingest_extract

                result = ingest_extract(
                    extract_key, business_date(context), dag_run_id=context["run_id"]
                )
                return {
                    "extract": result.extract,
                    "status": result.status,
                    "rows_loaded": result.rows_loaded,
                    "rows_quarantined": result.rows_quarantined,
                }

            waited = wait()
            loaded = load()
            waited >> loaded
            loads.append(loaded)

        @task(task_id="day_complete", outlets=[raw_asset(system)])
        def day_complete(results: list[dict], **context) -> dict:
            day = business_date(context)
            summary = {
                "business_date": day.isoformat(),
                "system": system,
                "rows_loaded": sum(r["rows_loaded"] for r in results),
                "rows_quarantined": sum(r["rows_quarantined"] for r in results),
                "extracts": {r["extract"]: r["status"] for r in results},
            }
            context["outlet_events"][raw_asset(system)].extra = summary
            return summary

        day_complete(loads)

    return _ingest()


WAREHOUSE_ASSET = Asset(name="warehouse_marts", uri="kairos://warehouse/marts")


def business_date_from_events(extras: list[dict]) -> dt.date:
    """The one business date the triggering raw Asset events agree on.

    The build runs when BOSS, CRM and BI have each completed a day; if their events name
    different days (one system is behind), building would mix days, so it fails loudly.
    """
    dates = {e.get("business_date") for e in extras if e.get("business_date")}
    if len(dates) != 1:
        raise ValueError(
            "the triggering raw Asset events do not agree on one business date:"
            f" {sorted(dates) or 'none'}; load the missing system's day, or trigger"
            " build_warehouse with the business_date param"
        )
    return dt.date.fromisoformat(dates.pop())


def build_warehouse_dag(doc_md: str | None = None) -> DAG:
    """``build_warehouse``: dbt seeds, then staging, intermediate and marts (models and
    tests), one task per layer, scheduled on the three raw Assets."""

    @dag(
        dag_id="build_warehouse",
        schedule=[raw_asset(s) for s in contract.systems()],
        start_date=START,
        catchup=False,
        max_active_runs=1,
        doc_md=doc_md,
        tags=["kairos", "dbt", "warehouse"],
        params={
            "business_date": _business_date_param(
                "Business date to build; empty = the date of the triggering raw Asset events."
            )
        },
        default_args={"owner": "kairos-data-engineering", "retries": 0},
    )
    def _build():
        @task
        def resolve_business_date(**context) -> str:
            explicit = (context.get("params") or {}).get("business_date")
            if explicit:
                return dt.date.fromisoformat(str(explicit)).isoformat()
            events = context.get("triggering_asset_events") or {}
            extras = [dict(e.extra or {}) for evs in events.values() for e in evs]
            return business_date_from_events(extras).isoformat()

        @task(pool=WRITER_POOL)
        def dbt_seed() -> dict:
            from kairos import warehouse

            return warehouse.seed().__dict__

        def layer_task(layer: str):
            @task(task_id=f"dbt_build_{layer}", pool=WRITER_POOL)
            def build_layer(day: str) -> dict:
                from kairos import warehouse

                return warehouse.build_layer(layer, dt.date.fromisoformat(day)).__dict__

            return build_layer

        @task(pool=WRITER_POOL)
        def dbt_docs() -> str:
            """The dbt docs site of the day's warehouse (served by the portal at /docs)."""
            from kairos import warehouse

            return str(warehouse.docs())

        @task(pool=WRITER_POOL, outlets=[WAREHOUSE_ASSET])
        def publish_snapshot(day: str, **context) -> str:
            """Checkpoint, copy and swap the analysts' read-only snapshot; only a whole,
            tested day reaches it, and only then is the warehouse Asset updated."""
            from kairos import warehouse

            path = warehouse.snapshot()
            context["outlet_events"][WAREHOUSE_ASSET].extra = {
                "business_date": day,
                "dag_run_id": context["run_id"],
                "snapshot": str(path),
            }
            return str(path)

        day = resolve_business_date()
        seeded = dbt_seed()
        staging = layer_task("staging")(day)
        intermediate = layer_task("intermediate")(day)
        marts = layer_task("marts")(day)
        docs = dbt_docs()
        snap = publish_snapshot(day)
        seeded >> staging >> intermediate >> marts >> docs >> snap

    return _build()


def publish_target_lists_dag(doc_md: str | None = None) -> DAG:
    """``publish_target_lists``: gate the warehouse, build the lists, gate the lists,
    publish -- scheduled on the warehouse Asset. A failing step writes its summary to
    ``publish/_reports``, calls the alert hook and fails; nothing new is published."""

    def guarded(step: str, day: str, run_id: str, fn):
        from kairos.config import settings
        from kairos.publish import daily

        try:
            return fn()
        except Exception as exc:
            cfg = settings()
            d = dt.date.fromisoformat(day)
            daily.report(
                cfg, d, run_id, ok=False, text=daily.failure_text(cfg, d, run_id, step, exc)
            )
            raise

    @dag(
        dag_id="publish_target_lists",
        schedule=[WAREHOUSE_ASSET],
        start_date=START,
        catchup=False,
        max_active_runs=1,
        doc_md=doc_md,
        tags=["kairos", "publish", "great_expectations"],
        params={
            "business_date": _business_date_param(
                "Business date to publish; empty = the date of the triggering"
                " warehouse Asset event."
            )
        },
        default_args={"owner": "kairos-data-engineering", "retries": 0},
    )
    def _publish():
        @task
        def resolve_business_date(**context) -> dict:
            explicit = (context.get("params") or {}).get("business_date")
            events = context.get("triggering_asset_events") or {}
            extras = [dict(e.extra or {}) for evs in events.values() for e in evs]
            if explicit:
                day = dt.date.fromisoformat(str(explicit)).isoformat()
            else:
                day = business_date_from_events(extras).isoformat()
            build_runs = sorted({e["dag_run_id"] for e in extras if e.get("dag_run_id")})
            return {"business_date": day, "build_warehouse_runs": build_runs}

        @task
        def gate_warehouse(info: dict, **context) -> dict:
            from kairos.publish import daily

            day = info["business_date"]
            return guarded(
                "gate_warehouse",
                day,
                context["run_id"],
                lambda: daily.gate_warehouse(dt.date.fromisoformat(day), context["run_id"]),
            )

        @task
        def build_lists(info: dict, **context) -> str:
            from kairos.publish import daily

            day = info["business_date"]
            return guarded(
                "build_lists",
                day,
                context["run_id"],
                lambda: daily.stage_lists(dt.date.fromisoformat(day), context["run_id"]),
            )

        @task
        def gate_lists(info: dict, staging: str, **context) -> dict:
            from kairos.publish import daily

            day = info["business_date"]
            return guarded(
                "gate_lists",
                day,
                context["run_id"],
                lambda: daily.gate_lists(dt.date.fromisoformat(day), context["run_id"], staging),
            )

        @task
        def publish(info: dict, staging: str, warehouse_gate: dict, lists_gate: dict, **context):
            from kairos.config import settings
            from kairos.publish import daily

            day, run_id = info["business_date"], context["run_id"]
            certification = {
                "dbt": {"build_warehouse_runs": info["build_warehouse_runs"]},
                "gates": [warehouse_gate, lists_gate],
                "run_id": run_id,
            }

            def step():
                target = daily.publish_lists(
                    dt.date.fromisoformat(day), run_id, staging, certification
                )
                text = daily.success_text(dt.date.fromisoformat(day), Path(target))
                daily.report(settings(), dt.date.fromisoformat(day), run_id, ok=True, text=text)
                return target

            return guarded("publish", day, run_id, step)

        info = resolve_business_date()
        warehouse_gate = gate_warehouse(info)
        staging = build_lists(info)
        warehouse_gate >> staging
        lists_gate = gate_lists(info, staging)
        publish(info, staging, warehouse_gate, lists_gate)

    return _publish()
