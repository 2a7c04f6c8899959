"""What a primary key costs a table that grows by a day of subscribers: ``make bench-keys``
(python -m bench.bench_keys).

Writes N rows a day (default 1 million) for D days (default 30) into a DuckDB table, a
day at a time as the daily build does (delete the date, insert it, commit), three ways,
each in its own process under the build's memory cap (1 GB):

* ``none``: no key (the baseline);
* ``row key``: Kairos's check of a row key (dbt_project/macros/row_keys.sql): after the
  insert, before the commit, a repeated (subscriber_id, business_date) among the day's
  rows is an error;
* ``primary key``: PRIMARY KEY (subscriber_id, business_date), enforced by an index
  DuckDB keeps over every day written.

Prints each way's first and last day's write, its total, its peak memory and its file's
size, and their ratios to the baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench.measure import measured

WAYS = ("none", "row key", "primary key")

# One way, in a child process: the day's write timed; prints "keys: <first> <last> <total>"
CODE = """
import datetime as dt, sys, time, duckdb
way, n, days, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
con = duckdb.connect(path, config={"memory_limit": "1GB"})
key = ", primary key (subscriber_id, business_date)" if way == "primary key" else ""
con.execute(
    "create table t (subscriber_id bigint not null, business_date date not null,"
    f" customer_id bigint, city varchar, arpu double{key})"
)
start, times = dt.date(2026, 11, 1), []
for d in range(days):
    day = start + dt.timedelta(days=d)
    t = time.perf_counter()
    con.execute("begin")
    con.execute("delete from t where business_date = ?", [day])
    con.execute(
        "insert into t select i, ?::date, i // 2, 'city' || (i % 20), (i % 1000) / 10.0"
        " from range(?) r(i)", [day, n])
    if way == "row key":
        con.execute(
            "select error('repeated') from (select 1 from t where business_date = ?"
            " group by subscriber_id, business_date having count(*) > 1) as r", [day]
        ).fetchall()
    con.execute("commit")
    times.append(time.perf_counter() - t)
con.close()
print("keys:", times[0], times[-1], sum(times))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows written a day")
    p.add_argument("--days", type=int, default=30)
    args = p.parse_args()
    print(f"bench-keys: {args.rows:,} rows a day for {args.days} days, a day per commit")
    print(f"{'way':<12} | first day | last day |  total | peak MiB | file MiB | vs none")
    base = None
    with tempfile.TemporaryDirectory(prefix="bench-keys-") as tmp:
        for way in WAYS:
            path = Path(tmp) / f"{way.replace(' ', '_')}.duckdb"
            _, peak, line = measured(
                [sys.executable, "-c", CODE, way, str(args.rows), str(args.days), str(path)],
                dict(os.environ),
                mark="keys: ",
            )
            first, last, total = map(float, line.split())
            size = path.stat().st_size / 2**20
            base = base or (last, total, peak, size)
            ratios = (
                f"last day x{last / base[0]:.1f}, total x{total / base[1]:.1f},"
                f" memory x{peak / base[2]:.1f}, file x{size / base[3]:.1f}"
            )
            print(
                f"{way:<12} | {first:8.2f}s | {last:7.2f}s | {total:5.1f}s |"
                f" {peak:8.0f} | {size:8.0f} | {ratios}"
            )


if __name__ == "__main__":
    main()
