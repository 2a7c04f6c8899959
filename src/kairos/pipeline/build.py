"""The daily steps of Kairos, defined once: build the warehouse, then publish the lists.

Each step is a function ``step(cfg, day, run_id, state) -> dict``: it does one thing for
one business date and returns what later steps need (merged into ``state``). The Airflow
DAGs run the steps in the order of :data:`BUILD_STEPS` and :data:`PUBLISH_STEPS`, a few
to a task (``kairos.orchestration.BUILD_TASKS``); ``kairos build`` and ``kairos publish``
run the same functions in the same order in one process (:func:`run_steps`). No step
exists twice.

Which dates to work on is decided from durable state, never from the payload of the
event that woke a run up, so leftover Asset events, several pending dates and manual
runs all come out the same way:

* **build**: a date is *complete* once each of the contract's extracts has a good load
  in ``audit.load_ledger``. Pending dates are the complete dates after the last built one
  (``audit.build_ledger``), oldest first -- except a date whose build failed and whose
  data has not changed since (it would only fail again; an operator rebuilds it). A date
  older than the last built one is rebuilt on request together with every later built
  date, in order, because later days depend on it (cooldowns, trailing windows).
* **build on another engine** (``KAIROS_ENGINES=duckdb,spark``): the same rule, over that
  engine's attempts in ``audit.engine_build_ledger`` (:data:`SPARK_BUILD_STEPS`).
* **publish**: pending dates are the dates built in the analysts' snapshot after the last
  date with a publishing outcome (``publish/_outcomes/<date>.json``), oldest first.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import duckdb

from kairos import alerts, contract, spark, warehouse
from kairos.config import Settings
from kairos.files import relative
from kairos.ingest.lake import export_missing
from kairos.publish.outcomes import outcome_dates
from kairos.warehouse.store import connect_writer, describe_gaps, history_gaps

log = logging.getLogger(__name__)

GOOD_LOADS = ("loaded", "replaced", "unchanged")

Step = Callable[[Settings, dt.date, str, dict], dict]


class PlanRefused(ValueError):
    """The requested date cannot be worked on now; the message says what to run."""


# ---------------------------------------------------------------------------- build


@dataclass(frozen=True)
class BuildPlan:
    """The dates a build run works on, oldest first, and what it leaves aside."""

    dates: tuple[dt.date, ...]
    last_built: dt.date | None
    stale: tuple[dt.date, ...] = ()
    waiting: dict[str, list[str]] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [
            "dates to build: " + (", ".join(map(str, self.dates)) or "none"),
            f"last built date: {self.last_built or 'none'}",
        ]
        for day, missing in sorted(self.waiting.items()):
            lines.append(f"{day}: waiting for {', '.join(missing)}")
        if self.stale:
            lines.append(
                "loaded again after their build (rebuild on purpose, e.g. trigger"
                ' build_warehouse with {"business_date": "<date>"}): '
                + ", ".join(map(str, self.stale))
            )
        return "\n".join(lines)


# the pseudo-extract a system's delivery seal counts as (audit.delivery_seal): missing,
# the system's delivery for the date is incomplete or was interrupted
SEALED = " delivery sealed"


def _warehouse_state(cfg: Settings, con=None, engine: str = "duckdb"):
    """(good loads per date, build attempts per date on the engine) from the audit tables."""

    def read(c):
        loads = c.execute(
            "select business_date, system || '.' || extract, max(finished_at)"
            " from audit.load_ledger where status in ? group by all"
            " union all select business_date, system || ?, sealed_at from audit.delivery_seal",
            [list(GOOD_LOADS), SEALED],
        ).fetchall()
        if engine == "duckdb":
            builds = c.execute(
                "select business_date, status, finished_at from audit.build_ledger"
                " order by finished_at"
            ).fetchall()
        else:
            builds = c.execute(
                "select business_date, status, finished_at from audit.engine_build_ledger"
                " where engine = ? order by finished_at",
                [engine],
            ).fetchall()
        return loads, builds

    if con is not None:
        return read(con)
    with connect_writer(cfg) as c:
        return read(c)


def _completeness(loads) -> tuple[dict[dt.date, dt.datetime], dict[dt.date, list[str]]]:
    """Complete dates with the time of their last good load; incomplete ones with what
    they miss. An extract a later contract version added (``since``) is wanted from the
    first date it was delivered for: dates before it are complete without it."""
    base = {e.key for e in contract.extracts() if e.since == 1}
    base |= {s + SEALED for s in contract.systems()}
    later = {e.key for e in contract.extracts() if e.since > 1}
    seen: dict[dt.date, dict[str, dt.datetime]] = {}
    first: dict[str, dt.date] = {}
    for day, key, at in loads:
        if key in base or key in later:
            seen.setdefault(day, {})[key] = at
        if key in later and (key not in first or day < first[key]):
            first[key] = day
    complete, incomplete = {}, {}
    for day, keys in seen.items():
        wanted = base | {k for k in later if k in first and first[k] <= day}
        if wanted <= set(keys):
            complete[day] = max(keys.values())
        else:
            incomplete[day] = sorted(wanted - set(keys))
    return complete, incomplete


def complete_dates(cfg: Settings) -> list[dt.date]:
    """Dates every extract of the contract has a good load for, oldest first."""
    loads, _ = _warehouse_state(cfg)
    return sorted(_completeness(loads)[0])


def _attempts(builds) -> tuple[dict, dict]:
    """Latest attempt (status, time) per date, and the time of its last good build."""
    latest, built = {}, {}
    for day, status, at in builds:
        latest[day] = (status, at)
        if status == "built":
            built[day] = at
    return latest, built


def plan_build(
    cfg: Settings,
    requested: dt.date | None = None,
    rebuild_later: bool = True,
    engine: str = "duckdb",
) -> BuildPlan:
    """Which dates to build on the engine, in order (see the module docstring)."""
    loads, builds = _warehouse_state(cfg, engine=engine)
    complete, incomplete = _completeness(loads)
    latest, built = _attempts(builds)
    last_built = max(built) if built else None

    def after_last(day: dt.date) -> bool:
        return last_built is None or day > last_built

    def failed_unchanged(day: dt.date) -> bool:
        status, at = latest.get(day, (None, None))
        return status == "failed" and complete[day] <= at

    pending = sorted(d for d in complete if after_last(d) and not failed_unchanged(d))
    stale = tuple(sorted(d for d in built if d in complete and complete[d] > built[d]))
    waiting = {str(d): m for d, m in sorted(incomplete.items()) if after_last(d)}
    if requested is None:
        return BuildPlan(tuple(pending), last_built, stale, waiting)
    if requested not in complete:
        missing = incomplete.get(requested) or sorted(e.key for e in contract.extracts())
        raise PlanRefused(
            f"business date {requested} is not completely loaded (missing: {', '.join(missing)});"
            f" load it first: `kairos ingest --date {requested}` or the ingest DAGs"
        )
    if not after_last(requested) and not rebuild_later:
        raise PlanRefused(
            f"business date {requested} is older than the last built date {last_built}, and"
            " the dates after it depend on it (cooldowns, trailing windows): rebuild them"
            f" too with `kairos build --date {requested}` or trigger build_warehouse with"
            f' {{"business_date": "{requested}", "rebuild_later_dates": true}}'
        )
    later = (
        [d for d in sorted(complete) if d > requested and not after_last(d)]
        if rebuild_later
        else []
    )
    before = [d for d in pending if d < requested]
    return BuildPlan(tuple(sorted({*before, requested, *later})), last_built, stale, waiting)


def record_build(
    cfg: Settings,
    day: dt.date,
    run_id: str,
    status: str,
    message: str = "",
    engine: str = "duckdb",
) -> None:
    with connect_writer(cfg) as con:
        if engine == "duckdb":
            con.execute(
                "insert into audit.build_ledger values (?, ?, ?, ?, current_timestamp::timestamp)",
                [day, status, run_id, message[:2000]],
            )
        else:
            con.execute(
                "insert into audit.engine_build_ledger"
                " values (?, ?, ?, ?, ?, current_timestamp::timestamp)",
                [engine, day, status, run_id, message[:2000]],
            )


def _dbt_seed(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
    return {"seed": asdict(warehouse.seed(cfg, day))}


def _dbt_build_models(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
    """The three layers in one ``dbt build``; a failure names its nodes, whose ids name
    their layer (``model.kairos.int_...``), and is recorded in the build ledger."""
    try:
        result = warehouse.build_models(cfg, day)
    except warehouse.DbtBuildError as exc:
        record_build(cfg, day, run_id, "failed", f"dbt_build_models: {exc}")
        raise
    return {"models": asdict(result)}


def _record_built(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
    """Record the date built -- and, never silently, any date of its trailing history it
    was built without (a failed or missing date: see ``docs/orchestration.md``): in the
    build ledger's note, and in an alert to the people who act on the lists."""

    with connect_writer(cfg) as con:
        gaps = history_gaps(con, day)
    note = describe_gaps(gaps)
    record_build(cfg, day, run_id, "built", note)
    if gaps:
        alerts.send(
            cfg,
            f"build of {day}: {note}",
            {"business_date": day.isoformat(), "run_id": run_id, "gaps": gaps},
            severity="warning",
        )
    return {"built": day.isoformat(), "history_gaps": gaps}


