"""The scheduler's day against the CLI's and the floor: ``make bench-airflow``
(python -m bench.bench_airflow).

Operators run Kairos under Airflow; ``bench-daily`` measures the command line's path. Per
size (default 2,000 and 300,000 subscribers) this benchmark delivers two business dates
-- the first as history, the second measured -- into one landing area both paths read,
and measures in the same run, on the same bytes:

* **CLI**: a fresh data root runs both dates as ``bench-daily`` does (ingest, build,
  publish: three processes a date, the pipeline's own step functions); the second
  date's three processes are timed.
* **scheduler**: a fresh data root under ``kairos scheduler`` (LocalExecutor, the
  project's ``config/airflow.cfg``, as ``make airflow`` runs it). The first date runs
  and settles (its marketing lists approved, as a team would); then the second date's
  three ingest DAGs are triggered as the 06:00 schedule would, with every control file
  already delivered, and timed until publishing has written the date's outcome. The
  Airflow API's run times split it into ingest (the three ingest runs, first start to
  last end), build and publish, and the wait between.
* **floor**: DuckDB's bare ``read_csv`` of the measured date's bytes in UTF-8.

CRM does not execute published lists here (the generator's ``executing`` is off), so
both data roots read byte-identical deliveries. Prints one row per size: floor, CLI
day, scheduler day, their ratios (aim: scheduler <= 1.5x the CLI at 2,000 subscribers,
<= 1.2x at 300,000) and the scheduler's day by part.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

from bench.bench_daily import finish, floor, run_day, start_generating
from bench.measure import measured
from tests.harness.soak import Airflow, _free_port, airflow_environment

START = dt.date(2026, 11, 1)
MARK = "BENCH_RESULT "
DAGS = ["ingest_boss", "ingest_crm", "ingest_bi", "build_warehouse", "publish_target_lists"]


def _when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _runs_since(airflow: Airflow, dag_id: str, since: dt.datetime) -> list[dict]:
    stamp = since.isoformat().replace("+00:00", "Z")
    found = airflow.request(
        "GET", f"/api/v2/dags/{dag_id}/dagRuns?start_date_gte={stamp}&limit=100"
    )
    return found["dag_runs"]


def _wait_published(airflow: Airflow, cfg, day: dt.date, since: dt.datetime, deadline: float):
    # lazy: Airflow reads its configuration when first imported; the child sets it first
    from kairos.publish import outcomes

    while outcomes.read_outcome(cfg, day) is None:
        if time.perf_counter() > deadline:
            raise SystemExit(f"{day} was not published in time")
        if any(airflow.failed_runs(d, since) for d in DAGS[:4]):
            raise SystemExit(f"a run of {day} failed: see {cfg.home / 'logs'}")
        time.sleep(0.5)


def _parts(airflow: Airflow, since: dt.datetime) -> dict[str, float]:
    """The measured day by DAG, from the API's run times: ingest (the three ingest runs,
    first start to last end), build, publish, and trigger to first start."""
    spans = {}
    for dag_id in DAGS:
        runs = [r for r in _runs_since(airflow, dag_id, since) if r.get("end_date")]
        starts = [_when(r["start_date"]) for r in runs if r.get("start_date")]
        if starts:
            spans[dag_id] = (min(starts), max(_when(r["end_date"]) for r in runs))
    ingest_start = min(spans[d][0] for d in DAGS[:3])
    return {
        "ingest_s": (max(spans[d][1] for d in DAGS[:3]) - ingest_start).total_seconds(),
        "build_s": (spans["build_warehouse"][1] - spans["build_warehouse"][0]).total_seconds(),
        "publish_s": (
            spans["publish_target_lists"][1] - spans["publish_target_lists"][0]
        ).total_seconds(),
        "trigger_to_first_task_s": (ingest_start - since).total_seconds(),
    }


def scheduler_days(
    dates: list[dt.date], home: Path, landing: Path, timeout: float
) -> dict[str, float]:
    """Run ``dates`` under a real scheduler on a fresh data root; the last one timed,
    from the trigger to the outcome, and split by DAG from the API's run times."""
    # lazy: Airflow reads its configuration when first imported; the child sets it first
    from kairos import airflow_local
    from kairos.config import Settings  # lazy: as above
    from kairos.publish import approval, outcomes  # lazy: as above

    os.environ.update(KAIROS_HOME=str(home), KAIROS_LANDING=str(landing))
    os.environ.pop("KAIROS_WAREHOUSE", None)
    os.environ.pop("AIRFLOW_HOME", None)
    cfg = Settings.from_env()
    airflow_local.configure(cfg, quiet=True)
    port = _free_port()
    env = {
        **airflow_environment(cfg, port),
        # unpausing starts the latest scheduled run, for a date never delivered here: its
        # sensors give up soon instead of waiting the production deadline
        "KAIROS_SENSOR_TIMEOUT_S": "60",
    }
    os.environ.update(env)
    cfg = Settings.from_env()
    airflow_local.ensure_metadata_db(cfg)
    airflow = Airflow(cfg, port, env)
    airflow.start(home / "logs" / "airflow.log")
    figures: dict[str, float] = {}
    try:
        airflow.wait_ready(DAGS)
        for dag_id in DAGS:
            airflow.unpause(dag_id)
        for day in dates:
            logical = dt.datetime.combine(
                day + dt.timedelta(days=1), dt.time(6), tzinfo=dt.timezone(dt.timedelta(hours=8))
            )
            since = dt.datetime.now(dt.UTC)
            t0 = time.perf_counter()
            for dag_id in DAGS[:3]:
                airflow.trigger(dag_id, logical)
            _wait_published(airflow, cfg, day, since, t0 + timeout)
            figures["day_s"] = time.perf_counter() - t0
            outcome = outcomes.read_outcome(cfg, day)
            # let the build's and publishing's last tasks (backlog check, continuation)
            # end before the next date
            while airflow.active_runs(DAGS[3:]):
                time.sleep(1)
            approval.approve_pending(cfg, day, "bench", "bench: approved as delivered")
        figures["status"] = outcome["status"]
        figures.update(_parts(airflow, since))
    finally:
        airflow.stop()
    return figures


