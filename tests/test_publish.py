"""The gates and the publishing of target lists, on real DuckDB files, real GX
validations and real list files. Every suite passes on good data and fails on data
broken the way it guards against; every failure path publishes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from kairos import contract, pipeline, publish, quality
from kairos.config import Settings
from kairos.ingest import ingest_dates
from kairos.pipeline import daily
from kairos.publish import approval, outcomes
from kairos_sample import generate
from tests.conftest import module_home
from tests.support import PROJECT

pytestmark = pytest.mark.slow

# twelve days: the list gate judges a list's volume once its rule's first cycle has run
# (cooldown and 7 days: the low-balance lists, KM06, from day 11)
FIRST, DAYS = dt.date(2026, 11, 10), 12
DAY = FIRST + dt.timedelta(days=DAYS - 1)  # 2026-11-21, day 12, with 11 days of history
PREVIOUS = DAY - dt.timedelta(days=1)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Twelve days of 3,000 subscribers, built, with the analysts' snapshot."""
    mp, cfg = module_home(tmp_path_factory, "publish", KAIROS_PSEUDONYM_KEY="test-key-" + "0" * 32)
    generate(cfg.landing, FIRST, DAYS, 3_000, 11, progress=False)
    _, failures = ingest_dates(cfg, FIRST, DAY)
    assert failures == []
    assert pipeline.full_refresh(cfg, "fixture")[-1] == DAY
    yield cfg
    mp.undo()


@pytest.fixture
def home(built, tmp_path, monkeypatch):
    """A private copy of the built home (snapshot, no publications), so a test may break
    the data or publish without touching the others."""
    copy = tmp_path / "home"
    copy.mkdir()
    shutil.copytree(built.home / "snapshot", copy / "snapshot")
    monkeypatch.setenv("KAIROS_HOME", str(copy))
    monkeypatch.setenv("KAIROS_TEST_ALERTS", str(tmp_path / "alerts.jsonl"))
    monkeypatch.setenv("KAIROS_ALERT_HOOK", "tests.harness.alert_sink:record")
    return Settings.from_env()


def snapshot(cfg) -> Path:
    return cfg.snapshot


def mutate(cfg, *sql: str) -> None:
    """Break the (copied) snapshot as an upstream bug would."""
    path = snapshot(cfg)
    path.chmod(0o644)
    con = duckdb.connect(str(path))
    try:
        for statement in sql:
            con.execute(statement)
    finally:
        con.close()


def gate(cfg, module, name=None, **params):
    suites = [s for s in quality.load_suites(cfg, module) if name is None or s.name == name]
    assert suites, name
    return quality.run_gate(
        cfg,
        module,
        suites,
        DAY,
        database=snapshot(cfg),
        params=params,
        raise_on_failure=False,
    )


def failed_columns(result) -> set[str]:
    return {e.column or e.expectation for s in result.suites for e in s.failures} | {
        s.error for s in result.suites if s.error
    }


# --- the warehouse gate ------------------------------------------------------------


def test_every_warehouse_suite_passes_on_good_data(home):
    for module in daily.WAREHOUSE_SUITES:
        result = gate(home, module)
        assert result.success, result.summary()
        assert len(result.suites) == len(quality.load_suites(home, module))
    kept = json.loads((home.home / result.result_path).read_text())
    assert kept["success"] and kept["suites"]
    assert (home.home / "quality" / "data_docs" / "index.html").exists()


def _break_a_value(extract: contract.Extract) -> tuple[str, str]:
    """(column, SQL expression) that violates the first constrained column of the extract."""
    for c in extract.columns:
        if c.values:
            return c.name, "'BOGUS'"
        if c.max is not None:
            return c.name, str(c.max + 1000)
        if c.min is not None:
            return c.name, str(c.min - 1000)
        if c.pattern:
            return c.name, "'!!not-a-match!!'"
    c = next(c for c in extract.columns if not c.nullable)
    return c.name, "null"


def test_every_raw_rows_suite_fails_on_a_value_the_contract_forbids(home):
    """One forbidden value per extract, all in one broken copy: each extract's rows suite
    fails, on that column (one gate run instead of fourteen keeps the suite fast)."""
    breaks = {}
    for extract in contract.extracts():
        column, value = _break_a_value(extract)
        breaks[extract] = column
        table = extract.raw_table
        mutate(
            home,
            f"update {table} set {column} = {value} where rowid = (select min(rowid)"
            f" from {table} where business_date = '{DAY}')",
        )
    result = gate(home, "raw_extracts")
    by_suite = {s.suite: s for s in result.suites}
    for extract, column in breaks.items():
        suite = by_suite[f"raw_{extract.system}_{extract.name}_rows"]
        assert not suite.success, suite.suite
        assert column in {e.column for e in suite.failures}, (suite.suite, column)


