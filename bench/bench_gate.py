"""Gate benchmark: ``make bench-gate``.

Generates, ingests and builds one business date at M subscribers (default 1 million),
takes the snapshot, then measures -- each in its own process -- the warehouse gate (all
raw-extract and marts suites: GX evaluating every row in Arrow batches, and DuckDB
aggregates) against the baseline of fetching the same rows from DuckDB into pandas
batches without validating them. The ratio is the cost of GX's evaluation on top of
reading the data; peak RSS shows memory bounded by the batch, not the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
from pathlib import Path

from bench.measure import measured

DAY = dt.date(2026, 11, 21)

BASELINE = """
import sys, time, duckdb
from kairos import quality
from kairos.config import Settings
cfg = Settings.from_env()
suites = [s for m in ("raw_extracts", "marts") for s in quality.load_suites(cfg, m)]
con = duckdb.connect(sys.argv[1], read_only=True)
rows = 0
for s in suites:
    used = {"business_date": sys.argv[2]} if "$business_date" in s.query else {}
    for t in quality._batches(con.sql(s.query, params=used).to_arrow_reader(s.batch_rows),
                              s.batch_rows):
        rows += len(t.to_pandas())
print(rows)
"""

GATE = """
import datetime as dt, sys
from pathlib import Path
from kairos import quality
from kairos.config import Settings
cfg = Settings.from_env()
suites = [s for m in ("raw_extracts", "marts") for s in quality.load_suites(cfg, m)]
day = dt.date.fromisoformat(sys.argv[2])
r = quality.run_gate(cfg, "bench", suites, day, database=Path(sys.argv[1]),
                     raise_on_failure=False)
print(sum(s.rows for s in r.suites), r.success)
"""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subscribers", type=int, default=1_000_000)
    p.add_argument("--workdir", type=Path, default=Path("var/bench-gate"))
    args = p.parse_args()
    work = args.workdir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    env = dict(os.environ, KAIROS_HOME=str(work))
    env.pop("KAIROS_WAREHOUSE", None)
    env.pop("KAIROS_LANDING", None)
    kairos = str(Path(sys.executable).with_name("kairos"))
    py = sys.executable
    print(f"bench-gate: {args.subscribers:,} subscribers, {DAY}, work dir {work}")
    for step in (
        ["generate", "--date", str(DAY), "--subscribers", str(args.subscribers), "--quiet"],
        ["ingest", "--date", str(DAY)],
        ["build", "--date", str(DAY)],
        ["snapshot"],
    ):
        seconds, rss, _ = measured([kairos, *step], env)
        print(f"  {step[0]:<10} {seconds:7.1f} s  peak {rss:7.0f} MiB")
    snapshot = str(work / "snapshot" / "kairos.duckdb")
    base_s, base_rss, base_rows = measured([py, "-c", BASELINE, snapshot, DAY.isoformat()], env)
    gate_s, gate_rss, gate_out = measured([py, "-c", GATE, snapshot, DAY.isoformat()], env)
    rows, success = gate_out.split()
    result = {
        "subscribers": args.subscribers,
        "rows_validated": int(rows),
        "baseline_rows": int(base_rows),
        "baseline_s": round(base_s, 1),
        "baseline_peak_mib": round(base_rss),
        "gate_s": round(gate_s, 1),
        "gate_peak_mib": round(gate_rss),
        "gate_passed": success == "True",
        "ratio_gate_to_baseline": round(gate_s / base_s, 2),
    }
    print(
        f"  baseline: fetch {int(base_rows):,} rows in batches  {base_s:7.1f} s"
        f"  peak {base_rss:7.0f} MiB"
    )
    print(
        f"  gate: GX on {int(rows):,} rows (passed: {success})  {gate_s:7.1f} s"
        f"  peak {gate_rss:7.0f} MiB"
    )
    print(f"  ratio gate / baseline = {result['ratio_gate_to_baseline']}")
    (work / "result.json").write_text(json.dumps(result, indent=2))
    return 0 if result["gate_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
