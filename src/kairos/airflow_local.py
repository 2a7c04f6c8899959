"""Run Kairos' DAGs on the embedded Airflow: configuration, metadata DB, the writer pool,
and ``dag.test()`` runs. Used by ``kairos demo``, ``kairos scheduler`` / ``airflow`` /
``backfill`` and the test suite.

Airflow reads its configuration from the process environment: :func:`environment` gives
the variables (from :class:`~kairos.config.Settings`) for the Airflow processes Kairos
starts; :func:`configure` is for running Airflow *inside* this process (the demo's and the
tests' ``dag.test()``) and must run before anything imports airflow.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kairos import contract, dates, locks
from kairos.config import Settings


def environment(cfg: Settings, quiet: bool = False) -> dict[str, str]:
    """The variables through which Airflow reads Kairos's configuration
    (``config/airflow.cfg``): where the project, the data root and the Airflow home are,
    and the API's JWT secret (a key file, shared by every Airflow process)."""
    env = {
        "KAIROS_PROJECT_DIR": str(cfg.project_dir),
        "KAIROS_HOME": str(cfg.home),
        "AIRFLOW_HOME": str(cfg.airflow_home),
        "AIRFLOW_CONFIG": str(cfg.airflow_config),
        "AIRFLOW__API_AUTH__JWT_SECRET": cfg.secret(
            "AIRFLOW__API_AUTH__JWT_SECRET", "airflow-jwt.key"
        ),
    }
    if quiet:
        env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    return env


def process_environment(cfg: Settings, quiet: bool = False) -> dict[str, str]:
    """This process's environment with Kairos's Airflow configuration, for starting
    Airflow processes (``python -m airflow <part>``, and what they start from the
    ``PATH``)."""
    env = {**os.environ, **environment(cfg, quiet)}
    bindir = str(Path(sys.executable).parent)
    if bindir not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def configure(cfg: Settings, quiet: bool = False) -> Path:
    """Point Airflow in *this* process at Kairos's configuration (the one place Kairos
    writes its own environment: Airflow reads it at import); must run before anything
    imports airflow. Returns the Airflow home."""
    for key, value in environment(cfg, quiet).items():
        if key in ("AIRFLOW__LOGGING__LOGGING_LEVEL", "AIRFLOW_HOME"):
            os.environ.setdefault(key, value)  # a test or an operator may have chosen
        else:
            os.environ[key] = value
    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    return home


def _airflow(cfg: Settings, *args: str) -> None:
    cmd = [sys.executable, "-m", "airflow", *args]
    env = process_environment(cfg, quiet=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"`airflow {' '.join(args)}` failed:\n{proc.stdout}\n{proc.stderr}")


def ensure_metadata_db(cfg: Settings) -> None:
    """Create or migrate Airflow's metadata DB and each engine's pool: DuckDB's writer
    pool of one slot, and Spark's when the warehouse is built there too (idempotent)."""
    # lazy: Airflow reads its configuration when first imported; configure() sets it first
    from kairos.orchestration import pools

    _airflow(cfg, "db", "migrate")
    for name, slots, description in pools(cfg):
        _airflow(cfg, "pools", "set", name, str(slots), description)


@dataclass(frozen=True)
class RunResult:
    dag_id: str
    run_id: str
    state: str
    task_states: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.state == "success"


def run_dag(
    cfg: Settings,
    dag_id: str,
    business_date: dt.date,
    conf: dict | None = None,
    scheduled: bool = False,
) -> RunResult:
    """Run one DAG for a business date with ``dag.test()`` and report its task states.

    By default the business date is passed as the run's ``business_date`` param, as a
    manual run would. ``scheduled=True`` passes no param and sets the logical date a
    scheduled (or backfill) run for that business date has, 06:00 Beijing the next day.
    """
    # lazy: Airflow reads its configuration when first imported; configure() sets it first
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(cfg.dags_dir))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise KeyError(f"no DAG {dag_id!r} in {cfg.dags_dir}")
    run_conf = dict(conf or {})
    if not scheduled:
        run_conf["business_date"] = business_date.isoformat()
    started = dt.datetime.now(dt.UTC)
    # the logical date of the scheduled run for that day (06:00 Beijing, the next day)
    dr = dag.test(logical_date=dates.run_time_for(business_date), run_conf=run_conf)
    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    _restart_clock(dag_id, dr.run_id, started)
    return RunResult(dag_id, dr.run_id, str(dr.state), states)


def _restart_clock(dag_id: str, run_id: str, started: dt.datetime) -> None:
    """``dag.test()`` records a run as started at its logical date, so a demo day's run
    would show in Airflow's duration charts as lasting since 06:00 of the business date's
    next morning. Record when it really started."""
    # lazy: Airflow reads its configuration when first imported; configure() sets it first
    from airflow.models.dagrun import DagRun

    # lazy: Airflow reads its configuration when first imported; configure() sets it first
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagRun).filter(DagRun.dag_id == dag_id, DagRun.run_id == run_id).update(
            {DagRun.start_date: started}, synchronize_session=False
        )


