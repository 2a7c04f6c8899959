"""The whole daily run against the floor: ``make bench-daily`` (python -m bench.bench_daily).

Generates N business dates (default 30) at M subscribers (default 1 million) and replays
them as production would, each phase of each date in its own process: ingest every
extract, build the warehouse (seeds, staging, intermediate, marts, ledger, docs site,
analysts' snapshot), publish the lists (warehouse gate, lists, list gate, publish).

The last date, with every earlier one as history, is the measured day. Its floor,
measured in the same run on the same bytes: DuckDB's bare ``read_csv`` of that day's
extracts already in UTF-8, with the contract's types, into a fresh database -- the least
any pipeline must do to hold the day's data. Printed: each step's seconds and its share
of the day, each phase's peak memory, the ratio of the whole run to the floor (aim
<= 5), and, for every date, the build's time and peak memory, so growth with history
shows (the build's memory should not grow with it).

Each date is generated just before its run (the next one beside the current one's run,
except beside the measured day) and removed once loaded, so disk holds two dates of
extracts at most; --workdir is emptied first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.bench_ingest import BASELINE_CODE, to_utf8
from bench.measure import measured

START = dt.date(2026, 11, 1)

# One phase of one date, in a child process: the pipeline's own step functions, timed
# one by one (pipeline.run_steps), printed as JSON on the last line.
PHASE_CODE = """
import datetime as dt, json, sys, time
from kairos import pipeline
from kairos.config import Settings
from kairos.ingest import ingest_dates
cfg = Settings.from_env()
phase, day = sys.argv[1], dt.date.fromisoformat(sys.argv[2])
timings = {}
models = {}
if phase == "ingest":
    t0 = time.perf_counter()
    results, failures = ingest_dates(cfg, day, day)
    assert not failures, failures
    timings["ingest"] = time.perf_counter() - t0
    rows = sum(r.rows_loaded + r.rows_quarantined for r in results)
elif phase == "build":
    from kairos.warehouse import snapshot
    pipeline.run_steps(pipeline.BUILD_STEPS, cfg, day, "bench", timings)
    rows = (snapshot.describe(cfg) or {}).get("made", "")  # how the snapshot was made
    # each model's own seconds in the day's dbt build, so growth with history has a name
    results = json.loads((cfg.dbt_target_dir / "run_results.json").read_text())
    models = {
        r["unique_id"].split(".")[-1]: r["execution_time"]
        for r in results["results"] if r["unique_id"].startswith("model.")
    }
else:
    # a list withheld by its gate (partial) is published work all the same
    state = pipeline.run_steps(pipeline.PUBLISH_STEPS, cfg, day, "bench", timings)
    rows = state["status"]
