"""``make soak``: Kairos under a real Airflow scheduler over consecutive business dates.

Starts Airflow for Kairos (``kairos scheduler``: API server, then scheduler, DAG
processor, triggerer; LocalExecutor; ``config/airflow.cfg``) on a fresh data root, unpauses the
DAGs, and for each business date: delivers the day's extracts (with the faults planted
for that day; CRM's contacts execute the target lists published the day before, so the
loop Kairos -> lists -> CRM -> contacts -> Kairos runs for real), triggers the three
ingest DAGs as the schedule would (logical date 06:00 the next morning), and lets the
scheduler do the rest -- Asset-triggered builds and publishing, backlog continuations.
Once the day has settled it reads what happened from the ledgers and the publishing
outcome, compares it with what the fault plan says should happen, and prints one row
per day. Exit status 1 if any row is not as expected. ``--restart-day N`` stops and
starts Airflow while day N's ingest runs are under way, as an operator restarting
``make airflow`` would; that day must still publish.

    python -m tests.harness.soak --days 30 --subscribers 1500       # make soak
    python -m tests.harness.soak --days 3 --plan short               # what CI runs
    python -m tests.harness.soak --days 2 --plan short --engines duckdb,spark   # Spark beside

With ``--engines duckdb,spark`` each date is built on Spark too (``build_warehouse_spark``)
and the row says so; at the end the task instances show the pools at work: no two tasks
of DuckDB's writer pool ran at once, and DuckDB's tasks ran while a Spark build did.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from kairos import airflow_local

REPO = Path(__file__).resolve().parents[2]

# day number (1-based) -> faults planted in that day's delivery
PLANS = {
    "month": {
        4: ["late:boss.payments"],
        7: ["wrong-count:crm.complaints"],
        10: ["malformed:boss.daily_usage"],
        13: ["volume-drop:boss.daily_usage"],
        16: ["missing:bi.customer_tags", "missing:bi.satisfaction_surveys"],
        22: ["malformed:crm.contacts", "late:bi.satisfaction_surveys"],
        25: ["wrong-count:boss.subscribers"],
    },
    "short": {2: ["wrong-count:crm.complaints"]},
    "clean": {},
}


@dataclass
class Expected:
    """What the generator's plan says a day should end as."""

    built: bool = True
    publication: str = "published"  # published | withheld | none
    refused: int = 0
    quarantined_min: int = 0
    why: list[str] = field(default_factory=list)


def expected_for(faults: list[str]) -> Expected:
    exp = Expected()
    for fault in faults:
        kind = fault.partition(":")[0]
        exp.why.append(fault)
        if kind in ("wrong-count", "truncated"):
            exp.refused += 1
            exp.built, exp.publication = False, "none"
        elif kind == "missing":
            exp.built, exp.publication = False, "none"
        elif kind == "malformed":
            exp.quarantined_min += 1
        elif kind == "volume-drop":
            exp.publication = "withheld"  # the warehouse gate's volume check
    return exp


# Airflow's parts, each its own process: ``airflow standalone`` runs them together but
# forces the LocalExecutor, so a distributed executor gets them one by one, and workers
CELERY_PARTS = (
    ("scheduler",),
    ("dag-processor",),
    ("triggerer",),
    ("api-server",),
    ("celery", "worker", "--queues", "kairos", "--concurrency", "4"),
)


def celery_environment(home: Path) -> dict[str, str]:
    """The CeleryExecutor with a broker and a result store that need no server (kombu's
    SQLAlchemy transport and Celery's database backend, on SQLite files under the data
    root); every Kairos task on the queue ``kairos`` (KAIROS_TASK_QUEUE), which the
    worker started beside the scheduler serves. Redis or RabbitMQ replace the broker in
    production (docs/orchestration.md)."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": f"sqla+sqlite:///{home / 'celery-broker.db'}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+sqlite:///{home / 'celery-results.db'}",
        "KAIROS_TASK_QUEUE": "kairos",
    }


def celery_tasks(home: Path) -> int:
    """Task instances the Celery worker ran to success (its result store)."""
    import sqlite3

    con = sqlite3.connect(home / "celery-results.db")
    try:
        return con.execute(
            "select count(*) from celery_taskmeta where status = 'SUCCESS'"
        ).fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        con.close()


def spark_environment(home: Path) -> dict[str, str]:
    """The warehouse built on Spark too: the lake under the data root, the Spark
    environment's Python (make spark-setup), one Spark build at a time."""
    return {
        "KAIROS_ENGINES": "duckdb,spark",
        "KAIROS_LAKE": str(home / "lake"),
        "KAIROS_SPARK_PYTHON": str(REPO / ".venv-spark" / "bin" / "python"),
        "KAIROS_SPARK_POOL_SLOTS": "1",
    }