def test_every_raw_counts_suite_fails_on_a_duplicated_row(home):
    extracts = contract.extracts()
    mutate(
        home,
        *(
            f"insert into {e.raw_table} select * from {e.raw_table}"
            f" where business_date = '{DAY}' limit 1"
            for e in extracts
        ),
    )
    result = gate(home, "raw_extracts")
    by_suite = {s.suite: s for s in result.suites}
    for e in extracts:
        suite = by_suite[f"raw_{e.system}_{e.name}_counts"]
        assert {"duplicate_keys", "row_count"} <= {f.column for f in suite.failures}, suite.suite


@pytest.mark.parametrize(
    "key", ["boss.subscribers", "boss.daily_usage", "crm.customers", "bi.customer_tags"]
)
def test_raw_counts_suite_fails_on_a_day_with_40_percent_fewer_rows(home, key):
    """Every row valid, counts agreeing with the control file: only the trailing average
    can tell the day is wrong."""
    extract = next(e for e in contract.extracts() if e.key == key)
    table = extract.raw_table
    mutate(
        home,
        f"delete from {table} where business_date = '{DAY}' and hash(rowid) % 10 < 4",
        f"""update audit.load_ledger set
              rows_loaded = (select count(*) from {table} where business_date = '{DAY}'),
              control_rows = (select count(*) from {table} where business_date = '{DAY}'),
              rows_quarantined = 0
            where system = '{extract.system}' and extract = '{extract.name}'
              and business_date = '{DAY}'""",
    )
    result = gate(home, "raw_extracts", f"raw_{extract.system}_{extract.name}_counts")
    assert not result.success
    assert failed_columns(result) == {"ratio_to_trailing_avg"}, result.summary()


# The marts' contracts refuse some of these rows as they are written; the gate must catch
# them all the same (a table made before its contract, a mart built on another engine),
# so those breaks first copy the table without its constraints.
def _uncontracted(table: str) -> str:
    return f"create or replace table {table} as select * from {table}; "


MART_BREAKS = {
    "marts_key_moment_warnings_rows": (
        "update marts.fct_key_moment_warnings set script = script || '{value}'"
        f" where business_date = '{DAY}' and rowid = (select min(rowid)"
        f" from marts.fct_key_moment_warnings where business_date = '{DAY}')",
        "script",
    ),
    "marts_key_moment_tasks_rows": (
        _uncontracted("marts.fct_key_moment_tasks")
        + f"update marts.fct_key_moment_tasks set channel = 'fax' where business_date = '{DAY}'"
        " and rowid = (select min(rowid) from marts.fct_key_moment_tasks"
        f" where business_date = '{DAY}')",
        "channel",
    ),
    "marts_dissatisfied_pool_rows": (
        f"update marts.fct_dissatisfied_pool_daily set reasons = '' where business_date = '{DAY}'",
        "reasons",
    ),
    "marts_customer_preferences_rows": (
        _uncontracted("marts.dim_customer_preference_profiles")
        + "update marts.dim_customer_preference_profiles set channel_evidence = 'maybe'"
        " where customer_id = (select min(customer_id)"
        " from marts.dim_customer_preference_profiles)",
        "channel_evidence",
    ),
    "marts_key_moments_day": (
        "insert into marts.fct_key_moment_warnings select * from marts.fct_key_moment_warnings"
        f" where business_date = '{DAY}' limit 1",
        "duplicate_warning_keys",
    ),
}


def test_every_marts_suite_has_a_breaking_test():
    cfg = Settings.from_env()
    assert set(MART_BREAKS) == {s.name for s in quality.load_suites(cfg, "marts")}


@pytest.mark.parametrize("suite", sorted(MART_BREAKS))
def test_marts_suite_fails_on_broken_data(home, suite):
    sql, column = MART_BREAKS[suite]
    mutate(home, sql)
    result = gate(home, "marts", suite)
    assert not result.success
    assert column in failed_columns(result), result.summary()


def test_a_rule_that_suddenly_fires_for_everyone_fails_the_day_suite(home):
    mutate(
        home,
        "insert into marts.fct_key_moment_warnings select w.* replace ("
        " md5(w.warning_key || 'x' || t.n) as warning_key)"
        " from marts.fct_key_moment_warnings w, range(5) t(n)"
        f" where w.business_date = '{DAY}'",
    )
    result = gate(home, "marts", "marts_key_moments_day")
    assert "warnings_ratio_to_trailing_avg" in failed_columns(result), result.summary()


# --- lists: building and their gate ---------------------------------------------------


def stage(cfg, run_id="test") -> Path:
    return Path(daily.stage_lists(cfg, DAY, run_id))


def test_list_suites_pass_on_the_lists_built_from_good_data(home):
    staging = stage(home)
    result = gate(home, "target_lists", lists_dir=str(staging))
    assert result.success, result.summary()
    assert all(s.rows > 0 for s in result.suites)


def _rewrite(path: Path, change) -> None:
    table = pq.read_table(path)
    rows = table.to_pylist()
    change(rows)
    pq.write_table(table.from_pylist(rows, schema=table.schema), path)


