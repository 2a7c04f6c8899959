"""Ingestion on real DuckDB files: control checks, quarantine, idempotency, refusals."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys

import duckdb
import pytest

from kairos import cli, contract
from kairos.ingest import (
    DeliveryRefused,
    NotDelivered,
    ingest_dates,
    ingest_extract,
)
from kairos_sample import release_late
from tests.conftest import DAY

REASON_BY_KIND = {
    "too_few_fields": "fields, found",
    "too_many_fields": "fields, found",
    "bad_type": "is not a valid",
    "bad_code": "is not a valid code",
    "empty_required": "required value is empty",
    "bad_encoding": "bytes not valid",
    "blank_line": "empty line",
    "duplicate_key": "duplicate primary key",
    "out_of_range": ("below the minimum", "does not match"),
    "wrong_date": "is not the business date",
}


def _table_digest(read, table: str) -> str:
    rows = read(f"select * from {table} order by all")
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def _ingest_all(cfg, day=DAY, **kw):
    results, failures = ingest_dates(cfg, day, day, **kw)
    return {r.extract: r for r in results}, failures


def test_clean_delivery_loads_every_row(cfg, deliver, read_warehouse):
    manifest = deliver(subscribers=3000)
    results, failures = _ingest_all(cfg)
    assert failures == []
    files = manifest["files"]["20261121"]
    for e in contract.extracts():
        r = results[e.key]
        assert r.status == "loaded"
        assert r.rows_quarantined == 0, e.key
        assert r.rows_loaded == files[e.key]["rows"]
        (count,) = read_warehouse(
            f"select count(*) from {e.raw_table} where business_date = ?", [DAY]
        )[0]
        assert count == files[e.key]["rows"]
    assert read_warehouse("select count(*) from audit.quarantine")[0][0] == 0


def test_gbk_text_arrives_as_chinese(cfg, deliver, read_warehouse):
    deliver(subscribers=1000)
    _ingest_all(cfg, systems=["boss"])
    brands = {r[0] for r in read_warehouse("select distinct brand from raw.boss_subscribers")}
    assert brands == {"全球通", "动感地带", "神州行"}
    names = {r[0] for r in read_warehouse("select price_plan_name from raw.boss_price_plans")}
    assert "神州行畅听卡18元" in names


def test_rerun_of_an_identical_delivery_is_a_recorded_no_op(cfg, deliver, read_warehouse):
    deliver(subscribers=1500)
    _ingest_all(cfg)
    before = {e.raw_table: _table_digest(read_warehouse, e.raw_table) for e in contract.extracts()}
    deliver(subscribers=1500)  # a duplicate delivery: byte-identical files, new mtime
    results, failures = _ingest_all(cfg)
    assert failures == []
    assert {r.status for r in results.values()} == {"unchanged"}
    after = {e.raw_table: _table_digest(read_warehouse, e.raw_table) for e in contract.extracts()}
    assert after == before
    statuses = read_warehouse(
        "select status, count(*) from audit.load_ledger group by all order by all"
    )
    n = len(contract.extracts())
    assert statuses == [("loaded", n), ("unchanged", n)]


def test_forced_reload_gives_identical_tables(cfg, deliver, read_warehouse):
    deliver(subscribers=1500, faults=["malformed:crm.customers"])
    _ingest_all(cfg, systems=["crm"])
    before = [
        _table_digest(read_warehouse, t)
        for t in ("raw.crm_customers", "raw.crm_contacts", "audit.quarantine")
    ]
    results, _ = _ingest_all(cfg, systems=["crm"], force=True)
    assert {r.status for r in results.values()} == {"replaced"}
    after = [
        _table_digest(read_warehouse, t)
        for t in ("raw.crm_customers", "raw.crm_contacts", "audit.quarantine")
    ]
    assert after == before


def test_changed_redelivery_replaces_only_that_date(cfg, deliver, read_warehouse):
    other = DAY - dt.timedelta(days=1)
    deliver(day=other, subscribers=1000, seed=1)
    deliver(day=DAY, subscribers=1000, seed=1)
    ingest_dates(cfg, other, DAY)
    other_before = read_warehouse(
        "select count(*), sum(data_mb) from raw.boss_daily_usage where business_date = ?", [other]
    )
    deliver(day=DAY, subscribers=1200, seed=2)  # the source system re-sends the day, changed
    results, failures = _ingest_all(cfg)
    assert failures == []
    # reference extracts that did not change are recognised as identical re-deliveries
    assert results["boss.price_plans"].status == "unchanged"
    assert results["crm.campaigns"].status == "unchanged"
    assert results["boss.subscribers"].status == "replaced"
    assert (
        read_warehouse("select count(*) from raw.boss_subscribers where business_date = ?", [DAY])[
            0
        ][0]
        == 1200
    )
    assert (
        read_warehouse(
            "select count(*), sum(data_mb) from raw.boss_daily_usage where business_date = ?",
            [other],
        )
        == other_before
    )


def test_every_malformed_row_is_quarantined_with_line_and_reason(cfg, deliver, read_warehouse):
    manifest = deliver(subscribers=3000, faults=["malformed"])
    results, failures = _ingest_all(cfg)
    assert failures == []
    injected = manifest["faults"]
    assert {f["kind"] for f in injected} == set(REASON_BY_KIND), "every kind planted"
    quarantined = {
        (f"{s}.{x}", line): (raw, reason, file_name)
        for s, x, line, raw, reason, file_name in read_warehouse(
            "select system, extract, line_number, raw_line, reason, file_name from audit.quarantine"
        )
    }
    expected = set()
    for f in injected:
        for line in f["quarantined_lines"]:
            expected.add((f["extract"], line))
        raw, reason, file_name = quarantined[(f["extract"], f["line"])]
        wanted = REASON_BY_KIND[f["kind"]]
        wanted = wanted if isinstance(wanted, tuple) else (wanted,)
        assert any(w in reason for w in wanted), (f, reason)
        assert file_name == contract.get(f["extract"]).data_path(cfg.landing, DAY).name
        # the raw text is the line exactly as delivered (decoded), so nothing is lost
        data = contract.get(f["extract"]).data_path(cfg.landing, DAY).read_bytes()
        delivered = data.split(b"\n")[f["line"] - 1]
        if f["kind"] != "bad_encoding":
            enc = contract.get(f["extract"]).encoding
            assert raw == delivered.decode(enc), f
        else:
            assert "\\xff" in raw
    assert set(quarantined) == expected, "only the planted lines are quarantined"
    for e in contract.extracts():
        r = results[e.key]
        assert r.rows_loaded + r.rows_quarantined == r.control_rows


def test_truncated_file_is_refused_whole_and_the_last_good_load_stays(cfg, deliver, read_warehouse):
    deliver(subscribers=1000, seed=1)
    ingest_extract(cfg, "boss.daily_usage", DAY)
    good = _table_digest(read_warehouse, "raw.boss_daily_usage")
    deliver(subscribers=1000, seed=2, faults=["truncated:boss.daily_usage"])
    with pytest.raises(DeliveryRefused, match=r"refused: .*bytes, control says"):
        ingest_extract(cfg, "boss.daily_usage", DAY)
    assert _table_digest(read_warehouse, "raw.boss_daily_usage") == good
    ((status, message),) = read_warehouse(
        "select status, message from audit.load_ledger where extract = 'daily_usage'"
        " order by finished_at desc limit 1"
    )
    assert status == "refused" and "bytes, control says" in message


def test_wrong_control_count_is_refused(cfg, deliver, read_warehouse):
    deliver(subscribers=800, faults=["wrong-count:crm.contacts"])
    with pytest.raises(DeliveryRefused, match="data rows, control says"):
        ingest_extract(cfg, "crm.contacts", DAY)
    assert read_warehouse("select count(*) from raw.crm_contacts")[0][0] == 0


def test_wrong_header_is_refused(cfg, deliver):
    deliver(subscribers=500)
    e = contract.get("bi.customer_tags")
    path = e.data_path(cfg.landing, DAY)
    data = path.read_bytes().replace(b"tag_code|tag_value", b"tag_value|tag_code", 1)
    path.write_bytes(data)
    from kairos.control import ControlRecord, write_control

    write_control(
        e.control_path(cfg.landing, DAY),
        ControlRecord(
            path.name, DAY, data.count(b"\n") - 1, len(data), hashlib.md5(data).hexdigest()
        ),
    )
    with pytest.raises(DeliveryRefused, match="header is"):
        ingest_extract(cfg, e.key, DAY)


def test_late_file_is_not_delivered_until_its_control_file_arrives(cfg, deliver):
    deliver(subscribers=800, faults=["late:bi.satisfaction_surveys"])
    with pytest.raises(NotDelivered):
        ingest_extract(cfg, "bi.satisfaction_surveys", DAY)
    assert release_late(cfg.landing)
    assert ingest_extract(cfg, "bi.satisfaction_surveys", DAY).status == "loaded"


def test_backfill_from_the_command_line(deliver, read_warehouse, capsys):
    first = DAY - dt.timedelta(days=2)
    deliver(day=first, days=3, subscribers=600)
    code = cli.main(["ingest", "--from", str(first), "--to", str(DAY), "--system", "bi"])
    assert code == 0
    assert read_warehouse(
        "select business_date, count(*) from audit.load_ledger group by all order by all"
    ) == [(first + dt.timedelta(days=k), len(contract.for_system("bi"))) for k in range(3)]
    assert "bi.customer_tags 2026-11-21: loaded" in capsys.readouterr().out


def test_command_line_reports_a_refusal_and_fails(deliver, capsys):
    deliver(subscribers=500, faults=["truncated:crm.complaints"])
    assert cli.main(["ingest", "--date", str(DAY), "--extract", "crm.complaints"]) == 1
    assert "FAILED crm.complaints 2026-11-21" in capsys.readouterr().err


def test_a_second_duckdb_writer_fails_without_the_lock(cfg, deliver):
    """Why the writer lock exists: DuckDB refuses a second writing process outright."""
    deliver(subscribers=300)
    ingest_extract(cfg, "boss.price_plans", DAY)
    con = duckdb.connect(str(cfg.warehouse))
    try:
        probe = subprocess.run(
            [sys.executable, "-c", f"import duckdb; duckdb.connect({str(cfg.warehouse)!r})"],
            capture_output=True,
            text=True,
        )
    finally:
        con.close()
    assert probe.returncode != 0 and "lock" in probe.stderr.lower()


def test_a_writer_waits_for_the_lock_instead_of_failing(cfg, deliver, read_warehouse):
    from kairos.warehouse.store import connect_writer, writer_lock

    deliver(subscribers=300)
    with connect_writer(cfg):
        pass  # create the warehouse so that it can be read below
    env = dict(os.environ, KAIROS_HOME=str(cfg.home))
    with writer_lock(cfg.writer_lock, cfg.writer_lock_timeout_s):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kairos.cli",
                "ingest",
                "--date",
                str(DAY),
                "--extract",
                "crm.campaigns",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = proc.stderr.readline()  # blocks until the loader says it is waiting
        assert "waiting for the warehouse writer lock" in first
        assert proc.poll() is None
        assert read_warehouse("select count(*) from audit.load_ledger") == [(0,)]
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "crm.campaigns 2026-11-21: loaded" in out


def test_the_lake_holds_exactly_the_sealed_rows(kairos_home, deliver, monkeypatch):
    """With KAIROS_LAKE set, sealing writes each raw partition to Parquet for another
    engine (--target spark): every table's file holds the table's rows for the date, the
    same columns and types; quarantined rows never reach it; a changed redelivery
    replaces the file; no partial file is left behind."""
    from kairos.config import Settings
    from kairos.ingest.lake import partition_path

    monkeypatch.setenv("KAIROS_LAKE", str(kairos_home / "lake"))
    cfg = Settings.from_env()
    deliver(subscribers=1500, faults=["malformed"])
    _, failures = _ingest_all(cfg)
    assert failures == []

    def differences(extract) -> tuple[int, int, int]:
        path = partition_path(cfg.lake, extract.raw_table.split(".")[1], DAY)
        con = duckdb.connect(str(cfg.warehouse), read_only=True)
        try:
            lake = f"read_parquet('{path}')"
            raw = f"(select * from {extract.raw_table} where business_date = date '{DAY}')"
            same_types = con.execute(
                f"select (select list(column_type) from (describe {raw}))"
                f" = (select list(column_type) from (describe select * from {lake}))"
            ).fetchone()[0]
            missing = con.execute(f"select count(*) from ({raw} except all from {lake})")
            missing = missing.fetchone()[0]
            extra = con.execute(f"select count(*) from (from {lake} except all {raw})")
            return int(not same_types), missing, extra.fetchone()[0]
        finally:
            con.close()

    for extract in contract.extracts():
        assert differences(extract) == (0, 0, 0), extract.key
    assert not list(cfg.lake.rglob("*.partial")), "no partial file left"
    # a changed redelivery of one extract is sealed again: its file follows the table
    subscribers = contract.get("boss.subscribers")
    deliver(subscribers=1200, seed=5)
    _, failures = ingest_dates(cfg, DAY, DAY, extracts=["boss.subscribers"])
    assert failures == []
    assert differences(subscribers) == (0, 0, 0)


def test_the_operations_page_counts_each_extract_once_however_often_it_was_loaded(cfg, deliver):
    """A date loaded twice (a forced reload) has each extract once on the operations
    page, with the rows of its latest load, not the sum of both attempts."""
    from kairos import operations

    deliver(subscribers=300)
    first, _ = ingest_dates(cfg, DAY, DAY)
    again, _ = ingest_dates(cfg, DAY, DAY, force=True)
    assert len(again) == len(first) == len(contract.extracts())
    (day,), _ = operations.overview(cfg)
    assert (day.extracts_loaded, day.extracts_failed) == (len(contract.extracts()), 0)
    assert day.rows_loaded == sum(r.rows_loaded for r in again)
