"""Re-judge the list sizes of every published date of a Kairos home with the list gate's
counts suite as it is now (``python -m bench.rejudge_lists --home var/bench-daily/home``).

For each date whose lists are still on disk (published or withheld), runs the
``target_lists_counts`` query on a copy of the analysts' snapshot and prints how many
lists the size check judged and which fell outside their bounds. The snapshot holds
every date, and the query reads only the dates before the one judged, so a date is judged
as it was on its day. ``--ratio-low`` replaces the lower bound's ratio, to see what
another setting would have withheld.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import duckdb

from kairos import quality
from kairos.config import Settings


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--home", type=Path, required=True, help="the KAIROS_HOME of a run")
    p.add_argument("--ratio-low", type=float, default=None)
    args = p.parse_args()
    home = args.home.resolve()
    os.environ["KAIROS_HOME"] = str(home)
    cfg = Settings.from_env()
    suite = next(
        s for s in quality.load_suites(cfg, "target_lists") if s.name == "target_lists_counts"
    )
    query = suite.query
    if args.ratio_low is not None:
        marker = " * volume.typical_rows - sqrt(volume.typical_rows)"
        head, tail = query.split(marker, 1)
        query = head.rsplit("floor(", 1)[0] + f"floor(\n{args.ratio_low}{marker}" + tail
    scratch = Path(tempfile.mkdtemp(prefix="rejudge-"))
    try:
        db = scratch / "snapshot.duckdb"
        shutil.copyfile(cfg.snapshot.resolve(), db)
        con = duckdb.connect(str(db), read_only=True)
        days = [
            r[0]
            for r in con.execute(
                "select distinct business_date from marts.fct_target_list_members order by 1"
            ).fetchall()
        ]
        outside_days = 0
        for day in days:
            lists = scratch / str(day)
            lists.mkdir()
            for kind in ("versions", "_withheld"):
                for f in (cfg.publish_dir / kind / f"{day}.001").glob("*.parquet"):
                    shutil.copy(f, lists / f.name)
            if not any(lists.iterdir()):
                print(f"{day}: no lists on disk (retention)")
                continue
            cur = con.execute(query, {"business_date": day, "lists_dir": str(lists)})
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
            judged = [r for r in rows if r["volume_low"] is not None]
            outside = [
                f"{r['list_id']} {r['eligible_rows']} not in"
                f" [{r['volume_low']:.0f}, {r['volume_high']:.0f}]"
                for r in judged
                if not r["volume_low"] <= r["eligible_rows"] <= r["volume_high"]
            ]
            outside_days += bool(outside)
            print(f"{day}: {len(judged)} of {len(rows)} lists judged; outside: {outside or 'none'}")
        con.close()
        print(f"{outside_days} of {len(days)} dates with a list outside its bounds")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