def one_size(subscribers: int, args, work: Path) -> dict:
    root = work / f"{subscribers}"
    landing = root / "landing"
    landing.mkdir(parents=True)
    dates = [args.start, args.start + dt.timedelta(days=1)]
    env = dict(os.environ, KAIROS_LANDING=str(landing), KAIROS_HOME=str(root / "cli"))
    env.pop("KAIROS_WAREHOUSE", None)
    gen_args = argparse.Namespace(subscribers=subscribers, seed=args.seed)
    for day in dates:
        finish(start_generating(day, gen_args, landing, env), day)
    cli = [run_day(day, env) for day in dates][-1]
    cli_s = sum(cli[p]["seconds"] for p in ("ingest", "build", "publish"))
    floor_s, _, floor_rows = floor(dates[-1], landing, root, env)
    # in a process of its own: Airflow reads its configuration once, when first imported
    _, _, line = measured(
        [
            sys.executable,
            "-m",
            "bench.bench_airflow",
            "--scheduler-run",
            json.dumps([str(root / "scheduler"), str(landing), [str(d) for d in dates]]),
            "--day-timeout",
            str(args.day_timeout),
        ],
        dict(os.environ),
        MARK,
    )
    sched = json.loads(line)
    row = {
        "subscribers": subscribers,
        "rows": floor_rows,
        "floor_s": floor_s,
        "cli_s": cli_s,
        "cli_parts": {p: cli[p]["seconds"] for p in ("ingest", "build", "publish")},
        "scheduler_s": sched["day_s"],
        "scheduler_parts": sched,
        "scheduler_over_cli": sched["day_s"] / cli_s,
        "cli_over_floor": cli_s / floor_s,
        "scheduler_over_floor": sched["day_s"] / floor_s,
    }
    print(
        f"{subscribers:>10,} | {floor_rows:>11,} | {floor_s:6.1f} | {cli_s:7.1f} |"
        f" {sched['day_s']:9.1f} | {row['scheduler_over_cli']:5.2f} |"
        f" {row['cli_over_floor']:6.1f} | {row['scheduler_over_floor']:6.1f} |"
        f" ingest {sched['ingest_s']:.0f} s, build {sched['build_s']:.0f} s,"
        f" publish {sched['publish_s']:.0f} s; CLI ingest {cli['ingest']['seconds']:.0f} s,"
        f" build {cli['build']['seconds']:.0f} s, publish {cli['publish']['seconds']:.0f} s",
        flush=True,
    )
    shutil.rmtree(root, ignore_errors=True)
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="2000,300000", help="subscribers, comma-separated")
    p.add_argument("--start", type=dt.date.fromisoformat, default=START)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--day-timeout", type=float, default=3600)
    p.add_argument("--workdir", type=Path, default=Path("var/bench-airflow"))
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--scheduler-run", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.scheduler_run:  # the child: [data root, landing, dates]
        home, landing, days = json.loads(args.scheduler_run)
        figures = scheduler_days(
            [dt.date.fromisoformat(d) for d in days], Path(home), Path(landing), args.day_timeout
        )
        print(MARK + json.dumps(figures), flush=True)
        return 0
    work = args.workdir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"bench-airflow: sizes {args.sizes}, dates {args.start} (history) and the day after")
    print(
        "subscribers |        rows |  floor | CLI day | scheduler | sch/CLI | CLI/floor |"
        " sch/floor | scheduler's day by part"
    )
    rows = [one_size(int(n), args, work) for n in args.sizes.split(",")]
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
