"""Ingestion benchmark: ``make bench-ingest``.

For one business date at N subscribers (default 1 million) it measures, each phase in
its own process so that peak memory is that phase's alone:

* generation: rows/s and peak RSS, and peak RSS at N/10 for the ratio that shows memory
  stays flat as the subscriber count grows;
* Kairos ingestion of every extract (control check, GBK decode, typed load, row rules,
  ledger): rows/s and peak RSS;
* the baseline, measured in the same run on the same machine: DuckDB's bare
  ``read_csv`` of the same bytes already in UTF-8, with the same column types, into
  tables of a fresh database file.

Seconds vary with the machine and its neighbours; the ratio Kairos / baseline is the
figure to watch (target <= 2.0).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.measure import measured

DAY = dt.date(2026, 11, 21)


def measured_code(code: str, env: dict) -> tuple[float, float, str]:
    """Run Python code in a child process; (seconds, peak RSS in MiB, its last line)."""
    return measured([sys.executable, "-c", code], env)


def generate_code(landing: Path, subscribers: int, seed: int) -> str:
    return (
        "import datetime as dt, pathlib, json\n"
        "from kairos_sample import generate\n"
        f"m = generate(pathlib.Path({str(landing)!r}), dt.date.fromisoformat('{DAY}'), 1,"
        f" {subscribers}, {seed}, progress=False)\n"
        "print(json.dumps(sum(f['rows'] for d in m['files'].values() for f in d.values())))\n"
    )


INGEST_CODE = """
import datetime as dt, json
from kairos.config import Settings
from kairos.ingest import ingest_dates
day = dt.date.fromisoformat('{day}')
results, failures = ingest_dates(Settings.from_env(), day, day)
assert not failures, failures
print(json.dumps(sum(r.rows_loaded + r.rows_quarantined for r in results)))
"""

BASELINE_CODE = """
import duckdb, json
from kairos import contract
from kairos.ingest.load import _sql_str
con = duckdb.connect({db!r})
total = 0
for e in contract.extracts():
    cols = "{{" + ", ".join(f"{{_sql_str(c.name)}}: {{_sql_str(c.type)}}" for c in e.columns) + "}}"
    path = {utf8!r} + "/" + e.key + ".csv"
    con.execute(f"create table {{e.system}}_{{e.name}} as select * from read_csv("
                f"{{_sql_str(path)}}, delim='|', header=true, quote='', escape='',"
                f" auto_detect=false, columns={{cols}})")
    total += con.execute(f"select count(*) from {{e.system}}_{{e.name}}").fetchall()[0][0]
con.close()
print(json.dumps(total))
"""


def to_utf8(landing: Path, target: Path, day: dt.date = DAY) -> int:
    """Copy every data file of ``day`` as UTF-8 (GBK decoded) for the baseline; returns
    bytes."""
    from kairos import contract

    target.mkdir(parents=True, exist_ok=True)
    size = 0
    for e in contract.extracts():
        src = e.data_path(landing, day)
        dst = target / f"{e.key}.csv"
        with src.open("rb") as fin, dst.open("wb") as fout:
            carry = b""
            while block := fin.read(8 * 1024 * 1024):
                buf = carry + block
                cut = buf.rfind(b"\n") + 1  # decode whole lines only
                carry = buf[cut:]
                fout.write(buf[:cut].decode(e.encoding).encode("utf-8"))
            fout.write(carry.decode(e.encoding).encode("utf-8"))
        size += dst.stat().st_size
    return size


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--subscribers", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--workdir", type=Path, default=None, help="kept afterwards if given")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="kairos-bench-"))
    home = work / "home"
    small_home = work / "small"
    for d in (home, small_home):
        shutil.rmtree(d, ignore_errors=True)
    env = dict(os.environ, KAIROS_HOME=str(home))
    env.pop("KAIROS_WAREHOUSE", None)
    env.pop("KAIROS_LANDING", None)
    n = args.subscribers
    print(f"bench-ingest: {n:,} subscribers, business date {DAY}, work dir {work}")

    small = max(n // 10, 1000)
    _, small_rss, _ = measured_code(generate_code(small_home / "landing", small, args.seed), env)
    gen_s, gen_rss, out = measured_code(generate_code(home / "landing", n, args.seed), env)
    rows = json.loads(out)
    data_bytes = sum(f.stat().st_size for f in (home / "landing").rglob("*.dat"))
    print(
        f"generate   {gen_s:8.1f} s  {rows / gen_s:12,.0f} rows/s  peak {gen_rss:7.0f} MiB"
        f"  ({rows:,} rows, {data_bytes / 2**20:,.0f} MiB)"
    )
    print(
        f"           peak at {small:,} subscribers {small_rss:.0f} MiB:"
        f" memory ratio x{n / small:.0f} subscribers -> x{gen_rss / small_rss:.2f}"
    )

    utf8_dir = work / "utf8"
    to_utf8(home / "landing", utf8_dir)
    base_db = work / "baseline.duckdb"
    base_db.unlink(missing_ok=True)
    base_s, base_rss, out = measured_code(
        BASELINE_CODE.format(db=str(base_db), utf8=str(utf8_dir)), env
    )
    assert json.loads(out) == rows, "baseline read a different number of rows"
    ing_s, ing_rss, out = measured_code(INGEST_CODE.format(day=DAY), env)
    assert json.loads(out) == rows, "ingest accounted for a different number of rows"
    ratio = ing_s / base_s
    print(
        f"baseline   {base_s:8.1f} s  {rows / base_s:12,.0f} rows/s  peak {base_rss:7.0f} MiB"
        "  (duckdb read_csv, same bytes in UTF-8, same types)"
    )
    print(
        f"ingest     {ing_s:8.1f} s  {rows / ing_s:12,.0f} rows/s  peak {ing_rss:7.0f} MiB"
        "  (kairos: control check, GBK decode, typed load, rules, ledger)"
    )
    print(f"ratio      ingest / baseline = {ratio:.2f}  (target <= 2.0)")
    figures = {
        "subscribers": n,
        "rows": rows,
        "data_mib": data_bytes / 2**20,
        "generate_s": gen_s,
        "generate_peak_mib": gen_rss,
        "generate_small_peak_mib": small_rss,
        "baseline_s": base_s,
        "baseline_peak_mib": base_rss,
        "ingest_s": ing_s,
        "ingest_peak_mib": ing_rss,
        "ratio": ratio,
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