def asset_events(dag_id: str, run_id: str | None = None) -> list[dict]:
    """Asset events a DAG (run) emitted, oldest first: asset URI and extra."""
    # lazy: Airflow reads its configuration when first imported; configure() sets it first
    from airflow.models.asset import AssetEvent, AssetModel

    # lazy: Airflow reads its configuration when first imported; configure() sets it first
    from airflow.utils.session import create_session

    # lazy: Airflow's database, after configure() has set it
    from sqlalchemy import select

    query = (
        select(AssetModel.uri, AssetEvent.extra, AssetEvent.source_run_id)
        .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
        .where(AssetEvent.source_dag_id == dag_id)
        .order_by(AssetEvent.timestamp)
    )
    if run_id is not None:
        query = query.where(AssetEvent.source_run_id == run_id)
    with create_session() as session:
        return [
            {"uri": uri, "extra": extra, "run_id": rid}
            for uri, extra, rid in session.execute(query).all()
        ]


# --- Kairos's Airflow: its parts under one supervisor (``kairos scheduler``) -------------

# started in this order; the API server must answer before anything that dispatches
# work starts (a task's first act is to call it), and it is stopped last
PARTS = ("api-server", "scheduler", "dag-processor", "triggerer")
DEFAULT_URL = "http://127.0.0.1:8280"
START_TIMEOUT_S = 300


def lock_path(cfg: Settings) -> Path:
    """Held by ``kairos scheduler`` while Kairos's Airflow runs, and by ``kairos demo``
    while its ``dag.test()`` runs write into the same metadata database: one at a time."""
    return cfg.airflow_home / "kairos-airflow.lock"


def hold_airflow(cfg: Settings, purpose: str, advice: str):
    """Take :func:`lock_path` or raise ``locks.Busy`` naming the process that holds it."""
    return locks.hold(lock_path(cfg), purpose, wait_s=0, name="Kairos's Airflow", advice=advice)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """A part ends when the supervisor does, even killed (PR_SET_PDEATHSIG)."""

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class Parts:
    """Airflow's parts, each in its own process group, output to its own log file."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen] = {}

    # a part's log is rotated at each start once it is this large (one old file kept)
    LOG_ROTATE_BYTES = 64 * 1024**2

    def start(self, part: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        path = self.logs / f"{part}.log"
        if path.exists() and path.stat().st_size > self.LOG_ROTATE_BYTES:
            path.replace(path.with_name(path.name + ".1"))
        with path.open("ab") as log:
            self.procs[part] = subprocess.Popen(
                [sys.executable, "-m", "airflow", part],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the supervisor, which stops them
                preexec_fn=_die_with_parent,
            )

    def exited(self) -> str | None:
        return next((p for p, proc in self.procs.items() if proc.poll() is not None), None)

    def stop(self, now=None, say=print, grace_s: float = 60) -> None:
        """Stop the scheduler first, the API server last. The scheduler alone gets the
        signal (not its process group): it stops dispatching and waits for the tasks it
        runs to finish -- they report to the API server, still up -- however long they
        take, unless ``now`` (an Event: a second Ctrl-C) is set. The other parts get
        ``grace_s``, then are killed."""
        for part in [p for p in (*PARTS[1:], PARTS[0]) if p in self.procs]:
            proc = self.procs[part]
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    if part == "scheduler":
                        proc.send_signal(signal.SIGTERM)
                        say("  waiting for running tasks to finish (Ctrl-C again: stop now) ...")
                    else:
                        os.killpg(proc.pid, signal.SIGTERM)
            deadline = None if part == "scheduler" else time.monotonic() + grace_s
            while proc.poll() is None:
                if (now is not None and now.is_set()) or (
                    deadline is not None and time.monotonic() > deadline
                ):
                    break
                time.sleep(0.5)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            else:  # what the part started (task processes) ends with it
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)


def scheduler_holder(cfg: Settings) -> dict | None:
    """Who holds this data root's Airflow lock (:func:`lock_path`) -- ``kairos scheduler``
    or ``kairos demo`` -- or None when neither runs."""
    try:
        with hold_airflow(cfg, "checking whether Kairos's Airflow runs", ""):
            return None
    except locks.Busy as exc:
        return exc.holder or {"purpose": "unknown"}


def kairos_dags(cfg: Settings) -> list[str]:
    """Kairos's DAG ids, in the order a business date goes through them."""
    dags = [f"ingest_{system}" for system in contract.systems()]
    dags += ["build_warehouse", "publish_target_lists"]
    return dags + (["build_warehouse_spark"] if "spark" in cfg.engines else [])


def api_url(cfg: Settings) -> str:
    return process_environment(cfg).get("AIRFLOW__API__BASE_URL", DEFAULT_URL).rstrip("/")


REQUEST_TIMEOUT = 90  # seconds; above the metadata DB's lock wait of 60