def _dbt_docs(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
    return {"docs": str(warehouse.docs(cfg, day))}


def _publish_snapshot(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
    """Checkpoint, copy and swap the analysts' read-only snapshot: only a whole, tested
    day reaches it, and publishing reads nothing else."""
    return {"snapshot": str(warehouse.refresh_snapshot(cfg))}


BUILD_STEPS: tuple[tuple[str, Step], ...] = (
    ("dbt_seed", _dbt_seed),
    ("dbt_build_models", _dbt_build_models),
    ("record_build", _record_built),
    ("dbt_docs", _dbt_docs),
    ("publish_snapshot", _publish_snapshot),
)


# ------------------------------------------------------------- build on Spark


def _lake_partitions(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
    """Every raw partition of the date in the lake: a date sealed before ``KAIROS_LAKE``
    was set (or whose file was lost) is written from the warehouse's sealed rows."""

    if cfg.lake is None:
        raise PlanRefused("KAIROS_LAKE is not set: the Spark build reads its raw layer there")
    with connect_writer(cfg) as con:
        written = export_missing(con, cfg.lake, day)
    return {"lake_written": [relative(p, cfg.lake) for p in written]}


def _spark_build(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
    """``dbt build`` of the date on Spark (``spark/build.py`` in its environment);
    a failure is recorded in ``audit.engine_build_ledger``."""
    try:
        result = spark.build(cfg, day)
    except spark.SparkBuildFailed as exc:
        record_build(cfg, day, run_id, "failed", f"spark_build: {exc}", engine="spark")
        raise
    return {"spark": result}


def _record_spark_built(cfg: Settings, day: dt.date, run_id: str, state: dict) -> dict:
    record_build(cfg, day, run_id, "built", engine="spark")
    return {"built_on_spark": day.isoformat()}


# (name, step, engine whose writers it takes): the DAG puts each task in its engine's pool
SPARK_BUILD_STEPS: tuple[tuple[str, Step, str], ...] = (
    ("lake_partitions", _lake_partitions, "duckdb"),
    ("spark_build", _spark_build, "spark"),
    ("record_spark_build", _record_spark_built, "duckdb"),
)


def full_refresh(cfg: Settings, run_id: str) -> list[dt.date]:
    """Every loaded date from scratch in one dbt run, then the build ledger, the docs and
    the snapshot, as a date-by-date build would leave them; returns the dates built."""
    warehouse.build(cfg, None, full_refresh=True)
    dates = complete_dates(cfg)
    for day in dates:
        record_build(cfg, day, run_id, "built", "full refresh")
    warehouse.docs(cfg, force=True)
    warehouse.refresh_snapshot(cfg)
    return dates


# The steps a date of a backlog leaves to the last date built: the docs site and the
# analysts' snapshot describe the whole warehouse, not one date, so refreshing them after
# every date of a backlog did the same work once per date.
ONCE_PER_BACKLOG = ("dbt_docs", "publish_snapshot")


def build_dates(
    cfg: Settings,
    dates: tuple[dt.date, ...] | list[dt.date],
    run_id: str,
    on_built: Callable[[dt.date], None] | None = None,
) -> dict:
    """Build ``dates`` in order in this process (``kairos build`` over a backlog): each
    date's dbt build and ledger row as a date-by-date build makes them, then the docs and
    the snapshot once, after the last date built -- also when a later date fails, so the
    dates built reach the analysts and publishing. Returns the last state."""
    per_date = tuple(s for s in BUILD_STEPS if s[0] not in ONCE_PER_BACKLOG)
    once = tuple(s for s in BUILD_STEPS if s[0] in ONCE_PER_BACKLOG)
    state: dict = {}
    built = None
    try:
        for day in dates:
            state = run_steps(per_date, cfg, day, run_id)
            built = day
            if on_built is not None:
                on_built(day)
    finally:
        if built is not None:
            state.update(run_steps(once, cfg, built, run_id))
    return state


def run_steps(
    steps: tuple[tuple[str, Step], ...],
    cfg: Settings,
    day: dt.date,
    run_id: str,
    timings: dict[str, float] | None = None,
) -> dict:
    """Run ``steps`` in order for one date, in this process (the CLI's way); each step's
    seconds are logged and, given ``timings``, recorded there by step name."""
    state: dict = {"business_date": day.isoformat()}
    for name, step in steps:
        log.info("%s %s", name, day)
        started = time.perf_counter()
        state.update(step(cfg, day, run_id, state))
        seconds = time.perf_counter() - started
        log.info("%s %s: %.1f s", name, day, seconds)
        if timings is not None:
            timings[name] = seconds
    return state


def snapshot_builds(cfg: Settings) -> dict[dt.date, tuple[dt.datetime, dt.datetime | None]]:
    """Dates built in the analysts' snapshot: (time of the build, last good load)."""

    path = cfg.snapshot
    if not path.exists():
        raise PlanRefused(
            f"no analysts' snapshot at {path}: build a date first (`kairos build` or the"
            " build_warehouse DAG), which refreshes it"
        )
    con = duckdb.connect(str(path), read_only=True)
    try:
        loads, builds = _warehouse_state(cfg, con)
    finally:
        con.close()
    complete, _ = _completeness(loads)
    _, built = _attempts(builds)
    return {d: (at, complete.get(d)) for d, at in built.items()}


def plan_publish(cfg: Settings, requested: dt.date | None = None) -> list[dt.date]:
    """Dates to publish, oldest first: the requested one, or every date built in the
    snapshot after the last date publishing has an outcome for."""
    built = snapshot_builds(cfg)
    if requested is not None:
        if requested not in built:
            raise PlanRefused(
                f"business date {requested} is not built in the analysts' snapshot; build"
                f" it first (`kairos build --date {requested}`), which refreshes the snapshot"
            )
        return [requested]
    done = outcome_dates(cfg)
    last = done[-1] if done else None
    return sorted(d for d in built if last is None or d > last)


def check_snapshot(cfg: Settings, day: dt.date) -> None:
    """Refuse a snapshot that does not hold ``day``'s current build."""
    built = snapshot_builds(cfg).get(day)
    if built is None:
        raise PlanRefused(
            f"the analysts' snapshot holds no build of {day}: run `kairos build --date {day}`"
            " (it refreshes the snapshot) before publishing"
        )
    built_at, loaded_at = built
    if loaded_at is not None and loaded_at > built_at:
        raise PlanRefused(
            f"the analysts' snapshot holds the build of {day} from {built_at:%Y-%m-%d %H:%M},"
            f" but {day} was loaded again at {loaded_at:%Y-%m-%d %H:%M}: rebuild it first"
            f" (`kairos build --date {day}`)"
        )
