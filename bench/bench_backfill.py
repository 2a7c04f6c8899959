"""A backlog of dates built by `kairos build` against one full refresh of the same dates:
``make bench-backfill`` (python -m bench.bench_backfill).

Generates D business dates (default 30) at N subscribers (default 3,000), ingests them
all, copies the loaded warehouse twice, then in the same run, each in its own process:

* ``kairos build``: the D pending dates in order, each as a date-by-date build makes it
  (cooldowns, queues and SCD2 history a day at a time), the docs site and the analysts'
  snapshot once at the end (``kairos.pipeline.build_dates``);
* ``kairos build --full-refresh``: every date from scratch in one dbt run (the
  baseline).

Prints each one's seconds and peak memory, the backlog's seconds per date and the ratio
of the two (aim <= 2). That both leave the same facts is a test
(tests/test_warehouse.py, daily builds equal a full build), not a benchmark.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
from pathlib import Path

from bench.measure import measured

START = dt.date(2026, 11, 1)


def _kairos() -> str:
    return str(Path(sys.executable).with_name("kairos"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subscribers", type=int, default=3000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--workdir", type=Path, default=Path("var/bench-backfill"))
    args = p.parse_args()
    start = min(START, dt.date.today() - dt.timedelta(days=args.days))
    last = start + dt.timedelta(days=args.days - 1)
    work = args.workdir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    landing = work / "landing"
    loaded = work / "loaded"
    env = dict(os.environ, KAIROS_LANDING=str(landing), KAIROS_HOME=str(loaded))
    env.pop("KAIROS_WAREHOUSE", None)
    print(
        f"bench-backfill: {args.subscribers:,} subscribers, {args.days} dates from {start},"
        f" work dir {work}"
    )
    generate = [_kairos(), "generate", "--date", str(start), "--days", str(args.days)]
    generate += ["--subscribers", str(args.subscribers), "--seed", str(args.seed), "--quiet"]
    seconds, _, _ = measured(generate, env)
    print(f"  generated in {seconds:.0f} s")
    seconds, _, _ = measured([_kairos(), "ingest", "--from", str(start), "--to", str(last)], env)
    print(f"  ingested in {seconds:.0f} s")
    figures = {}
    for name, extra in (("backlog", []), ("full refresh", ["--full-refresh"])):
        home = work / name.replace(" ", "-")
        shutil.copytree(loaded, home)
        seconds, peak, _ = measured([_kairos(), "build", *extra], dict(env, KAIROS_HOME=str(home)))
        figures[name] = (seconds, peak)
        print(f"  {name:<13} {seconds:7.1f} s  peak {peak:6.0f} MiB")
    backlog, full = figures["backlog"], figures["full refresh"]
    print(f"  backlog per date: {backlog[0] / args.days:.1f} s")
    print(f"  ratio backlog / full refresh = {backlog[0] / full[0]:.2f}  (aim <= 2)")


if __name__ == "__main__":
    main()