class Api:
    """Kairos's running Airflow through its REST API, signed in as the admin user whose
    password Airflow generated (``simple_auth_manager_passwords.json.generated``)."""

    def __init__(self, cfg: Settings, base: str | None = None):
        self.base = base or api_url(cfg)
        self.passwords = cfg.airflow_home / "simple_auth_manager_passwords.json.generated"
        self.token: str | None = None

    def _token(self) -> str:
        if self.token is None:
            with self.passwords.open(encoding="utf-8") as f:
                password = json.load(f)["admin"]
            body = json.dumps({"username": "admin", "password": password}).encode()
            req = urllib.request.Request(
                self.base + "/auth/token",
                data=body,
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                self.token = json.loads(resp.read())["access_token"]
        return self.token

    def request(self, method: str, path: str, body: dict | None = None):
        """One call, retried while Airflow is busy: a 5xx (SQLite behind the API) or no
        answer within ``REQUEST_TIMEOUT`` -- longer than the metadata DB's own lock wait
        (``?timeout=60`` in config/airflow.cfg), so a slow answer is waited for, not cut."""
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self._token()}"}
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        for attempt in range(5):
            try:
                with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as resp:
                    return json.loads(resp.read() or b"null")
            except urllib.error.HTTPError as exc:
                if exc.code < 500 or attempt == 4:
                    raise
            except TimeoutError:
                if attempt == 4:
                    raise
            time.sleep(2)
        return None  # not reached

    def dag_ids(self) -> set[str]:
        """The DAGs Airflow has parsed; empty while it is not answering yet."""
        try:
            return {d["dag_id"] for d in self.request("GET", "/api/v2/dags?limit=100")["dags"]}
        except (urllib.error.URLError, OSError, KeyError, ValueError):
            return set()

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, logical_date: dt.datetime, conf: dict | None = None) -> str:
        """The run of ``dag_id`` at ``logical_date``, created unless it exists: a retried
        POST whose first attempt was created but not answered in time gets 409, and the
        run it made is the one returned."""
        try:
            run = self.request(
                "POST",
                f"/api/v2/dags/{dag_id}/dagRuns",
                {"logical_date": logical_date.isoformat(), "conf": conf or {}},
            )
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise
            when = urllib.parse.quote(logical_date.isoformat())
            found = self.request(
                "GET",
                f"/api/v2/dags/{dag_id}/dagRuns?logical_date_gte={when}&logical_date_lte={when}",
            )["dag_runs"]
            if not found:
                raise
            run = found[0]
        return run["dag_run_id"]


def healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/api/v2/monitor/health", timeout=5) as resp:
            return resp.status == 200 and isinstance(json.loads(resp.read()), dict)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def serve(cfg: Settings, say=print, unpause: bool = True) -> int:
    """Run Kairos's Airflow until Ctrl-C (or SIGTERM): the metadata DB and pools, then
    the API server, and -- once it answers -- the scheduler, DAG processor and triggerer.
    Once the DAG processor has parsed Kairos's DAGs they are unpaused (unless not
    ``unpause``), so a delivery runs without another step. A part that exits stops the
    rest (exit 1, saying which). Refuses at once, naming it, while another ``kairos
    scheduler`` or a ``kairos demo`` holds :func:`lock_path`."""

    env = process_environment(cfg)
    base = env.get("AIRFLOW__API__BASE_URL", DEFAULT_URL).rstrip("/")
    logs = cfg.airflow_home / "logs" / "kairos-scheduler"
    advice = "it is already running; stop that one first (Ctrl-C in its terminal)"
    with hold_airflow(cfg, "kairos scheduler", advice):
        say("  preparing the metadata DB and the pools ...")
        ensure_metadata_db(cfg)
        stop, now = threading.Event(), threading.Event()

        def on_signal(*_):
            (now if stop.is_set() else stop).set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, on_signal)
        parts = Parts(env, logs)
        try:
            parts.start(PARTS[0])
            say(f"  starting the API server; waiting until {base} answers ...")
            deadline = time.monotonic() + START_TIMEOUT_S
            while not healthy(base):
                if stop.is_set() or parts.exited() or time.monotonic() > deadline:
                    say(f"  the API server did not come up; its log: {logs / 'api-server.log'}")
                    return 1
                stop.wait(1)
            for part in PARTS[1:]:
                parts.start(part)
            say(f"  running: {', '.join(PARTS)}; UI on {base}/ (logs: {logs})")
            say("  Stop: Ctrl-C here (the scheduler stops first; queued runs wait in the DB).")
            say("  Restart: run it again; queued runs go on once the API server answers.")
            waiting = set(kairos_dags(cfg)) if unpause else set()
            api = Api(cfg, base)
            while not stop.is_set():
                if part := parts.exited():
                    say(f"  airflow {part} exited (log: {logs / (part + '.log')}); stopping")
                    return 1
                if waiting and waiting <= api.dag_ids():
                    for dag_id in sorted(waiting):
                        api.unpause(dag_id)
                    say(f"  unpaused {', '.join(sorted(waiting))}: ready for the next delivery")
                    waiting = set()
                stop.wait(2)
            say("  stopping: scheduler, DAG processor, triggerer, then the API server ...")
            return 0
        finally:
            parts.stop(now, say)