def _a_list(staging: Path, marketing: bool | None = None) -> Path:
    manifest = json.loads((staging / "manifest.json").read_text())
    rules = {}
    with (PROJECT / "seeds" / "warning_rules.csv").open(encoding="utf-8") as fh:
        rules = {r["rule_code"]: r["is_marketing"] == "true" for r in csv.DictReader(fh)}
    for item in sorted(manifest["lists"], key=lambda i: -i["rows"]):
        if item["rows"] >= 2 and (marketing is None or rules[item["rule_code"]] == marketing):
            return staging / item["files"]["parquet"]["name"]
    raise AssertionError("no list to break")


def test_lists_rows_suite_fails_on_an_unmasked_number(home):
    staging = stage(home)
    path = _a_list(staging)
    _rewrite(path, lambda rows: rows[0].update(msisdn_masked="13812345678"))
    result = gate(home, "target_lists", "target_lists_rows", lists_dir=str(staging))
    assert "msisdn_masked" in failed_columns(result), result.summary()
    # the gate reports the failure without repeating the number it found
    assert "13812345678" not in result.summary()
    kept = b"".join(p.read_bytes() for p in (home.home / "quality").rglob("*") if p.is_file())
    assert b"13812345678" not in kept


def test_lists_rows_suite_fails_on_a_number_hidden_in_a_text_column(home):
    staging = stage(home)
    path = _a_list(staging)
    _rewrite(path, lambda rows: rows[0].update(script=rows[0]["script"] + " 请回电13812345678"))
    result = gate(home, "target_lists", "target_lists_rows", lists_dir=str(staging))
    assert "script" in failed_columns(result), result.summary()


def _listed_marketing_customer(staging: Path) -> int:
    """The customer id behind the first row of a marketing rule's list."""
    key = pq.read_table(_a_list(staging, marketing=True)).column("customer_key")[0].as_py()
    members = pq.read_table(staging / "_private" / "list_members.parquet").to_pylist()
    return next(m["customer_id"] for m in members if m["customer_key"] == key)


def test_lists_policy_suite_fails_on_an_opted_out_customer(home):
    staging = stage(home)
    customer = _listed_marketing_customer(staging)
    mutate(
        home,
        f"update raw.crm_customers set is_marketing_opt_out = true"
        f" where customer_id = {customer} and business_date = '{DAY}'",
    )
    result = gate(home, "target_lists", "target_lists_policy", lists_dir=str(staging))
    assert "opted_out_of_marketing" in failed_columns(result), result.summary()


def test_lists_policy_suite_fails_on_a_customer_over_the_frequency_cap(home):
    staging = stage(home)
    customer = _listed_marketing_customer(staging)
    mutate(
        home,
        "insert into intermediate.int_customer_activity_daily values"
        f" ({customer}, '{DAY - dt.timedelta(days=3)}', 0, 0, 0, 5, 0)",
    )
    result = gate(home, "target_lists", "target_lists_policy", lists_dir=str(staging))
    assert "over_frequency_cap" in failed_columns(result), result.summary()


def test_lists_counts_suite_fails_on_a_duplicate_customer(home):
    staging = stage(home)
    _rewrite(_a_list(staging), lambda rows: rows.append(dict(rows[0])))
    result = gate(home, "target_lists", "target_lists_counts", lists_dir=str(staging))
    assert {"duplicate_customers", "list_rows"} <= failed_columns(result), result.summary()


def test_lists_counts_suite_fails_without_the_holdout(home):
    staging = stage(home)
    path = _a_list(staging)
    path.with_name(path.name.replace(".parquet", ".holdout.parquet")).unlink()
    result = gate(home, "target_lists", "target_lists_counts", lists_dir=str(staging))
    assert "has_holdout_file" in failed_columns(result), result.summary()


def test_lists_counts_suite_fails_when_the_holdout_is_not_held_out(home):
    """Most of the list moved into the holdout, consistently in the tasks and the list
    mart: every size agrees, but the holdout share is far off the rule's holdout_pct."""
    mutate(
        home,
        "update marts.fct_target_list_members m set contact_group = 'holdout'"
        " from marts.fct_key_moment_tasks t"
        f" where m.business_date = '{DAY}' and t.business_date = m.business_date"
        " and t.customer_id = m.customer_id and t.rule_code = m.rule_code"
        " and t.decision = 'dispatched' and t.holdout_bucket < 60",
        "update marts.fct_key_moment_tasks set decision = 'holdout'"
        f" where business_date = '{DAY}' and decision = 'dispatched'"
        " and holdout_bucket < 60",
    )
    staging = stage(home)
    result = gate(home, "target_lists", "target_lists_counts", lists_dir=str(staging))
    assert "holdout_deviation" in failed_columns(result) or "holdout_tolerance" in failed_columns(
        result
    ), result.summary()


# --- publishing ---------------------------------------------------------------------


