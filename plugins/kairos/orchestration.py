"""Airflow DAG factories. DAG files in ``dags/`` only call these, so a DAG file reads
like a table of contents and parsing it touches no data (no I/O at import)."""

from __future__ import annotations

import datetime as dt
import os

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
            "business_date": Param(
                None,
                type=["null", "string"],
                format="date",
                description="Business date to load (YYYY-MM-DD); empty = the day before the"
                " run's logical date.",
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
            "business_date": Param(
                None,
                type=["null", "string"],
                format="date",
                description="Business date to build; empty = the date of the triggering"
                " raw Asset events.",
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

        def layer_task(layer: str, outlets=()):
            @task(task_id=f"dbt_build_{layer}", pool=WRITER_POOL, outlets=list(outlets))
            def build_layer(day: str, **context) -> dict:
                from kairos import warehouse

                step = warehouse.build_layer(layer, dt.date.fromisoformat(day))
                if outlets:
                    context["outlet_events"][WAREHOUSE_ASSET].extra = {
                        "business_date": day,
                        "dag_run_id": context["run_id"],
                    }
                return step.__dict__

            return build_layer

        day = resolve_business_date()
        seeded = dbt_seed()
        staging = layer_task("staging")(day)
        intermediate = layer_task("intermediate")(day)
        marts = layer_task("marts", outlets=[WAREHOUSE_ASSET])(day)
        seeded >> staging >> intermediate >> marts

    return _build()
