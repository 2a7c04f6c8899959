"""``kairos demo``: the daily pipeline on generated sample data, through Airflow, on the
embedded DuckDB -- what ``make demo`` runs."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import duckdb

from kairos import airflow_local, contract, locks, publish
from kairos.config import Settings
from kairos_sample import generate


def _print_key_moments(con, business_date: dt.date) -> None:
    """Today's warnings, the contact policy's decisions, the pool and the short boards."""

    def q(sql):
        return con.execute(sql, [business_date]).fetchall()

    types = q(
        "select warning_type, count(*) from marts.fct_key_moment_warnings"
        " where business_date = ? group by all order by 2 desc"
    )
    print("  key-moment warnings: " + ", ".join(f"{t} {n:,}" for t, n in types))
    decisions = q(
        "select decision || coalesce(' (' || suppression_reason || ')', ''), count(*)"
        " from marts.fct_key_moment_tasks where business_date = ? group by all order by 2 desc"
    )
    print("  contact policy: " + ", ".join(f"{d} {n:,}" for d, n in decisions))
    channels = q(
        "select channel, count(*) from marts.fct_key_moment_tasks"
        " where business_date = ? and decision = 'dispatched' group by all order by 2 desc"
    )
    print("  tasks by channel: " + ", ".join(f"{c} {n:,}" for c, n in channels))
    pool = q(
        "select pool_type, count(*) from marts.fct_dissatisfied_pool_daily"
        " where business_date = ? group by all order by all"
    )
    print("  dissatisfied pool: " + ", ".join(f"{t} {n:,}" for t, n in pool))
    boards = con.execute(
        "select group_value, indicator, weak_standard_item from marts.rpt_satisfaction_short_boards"
        " where is_short_board and group_type = 'brand_tier_arpu' order by surveys desc limit 4"
    ).fetchall()
    print(
        "  short boards (weak standard item): "
        + "; ".join(f"{g}: {i}" + (f" ({w})" if w else "") for g, i, w in boards)
    )


def _print_lists(cfg, business_date: dt.date) -> None:
    """Where the certified lists are, and how campaign teams get them."""
    directory = publish.published_dir(cfg, business_date)
    reports = sorted((cfg.publish_dir / "_reports").glob(f"{business_date}-*.txt"))
    if directory is None:
        print("\nNo target lists published for this date.")
        if reports:
            print(reports[-1].read_text(encoding="utf-8"))
        return
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    gates = manifest.get("certified_by", {}).get("gates", [])
    print(f"\nCertified target lists {cfg.publish_dir / 'lists' / str(business_date)}")
    print(
        "  certified by: "
        + ", ".join(f"{g['gate']} {'passed' if g['success'] else 'FAILED'}" for g in gates)
    )
    for item in manifest["lists"][:8]:
        print(f"  {item['list_id']:<42}{item['rows']:>8,} rows  ({item['owner_team']})")
    if len(manifest["lists"]) > 8:
        print(f"  ... {len(manifest['lists']) - 8} more lists; manifest.json lists them all")
    print(f"  analysts' snapshot: {cfg.home / 'snapshot' / 'kairos.duckdb'} (read-only)")
    print("\nDownload portal for campaign teams:")
    print("  .venv/bin/kairos portal-user --user ann --team care-team   # asks for a password")
    print("  make portal          # http://127.0.0.1:8080/  (PORTAL_ARGS='--port 9000')")


@contextlib.contextmanager
def _output_to(path: Path):
    """Send everything this process writes to stdout and stderr -- Airflow's task logs,
    dbt's, GX's -- to ``path`` while the block runs; the demo itself prints the story."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _print_warehouse(cfg: Settings, business_date: dt.date) -> None:
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        print(f"\nWarehouse {cfg.warehouse}")
        print(f"  {'table':<36}{'rows':>12}{'quarantined':>13}")
        for e in contract.extracts():
            rows = con.execute(
                f"select count(*) from {e.raw_table} where business_date = ?", [business_date]
            ).fetchall()[0][0]
            bad = con.execute(
                "select count(*) from audit.quarantine where system = ? and extract = ?"
                " and business_date = ?",
                [e.system, e.name, business_date],
            ).fetchall()[0][0]
            print(f"  {e.raw_table:<36}{rows:>12,}{bad:>13,}")
        statuses = con.execute(
            "select status, count(*) from audit.load_ledger where business_date = ?"
            " group by all order by all",
            [business_date],
        ).fetchall()
        print("  load ledger: " + ", ".join(f"{n} {s}" for s, n in statuses))
        marts = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_schema in ('marts', 'intermediate') order by all"
        ).fetchall()
        if marts:
            print("  marts: " + ", ".join(name for (name,) in marts))
            usage = con.execute(
                "select service_product_code, sum(uses) as uses,"
                " sum(subscribers_using) as users from marts.fct_service_product_usage_daily"
                " where business_date = ? group by all order by uses desc limit 5",
                [business_date],
            ).fetchall()
            print(
                "  most used service products today: "
                + ", ".join(f"{code} {uses:,}" for code, uses, _ in usage)
            )
            _print_key_moments(con, business_date)
    finally:
        con.close()


