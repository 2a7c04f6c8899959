"""Shared fixtures. Everything runs on real DuckDB files in a temporary KAIROS_HOME;
Airflow gets its own home and SQLite metadata DB for the session, configured before
anything imports airflow."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import duckdb
import pytest

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="kairos-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# Kairos's Airflow configuration, whatever imports airflow first (airflow_local.configure
# sets the same; the JWT secret only matters to a running API server)
os.environ["KAIROS_PROJECT_DIR"] = str(Path(__file__).resolve().parents[1])
os.environ["AIRFLOW_CONFIG"] = str(Path(__file__).resolve().parents[1] / "config" / "airflow.cfg")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

DAY = dt.date(2026, 11, 21)


@pytest.fixture
def kairos_home(tmp_path, monkeypatch) -> Path:
    """A fresh data root; the warehouse and landing area default inside it."""
    home = tmp_path / "home"
    monkeypatch.setenv("KAIROS_HOME", str(home))
    monkeypatch.delenv("KAIROS_WAREHOUSE", raising=False)
    monkeypatch.delenv("KAIROS_LANDING", raising=False)
    return home


@pytest.fixture
def cfg(kairos_home):
    from kairos.config import Settings

    return Settings.from_env()


@pytest.fixture
def deliver(cfg):
    """Generate a small delivery into the landing area; returns the manifest."""
    from kairos_sample import Fault, generate

    def _deliver(day=DAY, days=1, subscribers=2000, seed=1, faults=()):
        return generate(
            cfg.landing,
            day,
            days,
            subscribers,
            seed,
            [Fault.parse(f) for f in faults],
            progress=False,
        )

    return _deliver


@pytest.fixture
def read_warehouse(cfg):
    """Run a query on a read-only connection to the warehouse."""

    def _query(sql: str, params=None):
        con = duckdb.connect(str(cfg.warehouse), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    return _query


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata DB (migrated once per session) and the writer pool."""
    from kairos import airflow_local
    from kairos.config import Settings

    cfg = Settings.from_env()
    airflow_local.configure(cfg, quiet=True)
    airflow_local.ensure_metadata_db(cfg)
    return _AIRFLOW_HOME


def module_home(tmp_path_factory, name: str, **env: str):
    """A fresh KAIROS_HOME for a module-scoped fixture: returns (monkeypatch, settings);
    the fixture calls ``monkeypatch.undo()`` when done. ``env`` sets more variables."""
    from kairos.config import Settings

    mp = pytest.MonkeyPatch()
    mp.setenv("KAIROS_HOME", str(tmp_path_factory.mktemp(name)))
    mp.delenv("KAIROS_WAREHOUSE", raising=False)
    mp.delenv("KAIROS_LANDING", raising=False)
    for key, value in env.items():
        mp.setenv(key, value)
    return mp, Settings.from_env()


# The closed loop (issue 12): business dates run day after day through the real pipeline
# -- generate (CRM executing the lists published the day before), ingest, build, publish;
# the last date is built, not published. Shared by the task-outcome and rule-effect tests,
# so the suite pays for the loop once. Large enough that the bigger rules' holdouts can
# tell a planted effect from none (see tests/test_rule_effects.py).
LOOP_FIRST, LOOP_DAYS, LOOP_SUBSCRIBERS, LOOP_SEED = dt.date(2026, 11, 15), 3, 30_000, 21
LOOP_DATES = [LOOP_FIRST + dt.timedelta(days=i) for i in range(LOOP_DAYS)]


@pytest.fixture(scope="session")
def closed_loop(tmp_path_factory):
    """(settings, {date: generator manifest}) of the loop; the environment it ran under
    is restored before the tests read it, so other modules see theirs."""
    from kairos import pipeline
    from kairos.ingest import ingest_dates
    from kairos.pipeline import daily
    from kairos.publish import approval
    from kairos_sample import generate

    mp, cfg = module_home(tmp_path_factory, "loop", KAIROS_PSEUDONYM_KEY="loop-key-" + "0" * 32)
    # every build step but the docs site (tested on its own; a third of a day's build here)
    steps = tuple(s for s in pipeline.BUILD_STEPS if s[0] != "dbt_docs")
    try:
        manifests = {}
        for day in LOOP_DATES:
            manifests[day] = generate(
                cfg.landing,
                day,
                1,
                LOOP_SUBSCRIBERS,
                LOOP_SEED,
                progress=False,
                executing=cfg.publish_dir,
            )
            _, failures = ingest_dates(cfg, day, day)
            assert failures == []
            pipeline.run_steps(steps, cfg, day, f"loop-{day}")
            if day != LOOP_DATES[-1]:
                outcome = daily.run(cfg, day, f"loop-{day}")
                assert outcome.ok and outcome.status == "published", outcome.report.read_text()
                # the teams approve their marketing lists (service notices approve themselves)
                assert approval.approve_pending(cfg, day, "loop-approver", "approved")
    finally:
        mp.undo()
    return cfg, manifests


# --- running the suite on several workers (pytest-xdist, `make test` uses two) ---------
# A module's tests run in one worker, so a module-scoped fixture (a built warehouse) is
# built once; the modules that share the closed loop, a session fixture, run in one worker
# too, or each worker would run the loop again. xdist's own xdist_group mark cannot do
# this under pytest 9 (it rewrites item._nodeid, which pytest 9 no longer reads), so
# Kairos gives xdist a scheduler: the work units are these groups, handed out longest
# first (measured on a fresh clone), so no long one is left alone at the end.
SHARED_SESSION_FIXTURES = ("closed_loop",)
LONGEST_FIRST = (
    "test_soak",
    "test_spark",
    "test_publish",
    "closed_loop",
    "test_warehouse",
    "test_dags",
    "test_key_moments",
    "test_portal",
    "test_concurrency",
    "test_chaos",
    "test_complaints",
)
_TESTS = Path(__file__).resolve().parent


def _work_unit(module: str) -> str:
    """The group a test module's tests run in: a shared session fixture's, else its own."""
    text = (_TESTS / f"{module}.py").read_text(encoding="utf-8")
    return next((f for f in SHARED_SESSION_FIXTURES if f in text), module)


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(Path(nodeid.split("::", 1)[0]).stem)

    return WorkUnits(config, log)


def pytest_collection_modifyitems(config, items):
    """Longest work units first (the scheduler hands them out in collection order)."""

    def rank(item) -> int:
        unit = _work_unit(item.module.__name__.rsplit(".", 1)[-1])
        return LONGEST_FIRST.index(unit) if unit in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
