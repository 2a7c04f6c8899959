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
    from kairos.sample import Fault, generate

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
    from kairos.publish import approval, daily
    from kairos.sample import generate

    mp, cfg = module_home(tmp_path_factory, "loop", KAIROS_PSEUDONYM_KEY="loop-key")
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
# Tests that share an expensive fixture (module- or session-scoped) must run in one worker,
# or each worker would build it again: every such fixture links the tests that use it, and
# each linked set is one xdist group (--dist loadgroup). Tests that share nothing are
# scheduled one by one. Groups are handed out in collection order, so the longest go first
# (measured on a fresh clone; the rest keep their order) and none is left alone at the end.
CHEAP_SHARED = {"airflow_db"}  # once per worker whatever the grouping: no reason to group
LONGEST_FIRST = ()


def _shared_fixtures(item) -> list[str]:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    keys = []
    for name in info.names_closure:
        defs = info.name2fixturedefs.get(name)
        if not defs or name in CHEAP_SHARED:
            continue
        if not defs[-1].func.__module__.startswith("tests"):
            continue  # pytest's own (tmp_path_factory, ...) and plugins'
        scope = defs[-1].scope
        if scope == "session":
            keys.append(name)
        elif scope in ("module", "package"):
            keys.append(f"{item.module.__name__}::{name}")
    return keys


def _group_items(items) -> dict:
    """item -> group name: the connected sets of tests sharing an expensive fixture."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    shared = {item: _shared_fixtures(item) for item in items}
    for keys in shared.values():
        for other in keys[1:]:
            parent[find(other)] = find(keys[0])
    return {item: find(keys[0]) for item, keys in shared.items() if keys}


def pytest_collection_modifyitems(config, items):
    # runs in every worker (xdist's controller does not collect); harmless without xdist
    groups = _group_items(items)
    for item, group in groups.items():
        if not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group))

    def rank(item) -> int:
        module = item.module.__name__.rsplit(".", 1)[-1]
        for i, name in enumerate(LONGEST_FIRST):
            if name in (module, groups.get(item)):
                return i
        return len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