DEMO_BESIDE_AIRFLOW = (
    "the demo runs each DAG with dag.test() in the metadata database that Airflow uses, and"
    " a live scheduler does not survive that. Stop it (Ctrl-C where `make airflow` runs)"
    " and run the demo again, or run the day through it (README, 'Run it every day')"
)


def run(cfg: Settings, business_date: dt.date, subscribers: int, seed: int) -> int:
    """The demo, holding Kairos's Airflow lock (``kairos.airflow_local.lock_path``) for
    its whole run: refused at once, saying why, while ``kairos scheduler`` runs on the
    same data root -- and ``kairos scheduler`` refuses while the demo runs."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(airflow_local.hold_airflow(cfg, "kairos demo", DEMO_BESIDE_AIRFLOW))
        except locks.Busy as exc:
            print(exc, file=sys.stderr)
            return 1
        return _run(cfg, business_date, subscribers, seed)


def _run(cfg: Settings, business_date: dt.date, subscribers: int, seed: int) -> int:
    airflow_local.configure(cfg, quiet=True)
    print(f"Kairos demo: business date {business_date}, {subscribers:,} subscribers, seed {seed}")
    print(f"  data root       {cfg.home}")
    print("1/5 Airflow metadata DB and the warehouse writer pool ...")
    with _output_to(cfg.home / "logs" / f"demo-{business_date}.log"):
        airflow_local.ensure_metadata_db(cfg)

    print(f"2/5 generating the day's BOSS, CRM and BI extracts into {cfg.landing} ...")

    generate(cfg.landing, business_date, 1, subscribers, seed, progress=sys.stderr.isatty())

    log_path = cfg.home / "logs" / f"demo-{business_date}.log"
    print(f"  logs (Airflow, dbt, GX): {log_path}")

    def run_dag(dag_id: str) -> None:
        started = time.monotonic()
        with _output_to(log_path):
            result = airflow_local.run_dag(cfg, dag_id, business_date)
        print(f"  {result.dag_id:<22} {result.state:<8} {time.monotonic() - started:5.0f}s")
        if not result.ok:
            failed.append(result)
            for task_id, state in sorted(result.task_states.items()):
                if state != "success":
                    print(f"      {task_id}: {state}")

    print("3/5 running the ingest DAGs with dag.test() ...")
    failed = []
    for system in contract.systems():
        run_dag(f"ingest_{system}")
    if not failed:
        print("4/5 running build_warehouse (dbt seed, staging, intermediate, marts, docs,")
        print("    snapshot) ...")
        run_dag("build_warehouse")
    if not failed:
        print("5/5 running publish_target_lists (GX gates, lists, gate, atomic publish) ...")
        run_dag("publish_target_lists")

    _print_warehouse(cfg, business_date)
    _print_lists(cfg, business_date)
    print(f"\nGround truth of the generated data: {cfg.landing / '_ground_truth'}")
    print(f"Airflow home (SQLite metadata): {cfg.airflow_home}")
    print("Run it every day under a real scheduler: make airflow (README, 'Run it every day')")
    print(f"Inspect: .venv/bin/kairos ledger --date {business_date}")
    print(
        '         .venv/bin/kairos sql "select brand, count(*) from raw.boss_subscribers'
        ' group by all"   (read-only)'
    )
    if failed:
        print(f"\n{len(failed)} DAG run(s) failed", file=sys.stderr)
        return 1
    return 0
