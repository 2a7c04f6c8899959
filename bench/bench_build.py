"""Warehouse build benchmark: ``make bench-build``.

Generates N days (default 30) at M subscribers (default 1 million), then replays them as
production would: for each day, ``kairos ingest --date D`` and ``kairos build --date D``
(dbt seeds, staging, intermediate and marts with their tests), each in its own process.
It prints the build's time and peak memory per day and the ratio of building the last day
(with all earlier days as history) to building the first: the fact models are
incremental by business date, so the ratio should stay near 1 (target <= 1.5).

The generated extracts are kept in --workdir and reused when the parameters match, since
generating 30 days at 1 M subscribers takes a quarter of an hour.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

from bench.measure import measured

START = dt.date(2026, 11, 1)


def generator_fingerprint() -> str:
    """SHA-256 over the generator's source: a cached delivery is stale when it changes."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent.parent / "sample" / "src" / "kairos_sample"
    for path in sorted(root.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subscribers", type=int, default=1_000_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--workdir", type=Path, default=Path("var/bench-build"))
    p.add_argument("--generate-only", action="store_true")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()

    kairos = str(Path(sys.executable).with_name("kairos"))
    # ingestion refuses a business date in the future: a run that would reach past
    # yesterday starts earlier
    start = min(START, dt.date.today() - dt.timedelta(days=args.days))
    work = args.workdir.resolve()
    landing = work / "landing"
    params = {
        "subscribers": args.subscribers,
        "days": args.days,
        "seed": args.seed,
        "start": str(start),
        # regenerate when the generator changes, not only its parameters
        "generator": generator_fingerprint(),
    }
    stamp = work / "generated.json"
    env = dict(os.environ, KAIROS_LANDING=str(landing))
    env.pop("KAIROS_WAREHOUSE", None)
    print(
        f"bench-build: {args.subscribers:,} subscribers, {args.days} days from {start},"
        f" work dir {work}"
    )
    if not stamp.exists() or json.loads(stamp.read_text()) != params:
        shutil.rmtree(landing, ignore_errors=True)
        seconds, rss, _ = measured(
            [
                kairos,
                "generate",
                "--date",
                str(start),
                "--days",
                str(args.days),
                "--subscribers",
                str(args.subscribers),
                "--seed",
                str(args.seed),
                "--out",
                str(landing),
                "--quiet",
            ],
            env,
        )
        stamp.write_text(json.dumps(params))
        print(f"generated in {seconds:.0f} s (peak {rss:.0f} MiB)")
    else:
        print("reusing the generated extracts")
    if args.generate_only:
        return 0

    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    env["KAIROS_HOME"] = str(home)
    builds = []
    for k in range(args.days):
        day = start + dt.timedelta(days=k)
        ingest_s, _ = measured([kairos, "ingest", "--date", str(day)], env)[:2]
        build_s, build_rss = measured([kairos, "build", "--date", str(day)], env)[:2]
        builds.append(
            {
                "date": str(day),
                "ingest_s": ingest_s,
                "build_s": build_s,
                "build_peak_mib": build_rss,
            }
        )
        print(
            f"day {k + 1:2d} {day}: ingest {ingest_s:6.1f} s, build {build_s:6.1f} s,"
            f" build peak {build_rss:6.0f} MiB",
            flush=True,
        )
    first, last = builds[0], builds[-1]
    ratio = last["build_s"] / first["build_s"]
    times = [b["build_s"] for b in builds]
    print(
        f"build day 1: {first['build_s']:.1f} s; day {args.days}: {last['build_s']:.1f} s"
        f" (median {statistics.median(times):.1f} s, max {max(times):.1f} s);"
        f" peak {max(b['build_peak_mib'] for b in builds):.0f} MiB"
    )
    print(f"ratio day {args.days} / day 1 = {ratio:.2f}  (target <= 1.5)")
    if args.json:
        args.json.write_text(
            json.dumps({"params": params, "builds": builds, "ratio": ratio}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
