"""The gate's two engines agree: row expectations compiled to DuckDB SQL
(kairos.quality.compiled) count exactly what GX's pandas engine counts, on rows that
break every rule the contract states, and the gate fails on them either way."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import duckdb
import pytest

from kairos import contract, quality
from kairos.quality import compiled
from kairos.warehouse.store import ensure_schema

DAY = dt.date(2026, 11, 21)
ROWS = 400


def _values(column: contract.Column) -> list:
    """Good and bad values of a column's type: codes out of the set, numbers out of the
    range, text breaking or nearly matching the pattern, nulls, quotes and CJK."""
    kind = column.type.upper()
    if kind == "VARCHAR":
        good = list(column.values or ["13800138000", "20261121:KM06_LOW_BALANCE__sms", "AB12"])
        return [*good, None, "", "ZZ", "x'y\"z", "新客户", "[A-Z]{2}", "1380013800099", "ab12"]
    if kind in ("INTEGER", "BIGINT"):
        low, high = column.min or 0, column.max or 10**6
        return [None, low, high, low - 1, high + 1, -5, 0, 7, 10**7]
    if kind.startswith("DECIMAL"):
        # not 0.01 itself: see test_a_decimal_at_its_inclusive_bound_passes
        return [None, Decimal("0.00"), Decimal("0.02"), Decimal("-0.01"), Decimal("123.45")]
    if kind == "DATE":
        return [None, DAY, DAY - dt.timedelta(days=400)]
    if kind == "TIMESTAMP":
        return [None, dt.datetime(2026, 11, 21, 8, 30)]
    if kind == "BOOLEAN":
        return [None, True, False]
    raise AssertionError(f"no sample values for type {column.type}")


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """A warehouse whose every raw table holds ROWS random good-or-bad rows for DAY."""
    path = tmp_path_factory.mktemp("quality") / "broken.duckdb"
    con = duckdb.connect(str(path))
    ensure_schema(con)
    rng = random.Random(7)
    for extract in contract.extracts():
        names = [c.name for c in extract.columns]
        rows = [[rng.choice(_values(c)) for c in extract.columns] + [DAY] for _ in range(ROWS)]
        marks = ", ".join("?" for _ in range(len(names) + 1))
        con.executemany(
            f"insert into {extract.raw_table} ({', '.join(names)}, business_date) values ({marks})",
            rows,
        )
    con.close()
    return path


def _key(outcome: quality.ExpectationOutcome) -> tuple:
    return (
        outcome.expectation,
        outcome.column,
        outcome.success,
        outcome.element_count,
        outcome.unexpected_count,
    )


def test_compiled_row_expectations_count_what_gx_counts(cfg, broken):
    suites = [s for s in quality.load_suites(cfg, "raw_extracts") if s.shape == "rows"]
    assert suites and all(quality.sql_compiled(s) for s in suites)
    validator = quality._Validator(cfg.quality_dir / "data_docs")
    con = duckdb.connect(str(broken), read_only=True)
    failed_kinds: set[str] = set()
    try:
        for suite in suites:
            sql = quality.run_suite(con, suite, {"business_date": DAY}, validator)
            gx = quality.run_suite(con, suite, {"business_date": DAY}, validator, engine="gx")
            assert (sql.engine, gx.engine) == ("duckdb", "gx")
            assert sql.error is None and gx.error is None, (sql.error, gx.error)
            assert sql.rows == gx.rows == ROWS
            assert [_key(o) for o in sql.expectations] == [_key(o) for o in gx.expectations]
            assert sql.success == gx.success
            failed_kinds |= {o.expectation for o in sql.failures}
            for o in sql.failures:
                # examples only where the suite holds no PII and the value is not null
                quiet = suite.sensitive or o.expectation.endswith("not_be_null")
                assert bool(o.details) != quiet, (suite.name, o.details)
    finally:
        con.close()
    # every kind of rule the contract states was broken, and caught, by both engines
    assert failed_kinds == {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_match_regex",
    }


def test_a_gate_over_broken_rows_fails_and_names_each_rule(cfg, broken):
    suites = [s for s in quality.load_suites(cfg, "raw_extracts") if s.shape == "rows"]
    result = quality.run_gate(cfg, "raw_rows", suites, DAY, database=broken, raise_on_failure=False)
    assert not result.success
    assert {s.engine for s in result.suites} == {"duckdb"}
    summary = result.summary()
    assert "FAIL raw_boss_subscribers_rows" in summary
    assert "expect_column_values_to_match_regex on msisdn" in summary
    # a suite over PII columns (the msisdn) keeps no example value, in the summary or the
    # JSON result; the others show at most three
    sensitive = {s.name for s in suites if s.sensitive}
    assert "raw_boss_subscribers_rows" in sensitive
    kept = (cfg.home / result.result_path).read_text(encoding="utf-8")
    for s in result.suites:
        for e in s.failures:
            quiet = s.suite in sensitive or e.expectation.endswith("not_be_null")
            assert (e.details == "") == quiet, e
    block = summary.split("FAIL raw_boss_subscribers_rows")[1].split("FAIL ")[0]
    assert "e.g." not in block and "1380013800099" not in block
    assert kept.count("1380013800099") == summary.count("1380013800099")
    with pytest.raises(quality.GateFailed):
        quality.run_gate(cfg, "raw_rows", suites, DAY, database=broken)


def test_clean_rows_pass_on_both_engines(cfg, broken, tmp_path):
    """The same suites on rows that keep every rule: nothing unexpected either way."""
    path = tmp_path / "clean.duckdb"
    con = duckdb.connect(str(path))
    con.execute(f"attach '{broken}' as src (read_only)")
    ensure_schema(con)
    suites = [s for s in quality.load_suites(cfg, "raw_extracts") if s.shape == "rows"]
    for extract in contract.extracts():
        keep = " and ".join(
            f"not ({p})"
            for kind, kwargs in next(
                s.entries for s in suites if s.name == f"raw_{extract.system}_{extract.name}_rows"
            )
            for p in [compiled._violation(kind, kwargs)]
        )
        con.execute(
            f"insert into {extract.raw_table} select * from src.{extract.raw_table}"
            f" where {keep or 'true'}"
        )
    con.close()
    validator = quality._Validator(cfg.quality_dir / "data_docs")
    con = duckdb.connect(str(path), read_only=True)
    try:
        for suite in suites:
            for engine in ("auto", "gx"):
                r = quality.run_suite(con, suite, {"business_date": DAY}, validator, engine)
                assert r.success, (suite.name, engine, r.failures)
    finally:
        con.close()


@pytest.mark.parametrize(
    "entries",
    [
        (("expect_column_values_to_be_unique", {"column": "a"}),),
        (("expect_column_values_to_not_be_null", {"column": "a", "mostly": 0.9}),),
        (("expect_column_values_to_be_between", {"column": "a"}),),
        (),
    ],
)
def test_what_does_not_compile_stays_on_gx(entries):
    assert not compiled.compilable(entries)


def test_a_decimal_at_its_inclusive_bound_passes(cfg, tmp_path):
    """A payment of exactly 0.01 yuan keeps the contract's ``min: 0.01``. DuckDB compares
    the DECIMAL with the exact literal and accepts it; GX's pandas engine compares a
    Python Decimal with the float 0.01 (a hair above 0.01) and calls it unexpected --
    one reason the raw row suites run compiled."""
    path = tmp_path / "bound.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t as select 0.01::decimal(12, 2) as amount_yuan")
    con.close()
    suite = quality.Suite(
        name="bound",
        description="",
        query="select amount_yuan from t",
        expectations=lambda: [],
        entries=(
            ("expect_column_values_to_be_between", {"column": "amount_yuan", "min_value": 0.01}),
        ),
    )
    suite = quality.suites._suite(
        {
            "name": "bound",
            "query": suite.query,
            "expectations": [{k: v} for k, v in suite.entries],
        },
        path,
    )
    validator = quality._Validator(cfg.quality_dir / "data_docs")
    con = duckdb.connect(str(path), read_only=True)
    try:
        sql = quality.run_suite(con, suite, {}, validator)
        gx = quality.run_suite(con, suite, {}, validator, engine="gx")
    finally:
        con.close()
    assert (sql.engine, sql.success, sql.expectations[0].unexpected_count) == ("duckdb", True, 0)
    assert (gx.success, gx.expectations[0].unexpected_count) == (False, 1)