print("BENCH_RESULT", json.dumps({"timings": timings, "rows": rows, "models": models}), flush=True)
"""
MARK = "BENCH_RESULT "


def run_day(day: dt.date, env: dict) -> dict:
    """Ingest, build and publish one date; per phase its seconds, peak and step times."""
    figures = {"date": str(day)}
    for phase in ("ingest", "build", "publish"):
        seconds, peak, line = measured(
            [sys.executable, "-c", PHASE_CODE, phase, str(day)], env, MARK
        )
        result = json.loads(line)
        figures[phase] = {
            "seconds": seconds,
            "peak_mib": peak,
            "steps": result["timings"],
            "rows": result["rows"],
        }
        if phase == "build":
            figures[phase]["models"] = result["models"]
    return figures


def start_generating(day: dt.date, args, landing: Path, env: dict) -> subprocess.Popen:
    """Generate one business date's delivery in the background (the generator makes each
    date from the seed alone, so date by date is the same delivery as all at once)."""
    kairos = str(Path(sys.executable).with_name("kairos"))
    argv = [kairos, "generate", "--date", str(day), "--subscribers", str(args.subscribers)]
    argv += ["--seed", str(args.seed), "--out", str(landing), "--quiet"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, day: dt.date) -> float:
    """Wait for a generation; its peak RSS in MiB."""
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"generating {day} failed:\n{out.decode(errors='replace')[-3000:]}")
    return usage.ru_maxrss / 1024


def drop_landing(landing: Path, day: dt.date) -> None:
    """Remove a date's delivery once it is loaded: disk holds two dates of extracts at
    most (5.5 GiB a date at 10 million subscribers)."""
    for system_dir in landing.iterdir():
        shutil.rmtree(system_dir / f"{day:%Y%m%d}", ignore_errors=True)


def floor(day: dt.date, landing: Path, work: Path, env: dict) -> tuple[float, float, int]:
    """DuckDB's bare read_csv of ``day``'s bytes in UTF-8: (seconds, peak MiB, rows)."""
    utf8 = work / "utf8"
    shutil.rmtree(utf8, ignore_errors=True)
    to_utf8(landing, utf8, day)
    db = work / "floor.duckdb"
    db.unlink(missing_ok=True)
    seconds, peak, line = measured(
        [sys.executable, "-c", BASELINE_CODE.format(db=str(db), utf8=str(utf8))], env
    )
    db.unlink(missing_ok=True)
    shutil.rmtree(utf8, ignore_errors=True)
    return seconds, peak, json.loads(line)


def growth(days: list[dict], early: int = 8, shown: int = 12) -> None:
    """The dbt build's growth with history: day ``early`` against the last day, overall and
    for the models that grew the most (issue 35's aim: day 30 <= 1.1x day 8)."""
    if len(days) <= early:
        return
    first, last = days[early - 1]["build"], days[-1]["build"]
    step = "dbt_build_models"
    a, b = first["steps"].get(step), last["steps"].get(step)
    if not a or not b:
        return
    print(
        f"  dbt build day {early} {a:.1f} s, day {len(days)} {b:.1f} s: ratio {b / a:.2f}"
        " (aim <= 1.1)"
    )
    grew = sorted(
        last["models"], key=lambda m: last["models"][m] - first["models"].get(m, 0), reverse=True
    )
    print(f"  {'model':<44}{'day ' + str(early):>9}{'day ' + str(len(days)):>9}")
    for model in grew[:shown]:
        print(f"  {model:<44}{first['models'].get(model, 0):9.2f}{last['models'][model]:9.2f}")


def report(days: list[dict], floor_s: float, floor_peak: float, floor_rows: int) -> dict:
    last = days[-1]
    total = sum(last[p]["seconds"] for p in ("ingest", "build", "publish"))
    print(f"\nday {len(days)} ({last['date']}), with {len(days) - 1} days of history:")
    print(f"  {'step':<24}{'seconds':>9}{'share':>8}")
    for phase in ("ingest", "build", "publish"):
        figures = last[phase]
        overhead = figures["seconds"] - sum(figures["steps"].values())
        for step, seconds in figures["steps"].items():
            print(f"  {step:<24}{seconds:9.1f}{seconds / total:8.1%}")
        print(f"  {'(' + phase + ' process start)':<24}{overhead:9.1f}{overhead / total:8.1%}")
    print(f"  {'whole run':<24}{total:9.1f}{1:8.0%}")
    for phase in ("ingest", "build", "publish"):
        print(f"  peak {phase:<19}{last[phase]['peak_mib']:9.0f} MiB")
    print(
        f"  floor: DuckDB read_csv of the day's {floor_rows:,} rows in UTF-8:"
        f" {floor_s:.1f} s, peak {floor_peak:.0f} MiB"
    )
    ratio = total / floor_s
    print(f"  ratio whole run / floor = {ratio:.1f}  (aim <= 5)")
    builds = [d["build"] for d in days]
    print(
        f"  build day 1 {builds[0]['seconds']:.1f} s, peak {builds[0]['peak_mib']:.0f} MiB;"
        f" day {len(days)} {builds[-1]['seconds']:.1f} s, peak {builds[-1]['peak_mib']:.0f} MiB;"
        f" time ratio {builds[-1]['seconds'] / builds[0]['seconds']:.2f},"
        f" memory ratio {builds[-1]['peak_mib'] / builds[0]['peak_mib']:.2f}"
    )
    growth(days)
    return {
        "whole_run_s": total,
        "floor_s": floor_s,
        "floor_peak_mib": floor_peak,
        "floor_rows": floor_rows,
        "ratio": ratio,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subscribers", type=int, default=1_000_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--workdir", type=Path, default=Path("var/bench-daily"))
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    if args.days < 2:
        p.error("--days must be at least 2: the measured day needs history")

    # ingestion refuses a business date in the future: a run that would reach past
    # yesterday starts earlier
    start = min(START, dt.date.today() - dt.timedelta(days=args.days))
    work = args.workdir.resolve()
    landing = work / "landing"
    home = work / "home"
    env = dict(os.environ, KAIROS_LANDING=str(landing), KAIROS_HOME=str(home))
    env.pop("KAIROS_WAREHOUSE", None)
    print(
        f"bench-daily: {args.subscribers:,} subscribers, {args.days} days from {start},"
        f" work dir {work}"
    )
    shutil.rmtree(work, ignore_errors=True)
    landing.mkdir(parents=True)
    dates = [start + dt.timedelta(days=k) for k in range(args.days)]
    days = []
    t0 = time.perf_counter()
    generating = start_generating(dates[0], args, landing, env)
    for k, day in enumerate(dates):
        generator_peak = finish(generating, day)
        following = dates[k + 1] if k + 1 < len(dates) else None
        # the next date is generated beside this one's run -- unless it is the measured
        # (last) date: then this run and its generation run alone, one after the other
        beside = following is not None and following != dates[-1]
        generating = start_generating(following, args, landing, env) if beside else None
        figures = run_day(day, env)
        figures["generate_peak_mib"] = generator_peak
        days.append(figures)
        if following is not None:
            drop_landing(landing, day)
            if not beside:
                generating = start_generating(following, args, landing, env)
        print(
            f"day {k + 1:2d} {day}: ingest {figures['ingest']['seconds']:6.1f} s,"
            f" build {figures['build']['seconds']:6.1f} s"
            f" (peak {figures['build']['peak_mib']:5.0f} MiB; snapshot"
            f" {figures['build']['steps']['publish_snapshot']:5.1f} s, {figures['build']['rows']}),"
            f" publish {figures['publish']['seconds']:6.1f} s"
            f" (peak {figures['publish']['peak_mib']:5.0f} MiB, {figures['publish']['rows']})"
            f" [{time.perf_counter() - t0:5.0f} s]",
            flush=True,
        )
    floor_s, floor_peak, floor_rows = floor(dates[-1], landing, work, env)
    if floor_rows != days[-1]["ingest"]["rows"]:
        raise SystemExit(
            f"the floor read {floor_rows:,} rows, ingest accounted for"
            f" {days[-1]['ingest']['rows']:,}: not the same bytes"
        )
    summary = report(days, floor_s, floor_peak, floor_rows)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"params": vars(args) | {"workdir": str(work)}, "days": days, **summary},
                indent=2,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