def pools_held(airflow: Airflow) -> bool:
    """What the scheduler did with the pools, from its task instances: no two tasks of
    DuckDB's writer pool ever ran at once, and DuckDB's tasks did run while a Spark build
    ran (the Spark build held the Spark pool, not DuckDB's)."""
    from kairos.spark import POOL as SPARK_POOL
    from kairos.warehouse.store import WRITER_POOL

    def spans(pool: str) -> list[tuple[dt.datetime, dt.datetime, str]]:
        found, offset = [], 0
        while True:
            page = airflow.request(
                "GET",
                f"/api/v2/dags/~/dagRuns/~/taskInstances?pool={pool}&state=success"
                f"&state=failed&limit=100&offset={offset}",
            )
            for ti in page["task_instances"]:
                if ti["start_date"] and ti["end_date"]:
                    found.append(
                        (
                            dt.datetime.fromisoformat(ti["start_date"]),
                            dt.datetime.fromisoformat(ti["end_date"]),
                            f"{ti['dag_id']}.{ti['task_id']}",
                        )
                    )
            offset += len(page["task_instances"])
            if not page["task_instances"] or offset >= page["total_entries"]:
                return sorted(found)

    duck, spark = spans(WRITER_POOL), spans(SPARK_POOL)
    overlapping, longest = [], None  # longest: the span ending last so far
    for span in duck:
        if longest and span[0] < longest[1]:
            overlapping.append((longest[2], span[2]))
        if longest is None or span[1] > longest[1]:
            longest = span
    beside = [d for d in duck if any(d[0] < s[1] and s[0] < d[1] for s in spark)]
    seconds = sum((s[1] - s[0]).total_seconds() for s in spark)
    print(
        f"pools: {len(duck)} task instances in {WRITER_POOL}, {len(overlapping)} of them"
        f" overlapping another; {len(spark)} Spark builds ({seconds:.0f} s in all) in"
        f" {SPARK_POOL}, {len(beside)} DuckDB tasks ran beside them"
    )
    for first, second in overlapping[:5]:
        print(f"  DuckDB's writer pool held twice: {first} and {second}")
    return bool(duck) and bool(spark) and not overlapping and bool(beside)


