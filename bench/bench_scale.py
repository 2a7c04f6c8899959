"""Ten times the subscribers: ``make bench-scale`` (python -m bench.bench_scale).

Runs the whole-day benchmark (:mod:`bench.bench_daily`: generate, ingest, build,
snapshot, gates, lists, one process per phase, N days of history) at a base size and at
ten times it -- default 1 million and 10 million subscribers, 8 days, so the measured day
has 7 days of history -- and prints, step by step, the time at each size and its
growth. For ten times the subscribers no step should grow more than ten times, and no
phase may pass the machine's memory (24 GiB here).

``--reuse BASE.json LARGE.json`` prints the comparison of two earlier ``bench_daily
--json`` runs without running anything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

PHASES = ("ingest", "build", "publish")


def run(subscribers: int, days: int, workdir: Path, out: Path) -> dict:
    argv = [sys.executable, "-m", "bench.bench_daily", "--subscribers", str(subscribers)]
    argv += ["--days", str(days), "--workdir", str(workdir), "--json", str(out)]
    subprocess.run(argv, check=True, env=os.environ)
    return json.loads(out.read_text())


def steps(result: dict) -> dict[str, float]:
    last = result["days"][-1]
    out: dict[str, float] = {}
    for phase in PHASES:
        out.update(last[phase]["steps"])
        out[f"({phase} process)"] = last[phase]["seconds"] - sum(last[phase]["steps"].values())
    return out


def compare(base: dict, large: dict) -> int:
    n0, n1 = base["params"]["subscribers"], large["params"]["subscribers"]
    factor = n1 / n0
    s0, s1 = steps(base), steps(large)
    print(f"\nday {len(large['days'])} at {n0:,} and {n1:,} subscribers (x{factor:g}):")
    print(f"  {'step':<26}{'base s':>9}{'large s':>10}{'growth':>9}")
    worst = 0.0
    for name in s1:
        a, b = s0.get(name, 0.0), s1[name]
        growth = b / a if a > 0.05 else float("nan")
        worst = max(worst, growth if growth == growth else 0.0)
        print(f"  {name:<26}{a:9.1f}{b:10.1f}{growth:9.1f}")
    t0, t1 = base["whole_run_s"], large["whole_run_s"]
    print(f"  {'whole run':<26}{t0:9.1f}{t1:10.1f}{t1 / t0:9.1f}")
    for phase in PHASES:
        p0 = base["days"][-1][phase]["peak_mib"]
        p1 = large["days"][-1][phase]["peak_mib"]
        print(f"  peak {phase:<21}{p0:8.0f}M{p1:9.0f}M{p1 / p0:9.1f}")
    peak = max(d[p]["peak_mib"] for d in large["days"] for p in PHASES)
    print(f"  largest peak of any phase on any day at {n1:,}: {peak / 1024:.1f} GiB")
    print(
        f"  ratio to the floor: {base['ratio']:.1f} at {n0:,}, {large['ratio']:.1f} at {n1:,};"
        f" worst step growth {worst:.1f} (aim <= {factor:g})"
    )
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subscribers", type=int, default=1_000_000, help="the base size")
    p.add_argument("--factor", type=int, default=10)
    p.add_argument("--days", type=int, default=8)
    p.add_argument("--workdir", type=Path, default=Path("var/bench-scale"))
    p.add_argument("--reuse", type=Path, nargs=2, metavar=("BASE", "LARGE"))
    args = p.parse_args()
    if args.reuse:
        base, large = (json.loads(path.read_text()) for path in args.reuse)
        return compare(base, large)
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    base = run(args.subscribers, args.days, work / "base", work / "base.json")
    large = run(args.subscribers * args.factor, args.days, work / "large", work / "large.json")
    return compare(base, large)


if __name__ == "__main__":
    sys.exit(main())
