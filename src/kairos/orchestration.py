"""Airflow DAG factories. DAG files in ``dags/`` only call these, so a DAG file reads
like a table of contents and parsing it touches no data (no I/O at import).

The tasks of ``build_warehouse`` and ``publish_target_lists`` are the steps of
:mod:`kairos.pipeline`, in its order; the CLI runs the same functions. Which business
date a run works on comes from durable state (the load, build and publishing ledgers),
never from the payload of the Asset events that woke it up: leftover events, several
pending dates, manual runs with or without a date and backfills all resolve the same way,
oldest date first. A run that finds more pending work triggers the next run of its DAG.

Every task carries :class:`KairosNotifier` as its failure callback: the alert hook
(``KAIROS_ALERT_HOOK``) hears of every failure, date resolution included.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import operator
import os
import time

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, Asset, BaseNotifier, BaseOperator, Param, dag, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from kairos import contract, dates
from kairos.config import ConfigError, Settings
from kairos.warehouse.store import WRITER_POOL

log = logging.getLogger(__name__)

# Extracts arrive overnight (T+1): the run at 06:00 on day X loads business date X-1.
TIMEZONE, SCHEDULE = dates.TIMEZONE, dates.SCHEDULE
START = pendulum.datetime(2026, 1, 1, tz=TIMEZONE)
OWNER = "kairos-data-engineering"

# How build_warehouse groups the pipeline's build steps into tasks. A task per step paid
# Airflow's start-up and dbt's import once per step: under the scheduler a day's build
# took twice the CLI's. All five run in one task, `build`, in order, as `kairos build`
# runs them: a failure names its step (and, for the dbt build, its nodes) in the task's
# error and its alert, and the steps after it do not run; on success the task updates
# the warehouse Asset. (Two tasks, the dbt build and then the ledger, docs and snapshot,
# cost one more task start, about 3 s of every day.)
# publish_target_lists runs its four steps (gates, lists, publish) in one task likewise:
# its report names the step that failed.
BUILD_TASKS = (
    ("build", ("dbt_seed", "dbt_build_models", "record_build", "dbt_docs", "publish_snapshot")),
)


class KairosNotifier(BaseNotifier):
    """Airflow's failure callback for every Kairos task: one alert through
    :func:`kairos.alerts.send` naming the DAG, task, run, business date and the error.
    (Deliveries that miss their deadline are reported once per system and run, by the
    ingest DAG's ``missing_deliveries`` task.)"""

    def __init__(self, event: str = "failed"):
        super().__init__()
        self.event = event

    def notify(self, context) -> None:
        # lazy: DAG files are parsed often; a step's code loads when its task runs
        from kairos import alerts

        ti = context.get("ti") or context.get("task_instance")
        dag_id = getattr(ti, "dag_id", "?")
        task_id = getattr(ti, "task_id", "?")
        run_id = context.get("run_id") or getattr(ti, "run_id", "?")
        try:
            day = business_date(context).isoformat()
        except Exception:  # a callback must report, whatever the context lacks
            day = "unknown"
        exc = context.get("exception")
        error = str(exc).strip() if exc is not None else ""
        text = f"Kairos: {dag_id}.{task_id} {self.event} for business date {day} (run {run_id})"
        if self.event == "skipped":
            text += ": the delivery did not arrive before the sensor's deadline"
        if error:
            text += "\n" + error[:4000]
        alerts.send(
            Settings.from_env(),
            text,
            {
                "dag_id": dag_id,
                "task_id": task_id,
                "run_id": run_id,
                "business_date": day,
                "event": self.event,
            },
            severity="error" if self.event == "failed" else "warning",
        )


def _default_args(cfg: Settings, retries: int = 0) -> dict:
    """Every task's defaults. With ``KAIROS_TASK_QUEUE`` every task goes to that queue:
    on a distributed executor the tasks must run where the data root is (the landing
    area, the DuckDB file, the published lists), so only the workers on that host serve
    it (docs/orchestration.md, "Past one machine")."""
    args = {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": dt.timedelta(seconds=cfg.retry_delay_s),
        "on_failure_callback": KairosNotifier(),
    }
    if cfg.task_queue:
        args["queue"] = cfg.task_queue
    return args


def raw_asset(system: str) -> Asset:
    """The Asset a system's ingest DAG updates when its whole day is loaded."""
    return Asset(name=f"raw_{system}", uri=f"kairos://warehouse/raw/{system}")


WAREHOUSE_ASSET = Asset(name="warehouse_marts", uri="kairos://warehouse/marts")


def business_date(context) -> dt.date:
    """The run's business date: the ``business_date`` param; else the day before the
    logical date in the operator's time zone (scheduled and backfill runs); else the day
    before the run was started (a manual run has no logical date in Airflow 3)."""
    explicit = (context.get("params") or {}).get("business_date")
    if explicit:
        return dt.date.fromisoformat(str(explicit))
    when = context.get("logical_date")
    if when is None:
        dag_run = context.get("dag_run")
        when = getattr(dag_run, "run_after", None) or pendulum.now(TIMEZONE)
    return dates.business_date_of_run(when)


def _business_date_param(description: str) -> Param:
    """The ``business_date`` param every Kairos DAG takes (empty = derive it)."""
    return Param(None, type=["null", "string"], format="date", description=description)


def _dag_args(
    dag_id: str,
    schedule,
    doc_md: str | None,
    tags: list[str],
    date_help: str,
    retries: int = 0,
    params: dict | None = None,
    **kwargs,
) -> dict:
    """What every Kairos DAG shares: owner, start, no catch-up, the failure callback and
    retry policy (``default_args``), and the ``business_date`` param (``date_help``)."""
    return {
        "dag_id": dag_id,
        "schedule": schedule,
        "start_date": START,
        "catchup": False,
        "doc_md": doc_md,
        "tags": ["kairos", *tags],
        "default_args": _default_args(Settings.from_env(), retries),
        "params": {"business_date": _business_date_param(date_help), **(params or {})},
        **kwargs,
    }


def ingest_dag(system: str, doc_md: str | None = None) -> DAG:
    """``ingest_<system>``: one task waits for the system's control files, then loads
    every delivered extract in order and, when every extract of the day is in, seals the
    day and updates the system's raw Asset.

    A delivery that does not arrive before the wait's deadline ends the run without the
    Asset (soft fail, with an alert), without blocking the runs behind it, which can run
    beside it (``max_active_runs``), their loads queued on the writer pool."""
    extracts = contract.for_system(system)
    cfg = Settings.from_env()  # parse time: the wait's timing and the retry delay

    @dag(
        **_dag_args(
            f"ingest_{system}",
            SCHEDULE,
            doc_md,
            ["ingest", system],
            "Business date to load (YYYY-MM-DD); empty = the day before the run's"
            " logical date, or before the day a manual run was started.",
            retries=1,
            max_active_runs=4,
        )
    )
    def _ingest():
        # One task waits for the system's delivery and loads it. A sensor task before the
        # load cost a task's start-up per system on every day (about 3 s), for a check
        # that takes milliseconds when the files are there; a task per extract, queued on
        # the one-slot writer pool, cost one per extract (about 10 s each, for loads of
        # 0.6-4.6 s). Each extract's load is still its own ledger row (the operations
        # page, `kairos status`) and in the task's result; a retry re-loads only what
        # failed (bytes loaded well are not reloaded).
        load = DeliveryLoad(
            task_id="load",
            system=system,
            extract_keys=[e.key for e in extracts],
            poke_interval=cfg.sensor_poke_s,
            wait_timeout=cfg.sensor_timeout_s,
            outlets=[raw_asset(system)],
            pool=WRITER_POOL,
        )

        @task(task_id="missing_deliveries", trigger_rule="all_done")
        def missing_deliveries(**context) -> list[str]:
            """One alert for the system and run, naming every extract whose delivery
            missed the wait's deadline (not one alert per extract)."""
            # lazy: DAG files are parsed often; a step's code loads when its task runs
            from kairos import alerts
            from kairos.ingest import is_delivered  # lazy: as above

            cfg = Settings.from_env()
            day = business_date(context)
            missing = [e.name for e in extracts if not is_delivered(cfg, e.key, day)]
            if missing:
                alerts.send(
                    cfg,
                    f"Kairos: ingest_{system} for business date {day} (run"
                    f" {context['run_id']}): {len(missing)} of {len(extracts)} extracts did"
                    f" not arrive before the sensor's deadline: {', '.join(missing)}",
                    {
                        "dag_id": f"ingest_{system}",
                        "run_id": context["run_id"],
                        "business_date": day.isoformat(),
                        "event": "not delivered",
                        "extracts": missing,
                    },
                    severity="warning",
                )
            return missing

        load >> missing_deliveries()
        # missing_deliveries, the one leaf after the load, runs whatever the load's end:
        # the watcher makes a failed load fail the run
        _run_fails_with([load])

    return _ingest()


class DeliveryLoad(BaseOperator):
    """Waits for the control files of a system's extracts for the run's business date,
    then loads the delivered extracts in order (:func:`kairos.ingest.ingest_system`).

    While a file is missing the wait moves to the triggerer (``DeliveryTrigger``): the
    task holds no worker slot and no writer-pool slot (deferred tasks do not count in a
    pool), and the race that fails reschedule-mode sensors in Airflow 3.3
    (apache/airflow#71172) cannot happen. Past ``wait_timeout`` it loads what did arrive
    and ends skipped, without the Asset, instead of blocking the runs behind it;
    ``missing_deliveries`` names what did not arrive."""

    def __init__(
        self,
        *,
        system: str,
        extract_keys: list[str],
        poke_interval: float,
        wait_timeout: float,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.system = system
        self.extract_keys = list(extract_keys)
        self.poke_interval = poke_interval
        self.wait_timeout = wait_timeout

    def execute(self, context):
        # lazy: DAG files are parsed often; a step's code loads when its task runs
        from kairos.ingest import is_delivered

        cfg, day = Settings.from_env(), business_date(context)
        missing = [k for k in self.extract_keys if not is_delivered(cfg, k, day)]
        if not missing:
            return self._load(context)
        paths = [str(contract.get(k).control_path(cfg.landing, day)) for k in missing]
        self.log.info("waiting for %s", ", ".join(p.rsplit("/", 1)[-1] for p in paths))
        deadline = pendulum.now("UTC").add(seconds=self.wait_timeout)
        self.defer(
            trigger=DeliveryTrigger(paths, self.poke_interval, deadline.isoformat()),
            method_name="execute_complete",
        )

    def execute_complete(self, context, event=None):
        if (event or {}).get("status") != "delivered":
            missing = (event or {}).get("missing", [])
            self.log.warning(
                "%d control file(s) not delivered within %.0fs: %s; loading what arrived",
                len(missing),
                self.wait_timeout,
                ", ".join(p.rsplit("/", 1)[-1] for p in missing),
            )
        return self._load(context)

    def _load(self, context) -> dict:
        # lazy: DAG files are parsed often; a step's code loads when its task runs
        from kairos.ingest import ingest_system

        system, day = self.system, business_date(context)
        done = ingest_system(Settings.from_env(), system, day, dag_run_id=context["run_id"])
        summary = done.summary()
        for extract, status in summary["extracts"].items():
            log.info("%s %s: %s", extract, day, status)
        if done.failed:
            # the ledger holds each; retrying the same bytes cannot help
            raise AirflowFailException(
                f"{system} {day}: {len(done.failed)} of {len(self.extract_keys)} extracts"
                f" failed ({'; '.join(done.failed.values())}); the others: "
                + ", ".join(
                    f"{k} {v}" for k, v in summary["extracts"].items() if k not in done.failed
                )
            )
        if done.not_delivered:
            # past the wait's deadline (missing_deliveries alerts): the day is not
            # complete and the Asset waits
            raise AirflowSkipException(
                f"{system} {day}: not delivered: {', '.join(done.not_delivered)}"
            )
        if done.not_sealed:
            raise AirflowFailException(
                f"{system} {day}: no good load of {', '.join(done.not_sealed)}"
            )
        # the system's whole delivery is in: the build may read the date
        context["outlet_events"][raw_asset(system)].extra = summary
        return summary


class DeliveryTrigger(BaseTrigger):
    """Polls for files until every one exists or a deadline passes; fires ``delivered``
    or ``timeout`` (with the files still missing). Its own deadline (rather than the
    deferral timeout) also bounds ``dag.test()``, which runs triggers inline and ignores
    deferral timeouts."""

    def __init__(self, paths: list[str], poke_interval: float, deadline: str):
        super().__init__()
        self.paths, self.poke_interval, self.deadline = list(paths), poke_interval, deadline

    def serialize(self):
        return (
            "kairos.orchestration.DeliveryTrigger",
            {"paths": self.paths, "poke_interval": self.poke_interval, "deadline": self.deadline},
        )

    async def run(self):
        deadline = pendulum.parse(self.deadline)
        while missing := [p for p in self.paths if not os.path.exists(p)]:
            if pendulum.now("UTC") >= deadline:
                yield TriggerEvent({"status": "timeout", "missing": missing})
                return
            await asyncio.sleep(self.poke_interval)
        yield TriggerEvent({"status": "delivered", "paths": self.paths})


class StepFailed(Exception):
    """A pipeline step failed inside a task that runs several: names the step."""


def _steps_task(name: str, steps, pool: str | None = None, outlets=None):
    """Pipeline steps as one task, run in order in its process (as the CLI runs them):
    takes the state of the task before, returns it with these steps' results and seconds
    merged in. A failing step fails the task, naming the step (the log and the alert say
    which layer failed), and the steps after it do not run."""

    @task(task_id=name, pool=pool, outlets=outlets or [])
    def run(state: dict, **context) -> dict:
        day = dt.date.fromisoformat(state["business_date"])
        cfg = Settings.from_env()
        timings = dict(state.get("timings", {}))
        for step_name, step in steps:
            log.info("step %s, business date %s", step_name, day)
            started = time.perf_counter()
            try:
                done = step(cfg, day, context["run_id"], state)
            except AirflowFailException:
                raise
            except Exception as exc:
                if len(steps) == 1:
                    raise
                raise StepFailed(f"step {step_name} failed: {exc}") from exc
            timings[step_name] = round(time.perf_counter() - started, 3)
            log.info("step %s: %.1f s", step_name, timings[step_name])
            state = {**state, **done}
        for asset in outlets or []:
            context["outlet_events"][asset].extra = {
                "business_date": state["business_date"],
                "dag_run_id": context["run_id"],
                **{k: v for k, v in state.items() if k != "timings"},
            }
        return {**state, "timings": timings}

    return run


def _continuation(dag_id: str):
    """``continue_backlog``: trigger the next run of the same DAG with the conf that
    ``has_more`` returned (``has_more`` skips it when there is nothing more to do)."""
    trigger = TriggerDagRunOperator(
        task_id="continue_backlog",
        trigger_dag_id=dag_id,
        conf="{{ ti.xcom_pull(task_ids='has_more') }}",
        wait_for_completion=False,
    )
    return trigger


def _run_fails_with(steps: list) -> None:
    """A leaf that fails the run when any step failed (Airflow's watcher pattern): the
    backlog continuation runs after a failed date, and must not make the run look good.
    The failed step has already sent its alert, so this one sends none."""

    @task(task_id="run_outcome", trigger_rule="one_failed", on_failure_callback=[])
    def run_outcome() -> None:
        raise AirflowFailException("a step of this run failed; its own alert says which")

    watcher = run_outcome()
    for step in steps:
        step >> watcher


def _chain(dag_id: str, plan, tasks, has_more, pools=None, outlets=None) -> None:
    """plan -> the tasks in order -> has_more -> continue_backlog, and the watcher leaf.
    ``tasks`` is (task name, its steps) in order; ``has_more`` runs also after a failed
    task: a failed date does not hold up the next. ``pools`` and ``outlets`` are by task
    name."""
    first = state = plan()
    done = [first]
    for name, steps in tasks:
        pool, outlet = (pools or {}).get(name), (outlets or {}).get(name)
        state = _steps_task(name, steps, pool=pool, outlets=outlet)(state)
        done.append(state)
    state >> has_more(first) >> _continuation(dag_id)
    _run_fails_with(done)


def engine_pool(engine: str) -> str:
    """The pool of the tasks that write on the engine: DuckDB takes one writer at a time
    (its single-writer rule, on any executor); Spark takes as many builds as its pool's
    slots (``KAIROS_SPARK_POOL_SLOTS``), and none of them holds DuckDB's."""
    # lazy: DAG files are parsed often; a step's code loads when its task runs
    from kairos.spark import POOL as SPARK_POOL

    return {"duckdb": WRITER_POOL, "spark": SPARK_POOL}[engine]


def pools(cfg: Settings) -> list[tuple[str, int, str]]:
    """(name, slots, description) of the pool of each engine the warehouse is built on."""
    described = {
        "duckdb": (1, "One writer to the DuckDB warehouse at a time (Kairos)"),
        "spark": (cfg.spark_pool_slots, "Kairos builds running on Spark at once"),
    }
    return [(engine_pool(e), *described[e]) for e in cfg.engines]


def _build_dag(dag_id: str, engine: str, tasks, schedule_doc: str, doc_md, tags, outlets=None):
    """A build DAG for the engine: plan (the engine's pending dates, from its ledger) ->
    the steps, each in its engine's pool -> has_more -> continue_backlog. Scheduled on
    the three raw Assets; more pending dates trigger the next run."""
    # lazy: DAG files are parsed often; a step's code loads when its task runs
    from kairos import pipeline

    @dag(
        **_dag_args(
            dag_id,
            # any system's completed day wakes it; the plan builds a date once it is
            # complete. (An all-of condition would consume the events of a day one
            # system missed and then fire on the next day's first event, before that
            # day is complete, leaving every later day a run behind.)
            functools.reduce(operator.or_, [raw_asset(s) for s in contract.systems()]),
            doc_md,
            tags,
            schedule_doc,
            max_active_runs=1,
            render_template_as_native_obj=True,
            params={
                "rebuild_later_dates": Param(
                    True,
                    type="boolean",
                    description="With an older business_date: rebuild every later built"
                    " date too, in order (they depend on it). Off: refuse an older date.",
                ),
            },
        )
    )
    def _build():
        # the plan reads the ledgers in the DuckDB file: a DuckDB task whatever the engine
        @task.short_circuit(task_id="plan", pool=WRITER_POOL)
        def plan(**context):
            params = context.get("params") or {}
            requested = params.get("business_date")
            try:
                chosen = pipeline.plan_build(
                    Settings.from_env(),
                    dt.date.fromisoformat(requested) if requested else None,
                    bool(params.get("rebuild_later_dates", True)),
                    engine=engine,
                )
            except pipeline.PlanRefused as exc:
                raise AirflowFailException(str(exc)) from None
            log.info("%s", chosen.describe())
            if not chosen.dates:
                return False
            return {
                "business_date": chosen.dates[0].isoformat(),
                "remaining": [d.isoformat() for d in chosen.dates[1:]],
            }

        @task.short_circuit(task_id="has_more", pool=WRITER_POOL, trigger_rule="all_done")
        def has_more(state: dict):
            now = pipeline.plan_build(Settings.from_env(), engine=engine)
            remaining = [dt.date.fromisoformat(d) for d in state.get("remaining", [])]
            if remaining and now.last_built and remaining[0] <= now.last_built:
                return {"business_date": remaining[0].isoformat(), "rebuild_later_dates": True}
            return {"backlog": True} if (remaining or now.dates) else False

        _chain(
            dag_id,
            plan,
            [(name, steps) for name, steps, _ in tasks],
            has_more,
            pools={name: engine_pool(on) for name, _, on in tasks},
            outlets=outlets,
        )

    return _build()


def build_warehouse_dag(doc_md: str | None = None) -> DAG:
    """``build_warehouse``: the pipeline's build steps on DuckDB for the oldest pending
    date, scheduled on the three raw Assets; more pending dates trigger the next run."""
    # lazy: DAG files are parsed often; a step's code loads when its task runs
    from kairos import pipeline

    steps = dict(pipeline.BUILD_STEPS)
    return _build_dag(
        "build_warehouse",
        "duckdb",
        [(task_name, [(s, steps[s]) for s in names], "duckdb") for task_name, names in BUILD_TASKS],
        "Business date to build; empty = every completely loaded date after the"
        " last built one, oldest first.",
        doc_md,
        ["dbt", "warehouse"],
        outlets={"build": [WAREHOUSE_ASSET]},
    )


def build_warehouse_spark_dag(doc_md: str | None = None) -> DAG | None:
    """``build_warehouse_spark``: the same models built on Spark from the lake, date by
    date, beside the DuckDB build (``KAIROS_ENGINES=duckdb,spark``; None otherwise). Its
    Spark task holds the Spark pool only; the lake and ledger tasks, DuckDB's writer."""
    # lazy: DAG files are parsed often; a step's code loads when its task runs
    from kairos import pipeline

    cfg = Settings.from_env()
    if "spark" not in cfg.engines:
        return None
    if cfg.lake is None:
        raise ConfigError(
            "KAIROS_ENGINES names spark but KAIROS_LAKE is not set: the Spark build reads"
            " its raw layer from the lake that ingestion writes"
        )
    return _build_dag(
        "build_warehouse_spark",
        "spark",
        [(name, [(name, step)], on) for name, step, on in pipeline.SPARK_BUILD_STEPS],
        "Business date to build on Spark; empty = every completely loaded date after"
        " the last one built on Spark, oldest first.",
        doc_md,
        ["dbt", "warehouse", "spark"],
    )


def publish_target_lists_dag(doc_md: str | None = None) -> DAG:
    """``publish_target_lists``: the pipeline's publishing steps for the oldest date built
    in the snapshot and not yet published, scheduled on the warehouse Asset."""
    # lazy: DAG files are parsed often; a step's code loads when its task runs
    from kairos import pipeline

    @dag(
        **_dag_args(
            "publish_target_lists",
            [WAREHOUSE_ASSET],
            doc_md,
            ["publish", "great_expectations"],
            "Business date to publish (again); empty = every date built in the"
            " analysts' snapshot after the last one published, oldest first.",
            max_active_runs=1,
            render_template_as_native_obj=True,
        )
    )
    def _publish():
        @task.short_circuit(task_id="plan")
        def plan(**context):
            requested = (context.get("params") or {}).get("business_date")
            try:
                dates = pipeline.plan_publish(
                    Settings.from_env(), dt.date.fromisoformat(requested) if requested else None
                )
            except pipeline.PlanRefused as exc:
                raise AirflowFailException(str(exc)) from None
            log.info("dates to publish: %s", ", ".join(map(str, dates)) or "none")
            if not dates:
                return False
            events = context.get("triggering_asset_events") or {}
            runs = sorted(
                {
                    (e.extra or {}).get("dag_run_id")
                    for evs in events.values()
                    for e in evs
                    if (e.extra or {}).get("dag_run_id")
                }
            )
            return {"business_date": dates[0].isoformat(), "build_warehouse_runs": runs}

        @task.short_circuit(task_id="has_more", trigger_rule="all_done")
        def has_more(state: dict):
            try:
                return {"backlog": True} if pipeline.plan_publish(Settings.from_env()) else False
            except pipeline.PlanRefused:  # nothing built yet: the plan said so already
                return False

        _chain("publish_target_lists", plan, [("publish", list(pipeline.PUBLISH_STEPS))], has_more)

    return _publish()