class Airflow:
    """Airflow (``kairos scheduler``, or Airflow's parts and a Celery worker) in its own
    process groups, and its REST API."""

    def __init__(self, cfg, port: int, env: dict[str, str], executor: str = "local"):
        self.home, self.port, self.env, self.executor = cfg.airflow_home, port, env, executor
        self.base = f"http://127.0.0.1:{port}"
        self.api = airflow_local.Api(cfg, self.base)
        self.procs: list[subprocess.Popen] = []

    @property
    def proc(self) -> subprocess.Popen | None:
        return self.procs[0] if self.procs else None

    def start(self, log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = log_path.open("ab")
        # local: Kairos's own supervisor (kairos scheduler), as an operator runs it
        kairos = [str(Path(sys.executable).with_name("kairos")), "scheduler"]
        commands = (
            [kairos]
            if self.executor == "local"
            else [[sys.executable, "-m", "airflow", *part] for part in CELERY_PARTS]
        )
        for command in commands:
            self.procs.append(
                subprocess.Popen(
                    command,
                    env=self.env,
                    stdout=self.log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def exited(self) -> str | None:
        """The part that exited, if one did."""
        for proc in self.procs:
            if proc.poll() is not None:
                return " ".join(proc.args[-1:] if self.executor == "local" else proc.args[3:])
        return None

    def restart(self, dag_ids: list[str]) -> None:
        """Stop Airflow as an operator would (SIGTERM, as Ctrl-C) in the middle of a day
        and start it again: the day's runs must go on and finish."""
        log = Path(self.log.name)
        self.stop()
        self.procs, self.api.token = [], None
        self.start(log)
        self.wait_ready(dag_ids)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        # kairos scheduler lets the running tasks finish before it exits
        for proc in self.procs:
            try:
                proc.wait(900 if self.executor == "local" else 60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if getattr(self, "log", None):
            self.log.close()

    def request(self, method: str, path: str, body: dict | None = None):
        return self.api.request(method, path, body)

    def wait_ready(self, dag_ids: list[str], timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if part := self.exited():
                raise RuntimeError(f"airflow {part} exited (log: {self.log.name})")
            if set(dag_ids) <= self.api.dag_ids():
                return
            time.sleep(3)
        raise TimeoutError("Airflow did not come up with the Kairos DAGs")

    def unpause(self, dag_id: str) -> None:
        self.api.unpause(dag_id)

    def trigger(self, dag_id: str, logical_date: dt.datetime, conf: dict | None = None) -> str:
        return self.api.trigger(dag_id, logical_date, conf)

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        return self.request("GET", path)["state"]

    def failed_runs(self, dag_id: str, since: dt.datetime) -> int:
        runs = self.request(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns?state=failed"
            f"&start_date_gte={since.isoformat().replace('+00:00', 'Z')}",
        )
        return runs["total_entries"]

    def active_runs(self, dag_ids: list[str]) -> int:
        n = 0
        for dag_id in dag_ids:
            for state in ("queued", "running"):
                runs = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?state={state}")
                n += runs["total_entries"]
        return n


def airflow_environment(cfg, port: int) -> dict[str, str]:
    """What a harness's Airflow runs with on ``cfg``'s data root: Kairos's own Airflow
    environment (PATH: ``airflow`` for its parts), the API on ``port``, this repository
    importable (the alert sink)."""
    return {
        **airflow_local.process_environment(cfg, quiet=True),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def observe(cfg, day: dt.date) -> dict:
    """What happened to ``day``, from the warehouse ledgers and publishing's outcome."""
    import duckdb

    from kairos import contract, pipeline
    from kairos.publish import outcomes

    delivered = sum(1 for e in contract.extracts() if e.control_path(cfg.landing, day).exists())
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        ledger = dict(
            con.execute(
                "select status, count(*) from (select arg_max(status, finished_at) as status"
                " from audit.load_ledger where business_date = ? group by system, extract)"
                " group by all",
                [day],
            ).fetchall()
        )
        loaded_rows, quarantined = con.execute(
            "select coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0) from"
            " (select arg_max(rows_loaded, finished_at) as rows_loaded,"
            " arg_max(rows_quarantined, finished_at) as rows_quarantined from audit.load_ledger"
            " where business_date = ? and status in ('loaded', 'replaced', 'unchanged')"
            " group by system, extract)",
            [day],
        ).fetchone()
        build = con.execute(
            "select arg_max(status, finished_at) from audit.build_ledger where business_date = ?",
            [day],
        ).fetchone()[0]
        spark = con.execute(
            "select arg_max(status, finished_at) from audit.engine_build_ledger"
            " where engine = 'spark' and business_date = ?",
            [day],
        ).fetchone()[0]
    finally:
        con.close()
    outcome = outcomes.read_outcome(cfg, day) or {}
    lists = outcome.get("lists", {})
    return {
        "delivered": delivered,
        "loaded": sum(ledger.get(s, 0) for s in pipeline.GOOD_LOADS),
        "refused": ledger.get("refused", 0),
        "rows": int(loaded_rows),
        "quarantined": int(quarantined),
        "built": build or "no",
        "spark": spark,
        "publication": outcome.get("status", "none"),
        "published_lists": sum(1 for v in lists.values() if v["status"] == "published"),
        "withheld_lists": sum(1 for v in lists.values() if v["status"] == "withheld"),
        "reason": outcome.get("reason", ""),
    }


def verdict(exp: Expected, got: dict) -> bool:
    publication = {"published": ("published",), "withheld": ("withheld",), "none": ("none",)}
    return (
        (got["built"] == "built") == exp.built
        and got["publication"] in publication[exp.publication]
        and got["refused"] == exp.refused
        and got["quarantined"] >= exp.quarantined_min
        and (exp.quarantined_min > 0 or got["quarantined"] == 0)
        and (exp.publication != "published" or got["published_lists"] > 0)
    )


HEADER = (
    "| day | business date | faults | delivered | loaded | refused | rows | quarantined"
    " | built | publication | lists published / withheld | expected | as expected |"
)


def row(n: int, day: dt.date, faults: list[str], got: dict, exp: Expected, ok: bool) -> str:
    expected = f"{'built' if exp.built else 'not built'}, {exp.publication}"
    return (
        f"| {n} | {day} | {', '.join(faults) or '-'} | {got['delivered']}/14 | {got['loaded']}"
        f" | {got['refused']} | {got['rows']:,} | {got['quarantined']:,} | {got['built']}"
        f" | {got['publication']} | {got['published_lists']} / {got['withheld_lists']}"
        f" | {expected} | {'yes' if ok else '**NO**'} |"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2026, 10, 1))
    p.add_argument("--subscribers", type=int, default=1500)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--plan", choices=sorted(PLANS), default="month")
    p.add_argument("--home", type=Path, default=REPO / "var" / "soak")
    p.add_argument("--day-timeout", type=float, default=1200, help="seconds a day may take")
    p.add_argument(
        "--executor",
        choices=("local", "celery"),
        default="local",
        help="local: kairos scheduler; celery: Airflow's parts and a Celery worker",
    )
    p.add_argument(
        "--restart-day",
        type=int,
        default=0,
        help="stop and restart Airflow while that day's ingest runs are under way",
    )
    p.add_argument(
        "--engines",
        default="duckdb",
        help="KAIROS_ENGINES: duckdb,spark also builds each date on Spark (build_warehouse_spark,"
        " from .venv-spark: make spark-setup) and checks the pools kept DuckDB to one writer",
    )
    args = p.parse_args(argv)
    spark = "spark" in args.engines.split(",")

    if args.home.exists():
        shutil.rmtree(args.home)
    args.home.mkdir(parents=True)
    os.environ["KAIROS_HOME"] = str(args.home.resolve())
    os.environ.pop("KAIROS_WAREHOUSE", None)
    os.environ.pop("KAIROS_LANDING", None)
    os.environ.pop("AIRFLOW_HOME", None)
    from kairos import airflow_local
    from kairos.config import Settings
    from kairos.publish import approval
    from kairos_sample import Fault, generate, release_late

    cfg = Settings.from_env()
    airflow_local.configure(cfg, quiet=True)
    port = _free_port()
    env = {
        **airflow_environment(cfg, port),
        "KAIROS_SENSOR_POKE_S": "5",
        "KAIROS_SENSOR_TIMEOUT_S": "120",
        "KAIROS_RETRY_DELAY_S": "5",
        "KAIROS_ALERT_HOOK": "tests.harness.alert_sink:record",
        "KAIROS_TEST_ALERTS": str(args.home / "alerts.jsonl"),
        **(celery_environment(args.home.resolve()) if args.executor == "celery" else {}),
        **(spark_environment(args.home.resolve()) if spark else {}),
    }
    os.environ.update(env)
    cfg = Settings.from_env()  # with the engines
    airflow_local.ensure_metadata_db(cfg)
    dags = ["ingest_boss", "ingest_crm", "ingest_bi", "build_warehouse", "publish_target_lists"]
    dags += ["build_warehouse_spark"] if spark else []
    airflow = Airflow(cfg, port, env, args.executor)
    started = time.monotonic()
    rows: list[str] = []
    all_ok = True
    print(f"soak: {args.days} days from {args.start}, {args.subscribers:,} subscribers,")
    print(f"      plan {args.plan}, data root {cfg.home}, Airflow on {airflow.base},")
    print(f"      {args.executor} executor, engines {','.join(cfg.engines)}")
    airflow.start(cfg.home / "logs" / f"airflow-{args.executor}.log")
    try:
        airflow.wait_ready(dags)
        for dag_id in dags:
            airflow.unpause(dag_id)
        print(HEADER)
        print("|" + "---|" * 13)
        for n in range(1, args.days + 1):
            day = args.start + dt.timedelta(days=n - 1)
            faults = PLANS[args.plan].get(n, [])
            t0 = time.monotonic()
            generate(
                cfg.landing,
                day,
                1,
                args.subscribers,
                args.seed,
                [Fault.parse(f) for f in faults],
                progress=False,
                executing=cfg.publish_dir,  # CRM works the lists published the day before
            )
            logical = dt.datetime.combine(
                day + dt.timedelta(days=1), dt.time(6), tzinfo=dt.timezone(dt.timedelta(hours=8))
            )
            day_started = dt.datetime.now(dt.UTC)
            runs = {d: airflow.trigger(d, logical) for d in dags[:3]}
            if n == args.restart_day:
                _restart_mid_day(airflow, runs, dags)
            if any(f.startswith("late:") for f in faults):
                time.sleep(25)
                release_late(cfg.landing)
            _settle(airflow, runs, cfg, day, day_started, t0 + args.day_timeout, dags[3:])
            # the teams approve their marketing lists before CRM works them the next day
            approval.approve_pending(cfg, day, "soak-approver", "soak: approved as delivered")
            got = observe(cfg, day)
            exp = expected_for(faults)
            ok = verdict(exp, got)
            if spark:
                got["built"] += f" / spark {got['spark'] or 'no'}"
                ok &= (got["spark"] == "built") == exp.built
            all_ok &= ok
            rows.append(row(n, day, faults, got, exp, ok))
            print(rows[-1] + f"  ({time.monotonic() - t0:.0f}s)", flush=True)
        if spark:
            all_ok &= pools_held(airflow)
    finally:
        airflow.stop()
    minutes = (time.monotonic() - started) / 60
    alerts = (
        (args.home / "alerts.jsonl").read_text().splitlines()
        if (args.home / "alerts.jsonl").exists()
        else []
    )
    print(f"\n{args.days} days in {minutes:.1f} min; {len(alerts)} alert(s) sent")
    if args.executor == "celery":
        ran = celery_tasks(args.home.resolve())
        print(f"task instances run by the Celery worker: {ran}")
        all_ok &= ran > 0
    print(f"every row as expected: {'yes' if all_ok else 'NO'}")
    report = args.home / "soak-report.md"
    report.write_text("\n".join([HEADER, "|" + "---|" * 13, *rows]) + "\n", encoding="utf-8")
    print(f"table: {report}; logs: {cfg.home / 'logs'}")
    return 0 if all_ok else 1


def _restart_mid_day(airflow: Airflow, runs: dict[str, str], dags: list[str]) -> None:
    """Once one of the day's ingest runs is running, restart Airflow under it."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if any(airflow.run_state(d, r) == "running" for d, r in runs.items()):
            break
        time.sleep(1)
    started = time.monotonic()
    airflow.restart(dags)
    print(f"  (Airflow stopped and started again mid-day in {time.monotonic() - started:.0f}s)")


def _settle(
    airflow: Airflow,
    runs: dict[str, str],
    cfg,
    day: dt.date,
    since: dt.datetime,
    deadline: float,
    downstream: list[str],
):
    """Wait until the day is resolved: the ingest runs have ended; if every system
    completed the day, publishing has an outcome for it (or a build failed); then nothing
    downstream is queued or running for three looks in a row (continuations included)."""
    from kairos.publish import outcomes

    def sleep():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{day} did not settle: ingest runs {runs}")
        time.sleep(5)

    while not all(airflow.run_state(d, r) in ("success", "failed") for d, r in runs.items()):
        sleep()
    completed = all(airflow.task_state(d, r, "load") == "success" for d, r in runs.items())
    while completed and outcomes.read_outcome(cfg, day) is None:
        if airflow.failed_runs("build_warehouse", since):
            break
        sleep()
    quiet = 0
    while quiet < 3:
        quiet = quiet + 1 if airflow.active_runs(downstream) == 0 else 0
        sleep()


if __name__ == "__main__":
    sys.exit(main())
