"""The analysts' snapshot, brought up to date a day at a time (kairos.warehouse.snapshot): after
every publication it is an exact copy of the live warehouse -- rows (identifying columns
masked), tables, views and comments -- whichever way it was made, and a reader keeps the
generation it opened.

These tests use real extracts ingested into a real warehouse; the dbt models' way
(partitions of incremental models, a window rewritten) is checked on the closed loop
(tests/test_task_outcomes.py), where every date runs the real build and snapshot."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys

import duckdb
import pytest

from kairos.config import ConfigError, Settings
from kairos.ingest import ingest_dates
from kairos.warehouse import snapshot
from kairos.warehouse.store import connect_writer
from kairos_sample import generate
from tests.conftest import module_home
from tests.support import snapshot_differences, subscriber_numbers_in

FIRST = dt.date(2026, 11, 1)
DAYS = [FIRST + dt.timedelta(days=k) for k in range(3)]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """Three dates of extracts generated and the first two ingested (a template home)."""
    mp, cfg = module_home(tmp_path_factory, "snapshot")
    try:
        generate(cfg.landing, FIRST, len(DAYS), 1500, 3, progress=False)
        _, failures = ingest_dates(cfg, DAYS[0], DAYS[1])
        assert failures == []
    finally:
        mp.undo()
    return cfg.home


@pytest.fixture
def home(loaded, tmp_path, monkeypatch) -> Settings:
    copy = tmp_path / "home"
    shutil.copytree(loaded, copy, symlinks=True)
    monkeypatch.setenv("KAIROS_HOME", str(copy))
    monkeypatch.delenv("KAIROS_WAREHOUSE", raising=False)
    monkeypatch.delenv("KAIROS_LANDING", raising=False)
    # the way under test, whichever is cheaper on so small a warehouse (auto: below)
    monkeypatch.setenv("KAIROS_SNAPSHOT_MODE", "update")
    return Settings.from_env()


def publish(cfg) -> dict:
    snapshot.publish(cfg)
    assert snapshot_differences(cfg) == []
    return snapshot.describe(cfg)


def count(path, sql):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_the_snapshot_is_brought_up_to_date_by_the_dates_loaded_since(home):
    first, second = publish(home), publish(home)
    assert first["made"] == second["made"] == "copied whole"
    assert home.snapshot.is_symlink() and os.access(home.snapshot, os.R_OK)
    assert not os.access(home.snapshot.resolve(), os.W_OK) or os.geteuid() == 0
    assert oct(home.snapshot.resolve().stat().st_mode & 0o777) == "0o444"
    # a new date, and the first date delivered again, changed
    generate(home.landing, DAYS[0], 1, 1490, 9, progress=False)
    _, failures = ingest_dates(home, DAYS[0], DAYS[0], force=True)
    assert failures == []
    ingest_dates(home, DAYS[2], DAYS[2])
    third = publish(home)
    assert third["made"] == "brought up to date", third
    # the generation brought up to date is the first: it lacked both dates
    assert third["dates"] == [DAYS[0].isoformat(), DAYS[2].isoformat()]
    assert third["tables_by_partition"] >= 15 and third["repaired"] == []
    # nothing new: the next one (the second generation) takes only what it lacks
    fourth = publish(home)
    assert fourth["made"] == "brought up to date"
    assert fourth["dates"] == [DAYS[0].isoformat(), DAYS[2].isoformat()]
    fifth = publish(home)
    assert fifth["dates"] == [] and fifth["generation"] == 5
    gens = sorted(p.name for p in (home.snapshot.parent / "generations").iterdir())
    assert gens == ["4", "5"]  # two generations, the older ones gone


def test_a_reader_keeps_its_generation_and_the_next_one_is_copied_whole(home):
    publish(home)
    publish(home)
    rows = "select count(*) from raw.boss_subscribers"
    held = count(home.snapshot, rows)
    # an analyst's session (another process) on the current generation
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True);"
            " print('open', flush=True); sys.stdin.readline();"
            " print(con.execute('select count(*) from raw.boss_subscribers').fetchone()[0])",
            str(home.snapshot),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "open"
        ingest_dates(home, DAYS[2], DAYS[2])
        assert publish(home)["made"] == "brought up to date"  # the other generation
        # the reader's generation is the one to update next: it is open, so a copy
        again = publish(home)
        assert again["made"] == "copied whole" and "is open" in again["why"], again
        out, _ = reader.communicate("\n", timeout=60)
    finally:
        reader.kill()
    assert reader.returncode == 0 and int(out.split()[-1]) == held  # its rows, unchanged
    assert count(home.snapshot, rows) > held
    assert publish(home)["made"] == "brought up to date"  # and on it goes


def test_a_generation_open_in_this_process_is_not_written(home):
    publish(home)
    publish(home)
    previous = home.snapshot.resolve()
    publish(home)  # the link now points to the other; `previous` is next to update
    con = duckdb.connect(str(previous), read_only=True)
    try:
        made = publish(home)
        assert made["made"] == "copied whole" and "this process" in made["why"]
        assert con.execute("select count(*) from audit.load_ledger").fetchone()[0] > 0
    finally:
        con.close()


def test_a_change_the_ledgers_do_not_record_is_repaired_whole(home, caplog):
    publish(home)
    publish(home)
    with connect_writer(home) as con:  # rows of a loaded date removed behind the ingest
        con.execute(
            "delete from raw.boss_daily_usage where business_date = ? and subscriber_id % 3 = 0",
            [DAYS[0]],
        )
    with caplog.at_level(logging.WARNING, logger="kairos.warehouse.snapshot"):
        made = publish(home)
    assert made["made"] == "brought up to date" and made["repaired"] == ["raw.boss_daily_usage"]
    assert "changed beyond the dates loaded or built" in caplog.text


def test_definitions_views_and_comments_follow_the_warehouse(home):
    publish(home)
    publish(home)
    with connect_writer(home) as con:
        con.execute("alter table raw.crm_customers add column loyalty varchar")
        con.execute("comment on table raw.crm_customers is 'CRM''s customers'")
        con.execute("comment on column raw.crm_customers.loyalty is 'a new column'")
        con.execute("create schema marts")
        con.execute(
            "create table marts.daily as select business_date, count(*) as n"
            " from raw.boss_daily_usage group by all"
        )
        con.execute("create view marts.days as select * from marts.daily")
        # a view reading a view that sorts after it
        con.execute("create view marts.all_days as select max(business_date) as d from marts.days")
        con.execute("comment on view marts.days is 'days'")
        con.execute("comment on column marts.daily.n is 'rows'")
    made = publish(home)
    assert made["made"] == "brought up to date"
    made_here = {"raw.crm_customers", "marts.daily", "marts.days", "marts.all_days"}
    assert made_here <= set(made["tables_made"])
    with connect_writer(home) as con:
        con.execute("drop view marts.all_days")
        con.execute("drop table marts.daily")
        con.execute("drop view marts.days")
        con.execute("create table marts.days as select 1 as one")  # a view becomes a table
    publish(home)  # the other generation: it never saw them at all
    made = publish(home)
    assert made["made"] == "brought up to date"
    assert {"marts.all_days", "marts.daily", "marts.days"} <= set(made["dropped"])


def test_a_generation_that_cannot_be_opened_is_replaced_by_a_copy(home):
    publish(home)
    publish(home)
    current = home.snapshot.resolve().parent
    other = next(p for p in (home.snapshot.parent / "generations").iterdir() if p != current)
    broken = other / "kairos.duckdb"
    broken.chmod(0o644)
    broken.write_bytes(b"not a database" * 100)
    made = publish(home)
    assert made["made"] == "copied whole" and "could not be updated" in made["why"]
    assert not other.exists()


def test_a_snapshot_of_old_a_plain_file_becomes_the_link(home):
    with connect_writer(home) as con:
        con.execute("checkpoint")
    old = home.snapshot
    old.parent.mkdir(parents=True)
    shutil.copyfile(home.warehouse, old)
    old.chmod(0o444)
    publish(home)
    assert old.is_symlink()
    assert publish(home)["made"] == "copied whole"  # the plain file was no generation
    assert publish(home)["made"] == "brought up to date"


def test_a_generation_grown_too_large_is_copied_whole(home, monkeypatch):
    publish(home)
    publish(home)
    monkeypatch.setattr(snapshot, "MAX_GROWTH", 0.5)  # every generation is "too large"
    made = publish(home)
    assert made["made"] == "copied whole" and "grew past" in made["why"]


def test_auto_updates_and_copy_writes_a_whole_generation(home, monkeypatch):
    """A whole generation re-encodes every table (masked), so auto never prefers it once
    there is a generation to update; the costs are still measured."""
    monkeypatch.setenv("KAIROS_SNAPSHOT_MODE", "auto")
    cfg = Settings.from_env()
    assert publish(cfg)["made"] == publish(cfg)["made"] == "copied whole"  # no other yet
    assert publish(cfg)["made"] == publish(cfg)["made"] == "brought up to date"
    costs = json.loads((cfg.snapshot.parent / "costs.json").read_text(encoding="utf-8"))
    assert costs["copy_seconds_per_gib"] > 0 and costs["update_seconds"] > 0
    monkeypatch.setenv("KAIROS_SNAPSHOT_MODE", "copy")
    assert "KAIROS_SNAPSHOT_MODE=copy" in publish(Settings.from_env())["why"]
    monkeypatch.setenv("KAIROS_SNAPSHOT_MODE", "sometimes")
    with pytest.raises(ConfigError, match="KAIROS_SNAPSHOT_MODE must be one of auto"):
        Settings.from_env()


def test_the_snapshot_holds_no_subscriber_number_name_or_birth_date(home):
    """Raw and staging keep the numbers in the live warehouse; the snapshot masks them,
    whichever way it was made (a whole generation, then brought up to date)."""
    assert subscriber_numbers_in(home.warehouse)  # the live warehouse has them
    publish(home)
    publish(home)
    ingest_dates(home, DAYS[2], DAYS[2])
    assert publish(home)["made"] == "brought up to date"
    assert subscriber_numbers_in(home.snapshot) == []
    live = count(home.warehouse, "select count(distinct customer_name) from raw.crm_customers")
    assert live > 100
    con = duckdb.connect(str(home.snapshot), read_only=True)
    try:
        msisdn, names, births = con.execute(
            """select count(*) filter (
                          where not regexp_matches(msisdn, '^1[3-9][0-9][*]{4}[0-9]{4}$')),
                      (select count(distinct customer_name) from raw.crm_customers),
                      (select count(*) filter (where month(birth_date) <> 1 or day(birth_date) <> 1)
                       from raw.crm_customers)
               from raw.boss_subscribers"""
        ).fetchone()
    finally:
        con.close()
    assert (msisdn, births) == (0, 0) and names < live / 10


def test_a_generation_made_before_masking_is_written_whole(home):
    """A snapshot made by an earlier Kairos holds identifiers in partitions an update would
    not touch: it is replaced by a whole generation, never brought up to date."""
    publish(home)
    publish(home)
    for made in (home.snapshot.parent / "generations").glob("*/generation.json"):
        record = json.loads(made.read_text(encoding="utf-8"))
        del record["masking"]
        made.write_text(json.dumps(record), encoding="utf-8")
    for _ in range(2):  # the two old generations, one at a time
        again = publish(home)
        assert again["made"] == "copied whole" and "before identifiers" in again["why"], again
    assert publish(home)["made"] == "brought up to date"