def test_publishing_makes_certified_lists_current(home):
    first = daily.run(home, PREVIOUS, "run-prev")
    assert first.ok, first.report.read_text()
    outcome = daily.run(home, DAY, "run-1")
    assert outcome.ok, outcome.report.read_text()
    root = home.publish_dir
    assert (root / "current").resolve() == (root / "lists" / DAY.isoformat()).resolve()
    day_dir = (root / "lists" / DAY.isoformat()).resolve()
    manifest = json.loads((day_dir / "manifest.json").read_text())
    assert manifest["certified_by"]["gates"] and all(
        g["success"] for g in manifest["certified_by"]["gates"]
    )
    assert manifest["previous_business_date"] == PREVIOUS.isoformat()
    for item in manifest["lists"]:
        for f in item["files"].values():
            data = (day_dir / f["name"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f["sha256"]
            assert len(data) == f["bytes"]
        csv_bytes = (day_dir / item["files"]["csv"]["name"]).read_bytes()
        assert csv_bytes.startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese text
        with (day_dir / item["files"]["csv"]["name"]).open(encoding="utf-8-sig") as fh:
            csv_keys = [r["customer_key"] for r in csv.DictReader(fh)]
        parquet = pq.read_table(day_dir / item["files"]["parquet"]["name"])
        assert csv_keys == parquet.column("customer_key").to_pylist()
        assert len(csv_keys) == item["rows"]
        assert set(item["suppressed"]) <= {
            "opt_out",
            "open_complaint",
            "cooldown",
            "recent_contact",
            "frequency_cap",
            "lower_priority",
        }
    assert sum(i["diff"]["added"] + i["diff"]["kept"] for i in manifest["lists"]) == sum(
        i["rows"] for i in manifest["lists"]
    )
    assert "PUBLISHED" in outcome.report.read_text()


def test_no_phone_number_or_name_leaves_the_warehouse(home, built):
    assert daily.run(home, DAY, "run-pii").ok
    # the live warehouse: the snapshot holds them masked already
    con = duckdb.connect(str(built.warehouse), read_only=True)
    numbers = [
        r[0]
        for r in con.execute(
            f"select msisdn from raw.boss_subscribers where business_date = '{DAY}'"
        ).fetchall()
    ]
    names = [
        r[0]
        for r in con.execute(
            f"select customer_name from raw.crm_customers where business_date = '{DAY}'"
            " and length(customer_name) >= 3"
        ).fetchall()
    ]
    con.close()
    published = b"".join(
        p.read_bytes() for p in home.publish_dir.joinpath("versions").rglob("*") if p.is_file()
    )
    text = published.decode("utf-8", errors="ignore")
    assert not [n for n in numbers if n in text]
    assert not [n for n in names[:2000] if n in text]


def test_republishing_a_day_yields_byte_identical_files(home):
    def files(version: str) -> dict[str, bytes]:
        root = Path(version)
        return {
            str(p.relative_to(root)): p.read_bytes()
            for p in root.rglob("*")
            if p.is_file() and p.suffix != ".json"
        }

    a = daily.run(home, DAY, "run-a")
    assert a.ok
    files_a = files(a.published)
    manifest_a = json.loads((Path(a.published) / "manifest.json").read_text())
    b = daily.run(home, DAY, "run-b")
    assert b.ok and a.published != b.published
    assert not Path(a.published).exists()  # superseded: the retention removed it
    files_b = files(b.published)
    assert files_a and files_a == files_b
    assert any(name.startswith("call_sheets/") for name in files_a)
    manifest_b = json.loads((Path(b.published) / "manifest.json").read_text())
    # only the certification (run ids, gate results) differs
    for part in ("lists", "call_sheets", "call_sheets_file"):
        assert manifest_a[part] == manifest_b[part], part


def test_a_failed_gate_publishes_nothing_and_keeps_the_last_good_lists(home):
    assert daily.run(home, PREVIOUS, "good").ok
    root = home.publish_dir
    before = {p.name: p.resolve() for p in (root / "lists").iterdir()}
    mutate(home, f"update raw.boss_subscribers set status = 'BOGUS' where business_date = '{DAY}'")
    outcome = daily.run(home, DAY, "bad")
    assert not outcome.ok
    assert {p.name: p.resolve() for p in (root / "lists").iterdir()} == before
    assert (root / "current").resolve() == (root / "lists" / PREVIOUS.isoformat()).resolve()
    text = outcome.report.read_text()
    assert "NOT PUBLISHED" in text and "gate_warehouse" in text and "status" in text
    assert f"stay those of {PREVIOUS}" in text
    alerts = [
        json.loads(line)
        for line in Path(__import__("os").environ["KAIROS_TEST_ALERTS"]).read_text().splitlines()
    ]
    assert alerts and alerts[-1]["info"]["business_date"] == DAY.isoformat()


def test_a_failed_list_gate_publishes_nothing(home, monkeypatch):
    assert daily.run(home, PREVIOUS, "good").ok
    real = publish.build_lists

    def leaky(*args, **kwargs):
        built = real(*args, **kwargs)
        path = _a_list(built.directory)
        _rewrite(path, lambda rows: rows[0].update(msisdn_masked="13800000000"))
        return built

    monkeypatch.setattr(publish, "build_lists", leaky)
    outcome = daily.run(home, DAY, "leak")
    assert not outcome.ok
    assert "gate_lists" in outcome.report.read_text()
    assert not (home.publish_dir / "lists" / DAY.isoformat()).exists()


def test_a_crash_mid_publish_leaves_no_partial_day_visible(home, monkeypatch):
    assert daily.run(home, PREVIOUS, "good").ok
    root = home.publish_dir
    # crash while the lists are being written ...
    calls = {"n": 0}
    real_write = publish._ListWriter.write

    def crash_after_two(self, records, holdout):
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError("disk full")
        return real_write(self, records, holdout)

    monkeypatch.setattr(publish._ListWriter, "write", crash_after_two)
    assert not daily.run(home, DAY, "crash-write").ok
    assert not (root / "lists" / DAY.isoformat()).exists()
    monkeypatch.setattr(publish._ListWriter, "write", real_write)

    # ... and after the version directory is in place, before the switch
    def crash(*args, **kwargs):
        raise OSError("power cut")

    monkeypatch.setattr(publish.store, "_swap_symlink", crash)
    assert not daily.run(home, DAY, "crash-swap").ok
    assert not (root / "lists" / DAY.isoformat()).exists()
    assert (root / "current").resolve() == (root / "lists" / PREVIOUS.isoformat()).resolve()


def test_the_publish_dag_runs_the_steps_and_a_failure_fails_it(home, airflow_db):
    from kairos.airflow_local import run_dag

    result = run_dag(home, "publish_target_lists", DAY)
    assert result.ok, result.task_states
    assert (home.publish_dir / "lists" / DAY.isoformat()).exists()
    mutate(home, f"delete from raw.crm_customers where business_date = '{DAY}'")
    result = run_dag(home, "publish_target_lists", DAY)
    assert result.state == "failed"
    assert result.task_states["publish"] == "failed"
    reports = sorted((home.publish_dir / "_reports").glob(f"{DAY}-*.txt"))
    texts = [p.read_text() for p in reports]
    assert any("NOT PUBLISHED" in t and "gate_warehouse" in t for t in texts)


# --- day after day --------------------------------------------------------------------


def _volume(home, day) -> list[dict]:
    """The list gate's volume figures for ``day``'s lists as built (the counts suite's
    query on the snapshot)."""
    suite = next(
        s for s in quality.load_suites(home, "target_lists") if s.name == "target_lists_counts"
    )
    con = duckdb.connect(str(snapshot(home)), read_only=True)
    try:
        lists_dir = str(publish.published_dir(home, day))
        rows = con.execute(suite.query, {"business_date": day, "lists_dir": lists_dir}).fetchall()
        names = [d[0] for d in con.description]
    finally:
        con.close()
    return [dict(zip(names, r, strict=True)) for r in rows]


def test_every_clean_day_publishes_in_steady_state(home):
    """Twelve consecutive clean days: the first day's burst of key moments settles into a
    smaller steady state, and the list gate stays quiet through it. A list's volume is
    judged only once its rule's first cycle has run (cooldown and the 7 days of the
    median): before, none is; by the last day some are, and within their bounds (the
    check is live, not switched off)."""
    rules = {}
    with (PROJECT / "seeds" / "warning_rules.csv").open(encoding="utf-8") as fh:
        rules = {r["rule_code"]: int(r["cooldown_days"]) for r in csv.DictReader(fh)}
    for day in (FIRST + dt.timedelta(days=i) for i in range(DAYS)):
        outcome = daily.run(home, day, f"steady-{day}")
        assert outcome.ok and outcome.status == "published", outcome.report.read_text()
        for r in _volume(home, day):
            if r["volume_low"] is not None:
                cycle = rules[r["list_id"].split("__")[0]] + 7
                assert (day - FIRST).days >= cycle, (day, r)
    judged = [r for r in _volume(home, DAY) if r["volume_low"] is not None]
    assert judged, f"no list judged on {DAY}"
    for r in judged:
        assert r["volume_low"] <= r["eligible_rows"] <= r["volume_high"], r
        assert r["volume_high"] >= 1.5 * r["cycle_max_rows"], r


def test_a_list_far_below_its_own_history_is_withheld(home, monkeypatch):
    """The volume check can fail: a judged list whose files come out empty (targets and
    holdouts) is withheld, naming the check and its figures."""
    assert daily.run(home, PREVIOUS, "good").ok
    judged = {
        r["list_id"]
        for r in _volume(home, PREVIOUS)
        if r["volume_low"] is not None and r["volume_low"] >= 1
    }
    assert judged, "no list judged with a lower bound above zero"
    real = publish.build_lists
    broken: dict[str, str] = {}

    def emptied(*args, **kwargs):
        built = real(*args, **kwargs)
        manifest = json.loads((built.directory / "manifest.json").read_text())
        item = next(i for i in manifest["lists"] if i["list_id"] in judged)
        broken["list_id"] = item["list_id"]
        for f in (item["files"]["parquet"], item["files"]["holdout_parquet"]):
            _rewrite(built.directory / f["name"], list.clear)
        return built

    monkeypatch.setattr(publish, "build_lists", emptied)
    outcome = daily.run(home, DAY, "emptied")
    assert outcome.ok and outcome.status == "partial", outcome.report.read_text()
    list_id = broken["list_id"]
    recorded = outcomes.read_outcome(home, DAY)["lists"][list_id]
    assert recorded["status"] == "withheld"
    reasons = " ".join(recorded["reasons"])
    assert "list size not below its own recent history" in reasons
    assert "eligible_rows=0" in reasons and "volume_low=" in reasons


def _only_some_rows(keep: int):
    def change(rows):
        del rows[keep:]

    return change


def test_a_list_level_failure_withholds_that_list_only(home, monkeypatch):
    """One list loses most of its rows between the warehouse and the file: that list is
    withheld -- in the manifest, the report and the outcome, naming the check and the
    figures -- its files are kept aside and never served, the other lists publish, and
    the alert hook is told."""
    assert daily.run(home, PREVIOUS, "good").ok
    real = publish.build_lists
    broken: dict[str, str] = {}

    def thin(*args, **kwargs):
        built = real(*args, **kwargs)
        path = _a_list(built.directory)
        broken["list_id"] = path.name.removesuffix(".parquet")
        _rewrite(path, _only_some_rows(1))
        return built

    monkeypatch.setattr(publish, "build_lists", thin)
    outcome = daily.run(home, DAY, "thin")
    assert outcome.ok and outcome.status == "partial", outcome.report.read_text()
    list_id = broken["list_id"]
    target = publish.published_dir(home, DAY)
    manifest = json.loads((target / "manifest.json").read_text())
    entries = {i["list_id"]: i for i in manifest["lists"]}
    withheld = entries.pop(list_id)
    assert withheld["status"] == "withheld" and "files" not in withheld
    reasons = " ".join(withheld["withheld_reasons"])
    assert "the list holds exactly the dispatched tasks" in reasons
    assert "list_rows=1" in reasons and "dispatched_tasks=" in reasons
    # the others are live, or wait for their team's approval (marketing rules)
    assert entries and all(
        i["status"] == ("published" if i["approval"]["policy"] == "auto" else "pending_approval")
        for i in entries.values()
    )
    assert not list((target).glob(f"{list_id}.*"))
    aside = home.publish_dir / "_withheld" / target.name
    assert (aside / f"{list_id}.parquet").exists()
    text = outcome.report.read_text()
    assert f"{list_id}" in text and "WITHHELD" in text and "list_rows=1" in text
    recorded = outcomes.read_outcome(home, DAY)
    assert recorded["status"] == "partial"
    assert recorded["lists"][list_id]["status"] == "withheld"
    alerts = [
        json.loads(line)
        for line in Path(__import__("os").environ["KAIROS_TEST_ALERTS"]).read_text().splitlines()
    ]
    assert alerts[-1]["info"]["severity"] == "warning" and list_id in alerts[-1]["text"]


# --- the phone managers' call sheets ------------------------------------------------


def _sheets(staging: Path) -> Path:
    return staging / publish.SHEETS_DIR / publish.SHEETS_FILE


def _a_sheet(staging: Path) -> str:
    """The id of the longest call sheet."""
    sheets = json.loads((staging / "manifest.json").read_text())["call_sheets"]
    sheet = max(sheets, key=lambda s: (s["rows"], s["sheet_id"]))
    assert sheet["rows"] >= 1, sheets
    return sheet["sheet_id"]


def test_call_sheets_are_each_managers_calls_in_order(home):
    """One sheet per manager with calls: the key-moment calls their queue made, then the
    planned calls, numbered 1..n, within capacity, and the same calls as the lists."""
    staging = stage(home)
    manifest = json.loads((staging / "manifest.json").read_text())
    sheets = manifest["call_sheets"]
    assert sheets and all(s["status"] == "published" for s in sheets)
    rows = pq.read_table(_sheets(staging)).to_pylist()
    assert sum(s["rows"] for s in sheets) == len(rows)
    con = duckdb.connect(str(snapshot(home)), read_only=True)
    capacity = dict(
        con.execute(
            "select phone_manager_id, daily_call_capacity from staging.stg_crm__phone_managers"
            " where business_date = ?",
            [DAY],
        ).fetchall()
    )
    made = dict(
        con.execute(
            "select phone_manager_id, used from marts.fct_phone_manager_capacity_daily"
            " where business_date = ?",
            [DAY],
        ).fetchall()
    )
    con.close()
    for sheet in sheets:
        pm = sheet["phone_manager_id"]
        mine = [r for r in rows if r["phone_manager_id"] == pm]
        assert [r["call_order"] for r in mine] == list(range(1, len(mine) + 1))
        assert len(mine) <= capacity[pm]
        # the queue's calls first, then the planned ones
        kinds = [r["rule_code"] == "PC01_PLANNED_CALL" for r in mine]
        assert kinds == [False] * made[pm] + [True] * (len(mine) - made[pm])
        with (staging / sheet["files"]["csv"]["name"]).open(encoding="utf-8-sig") as fh:
            assert [int(r["call_order"]) for r in csv.DictReader(fh)] == [
                r["call_order"] for r in mine
            ]
    assert any(r["rule_code"] == "PC01_PLANNED_CALL" for r in rows)
    # every call on a sheet is a target row of its rule's list, under the same key
    listed = {
        (r["list_id"], r["customer_key"])
        for p in staging.glob("*.parquet")
        if not p.name.endswith(".holdout.parquet")
        for r in pq.read_table(p, columns=["list_id", "customer_key"]).to_pylist()
    }
    assert {(r["list_id"], r["customer_key"]) for r in rows} <= listed
    # the planned calls' list has its holdout, like a rule's
    planned = next(i for i in manifest["lists"] if i["rule_code"] == "PC01_PLANNED_CALL")
    assert planned["rows"] > 0 and planned["owner_team"] == "phone-manager-team"


def test_call_sheet_suites_fail_on_a_broken_sheet(home):
    """A call twice, a call lost, an unmasked number: each caught (one staging, the sheets
    file broken and restored in turn)."""
    staging = stage(home)
    victim = _a_sheet(staging)
    good = _sheets(staging).read_bytes()

    def mine(rows):
        return [r for r in rows if r["sheet_id"] == victim]

    breaks = {
        # a call twice: the same number twice
        ("call_sheets_counts", "distinct_orders"): lambda rows: rows.append(dict(mine(rows)[0])),
        ("call_sheets_counts", "sheet_rows"): lambda rows: rows.remove(mine(rows)[-1]),
        ("call_sheets_rows", "msisdn_masked"): lambda rows: mine(rows)[0].update(
            msisdn_masked="13812345678"
        ),
    }
    for (suite, column), change in breaks.items():
        _rewrite(_sheets(staging), change)
        result = gate(home, "target_lists", suite, lists_dir=str(staging))
        assert column in failed_columns(result), (column, result.summary())
        if suite == "call_sheets_counts":  # a sheet-level check: only that sheet is refused
            assert set(result.withheld_lists()) == {victim}, result.summary()
        else:  # masking concerns every file: the whole gate fails, quoting no number
            assert not result.gate_level_success
            assert "13812345678" not in result.summary()
        _sheets(staging).write_bytes(good)


def test_a_broken_call_sheet_is_withheld_and_its_calls_are_not_made(home, monkeypatch):
    """A sheet that lost a call is withheld (files aside, reason named) while the lists
    publish; CRM then makes none of that sheet's calls, and every other call."""
    from kairos_sample import execution

    real = publish.build_lists
    broken: dict[str, str] = {}

    def thin(*args, **kwargs):
        built = real(*args, **kwargs)
        broken["sheet_id"] = _a_sheet(built.directory)
        _rewrite(
            _sheets(built.directory),
            lambda rows: rows.remove([r for r in rows if r["sheet_id"] == broken["sheet_id"]][-1]),
        )
        return built

    monkeypatch.setattr(publish, "build_lists", thin)
    outcome = daily.run(home, DAY, "thin-sheet")
    assert outcome.ok and outcome.status == "partial", outcome.report.read_text()
    target = publish.published_dir(home, DAY)
    manifest = json.loads((target / "manifest.json").read_text())
    sheets = {s["sheet_id"]: s for s in manifest["call_sheets"]}
    bad = sheets.pop(broken["sheet_id"])
    assert bad["status"] == "withheld" and "files" not in bad
    assert "the sheet holds exactly" in " ".join(bad["withheld_reasons"])
    assert not (target / publish.SHEETS_DIR / f"{bad['phone_manager_id']}.csv").exists()
    assert all(i["status"] != "withheld" for i in manifest["lists"])
    # the others wait for their lists' approval, then go live with them
    assert all(s["status"] == "pending_approval" for s in sheets.values())
    before = execution.published_tasks(home.publish_dir, DAY)
    approval.approve_pending(home, DAY, "tester", "ok")
    manifest = json.loads((target / "manifest.json").read_text())
    statuses = {s["sheet_id"]: s["status"] for s in manifest["call_sheets"]}
    assert statuses.pop(broken["sheet_id"]) == "withheld"
    assert set(statuses.values()) == {"published"}
    after = execution.published_tasks(home.publish_dir, DAY)
    # pending lists execute nothing; once approved, all their tasks but the withheld
    # sheet's calls -- every one the manager had, the one missing from the file too
    private = home.publish_dir / "_private" / target.name / "list_members.parquet"
    groups = pq.read_table(private, columns=["contact_group"]).column(0).to_pylist()
    assert after.size == groups.count("target") - bad["rows"]
    assert before is None or before.size < after.size


def test_publishing_refuses_a_snapshot_older_than_the_build(home):
    """The date was loaded again after its build: publishing the old build would publish
    lists the warehouse no longer stands behind."""
    mutate(
        home,
        "insert into audit.load_ledger select load_id || '-again', system, extract,"
        " business_date, file_name, file_md5, file_bytes, control_rows, rows_loaded,"
        " rows_quarantined, 'replaced', message, dag_run_id, started_at,"
        " now()::timestamp + interval 1 hour from audit.load_ledger"
        f" where business_date = '{DAY}' and extract = 'customers'",
    )
    outcome = daily.run(home, DAY, "stale")
    assert not outcome.ok
    text = outcome.report.read_text()
    assert "loaded again" in text and f"kairos build --date {DAY}" in text
    assert outcomes.read_outcome(home, DAY)["status"] == "failed"
    assert not (home.publish_dir / "lists" / DAY.isoformat()).exists()


# --- crash safety, retention, permissions, what the manifest says -----------------------


def test_a_crash_between_the_renames_does_not_stick_the_date(home, monkeypatch):
    root = home.publish_dir
    real_replace = os.replace
    calls = {"n": 0}

    def die_after_the_private_rename(src, dst):
        real_replace(src, dst)
        if Path(dst).parent.name == "_private" and not calls["n"]:
            calls["n"] += 1
            raise OSError("killed between the renames")

    monkeypatch.setattr(os, "replace", die_after_the_private_rename)
    assert not daily.run(home, DAY, "crash-rename").ok
    monkeypatch.setattr(os, "replace", real_replace)
    orphans = list((root / "_private").iterdir())
    assert [p.name for p in orphans] == [f"{DAY}.001"]
    outcome = daily.run(home, DAY, "again")  # the re-run publishes ...
    assert outcome.ok, outcome.report.read_text()
    assert Path(outcome.published).name == f"{DAY}.002"
    # ... and the orphan of the crashed run is gone
    assert sorted(p.name for p in (root / "_private").iterdir()) == [f"{DAY}.002"]


def test_retention_keeps_the_newest_dates_and_removes_dead_staging(home, monkeypatch):
    import os
    import time

    monkeypatch.setenv("KAIROS_PUBLISH_RETENTION", "2")
    cfg = Settings.from_env()
    days = [DAY - dt.timedelta(days=k) for k in (2, 1, 0)]
    root = cfg.publish_dir
    dead = root / "_staging" / f"{days[0]}.killed-run"
    dead.mkdir(parents=True)
    (dead / "x.csv").write_text("customer_key\n")
    old = time.time() - publish.STAGING_GRACE_S - 60
    os.utime(dead, (old, old))
    fresh = root / "_staging" / f"{days[0]}.running-now"
    fresh.mkdir()
    for k, day in enumerate(days):
        assert daily.run(cfg, day, f"r{k}").ok
    assert publish.published_dates(cfg) == days[1:]
    kept = {p.name.split(".")[0] for p in (root / "versions").iterdir()}
    assert kept == {d.isoformat() for d in days[1:]}
    for folder in ("_private", "_withheld"):
        assert {p.name.split(".")[0] for p in (root / folder).iterdir()} <= kept
    assert not dead.exists() and fresh.exists()
    # the record of what happened stays: outcomes and reports hold no personal data
    assert (root / "_outcomes" / f"{days[0]}.json").exists()


def test_files_holding_personal_data_are_private(home, monkeypatch):
    assert daily.run(home, DAY, "perm").ok
    root = home.publish_dir
    for path in (root / "_private").rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path
    assert (root / "_private").stat().st_mode & 0o077 == 0


def test_the_manifest_names_the_build_and_no_server_path(home, built):
    outcome = daily.run(home, DAY, "run-m")
    assert outcome.ok
    text = (Path(outcome.published) / "manifest.json").read_text()
    manifest = json.loads(text)
    assert manifest["certified_by"]["dbt"]["build_run_id"] == "fixture"
    assert manifest["certified_by"]["dbt"]["built_at"]
    outcome_text = (home.publish_dir / "_outcomes" / f"{DAY}.json").read_text()
    for absolute in (str(home.home), str(built.home), "/tmp/"):
        assert absolute not in text and absolute not in outcome_text
    gate = manifest["certified_by"]["gates"][0]
    assert (home.home / gate["result"]).is_file()


def test_the_docs_site_served_to_teams_holds_no_server_path(built):
    from kairos import warehouse

    site = warehouse.docs(built)
    assert site == built.docs_site_dir
    for name in ("manifest.json", "catalog.json"):
        text = (site / name).read_text()
        assert str(built.home) not in text and str(built.project_dir) not in text
        json.loads(text)
    assert '"root_path": "."' in (site / "manifest.json").read_text()
