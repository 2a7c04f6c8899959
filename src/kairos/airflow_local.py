"""Run Kairos' DAGs on the embedded Airflow: configuration, metadata DB, the writer pool,
and ``dag.test()`` runs. Used by ``kairos demo``, ``kairos scheduler`` / ``airflow`` /
``backfill`` and the test suite.

Airflow reads its configuration from the process environment: :func:`environment` gives
the variables (from :class:`~kairos.config.Settings`) for the Airflow processes Kairos
starts; :func:`configure` is for running Airflow *inside* this process (the demo's and the
tests' ``dag.test()``) and must run before anything imports airflow.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kairos import dates
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
    Airflow processes (``airflow standalone`` starts its parts from the ``PATH``)."""
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
    # the logical date of the scheduled run for that day (06:00 Beijing, the next day)
    dr = dag.test(logical_date=dates.run_time_for(business_date), run_conf=run_conf)
    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    return RunResult(dag_id, dr.run_id, str(dr.state), states)


def asset_events(dag_id: str, run_id: str | None = None) -> list[dict]:
    """Asset events a DAG (run) emitted, oldest first: asset URI and extra."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
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
