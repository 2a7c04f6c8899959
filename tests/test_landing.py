"""A hostile or careless landing area: every byte is untrusted.

Each test drives one way a delivery can go wrong and checks the outcome the README's
fault matrix promises: refused (or held, or failed) with a reason in the ledger that
quotes no file content, the last good rows kept, the run going on with the other extracts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import time

import duckdb
import pytest

from kairos import cli, contract, pipeline
from kairos.control import ControlRecord, write_control
from kairos.ingest import (
    DeliveryHeld,
    DeliveryRefused,
    LoadFailed,
    ingest_dates,
    ingest_extract,
)
from tests.conftest import DAY
from tests.support import redeliver

SECRET = "4f1c0ffee" * 7  # what a key file looks like


def ledger(read, key: str, day=DAY) -> tuple[str, str]:
    system, name = key.split(".")
    return read(
        "select status, message from audit.load_ledger where system = ? and extract = ?"
        " and business_date = ? order by finished_at desc limit 1",
        [system, name, day],
    )[0]


def rows(read, key: str, day=DAY) -> int:
    table = contract.get(key).raw_table
    return read(f"select count(*) from {table} where business_date = ?", [day])[0][0]


def test_a_data_file_symlinked_to_a_secret_is_refused_without_quoting_it(
    cfg, deliver, read_warehouse, capsys
):
    deliver(subscribers=300)
    secret = cfg.home / "secrets" / "portal.key"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(SECRET)
    e = contract.get("bi.customer_tags")
    path = e.data_path(cfg.landing, DAY)
    path.unlink()
    path.symlink_to(secret)
    data = secret.read_bytes()
    write_control(
        e.control_path(cfg.landing, DAY),
        ControlRecord(path.name, DAY, 0, len(data), hashlib.md5(data).hexdigest()),
    )
    assert cli.main(["ingest", "--date", str(DAY), "--extract", e.key]) == 1
    captured = capsys.readouterr()
    status, message = ledger(read_warehouse, e.key)
    assert status == "refused" and "symbolic link" in message
    assert cli.main(["ledger", "--date", str(DAY)]) == 0
    shown = capsys.readouterr().out
    for text in (message, captured.err, captured.out, shown):
        assert SECRET[:16] not in text


def test_a_wrong_header_is_described_not_quoted(cfg, deliver, read_warehouse):
    deliver(subscribers=300)
    e = contract.get("crm.campaigns")
    data = e.data_path(cfg.landing, DAY).read_bytes()
    body = data.split(b"\n", 1)[1]
    redeliver(cfg, e.key, (SECRET + "\n").encode() + body)
    with pytest.raises(DeliveryRefused, match=r"1 fields, the contract has") as info:
        ingest_extract(cfg, e.key, DAY)
    assert SECRET[:16] not in str(info.value)
    assert SECRET[:16] not in ledger(read_warehouse, e.key)[1]


def test_a_symlinked_date_folder_is_refused(cfg, deliver, read_warehouse, tmp_path):
    deliver(subscribers=300)
    outside = tmp_path / "elsewhere"
    folder = contract.delivery_dir(cfg.landing, "bi", DAY)
    folder.rename(outside)
    folder.symlink_to(outside, target_is_directory=True)
    results, failures = ingest_dates(cfg, DAY, DAY, systems=["bi"])
    assert results == [] and len(failures) == len(contract.for_system("bi"))
    status, message = ledger(read_warehouse, "bi.customer_tags")
    assert status == "refused" and "outside the landing area" in message


def test_a_device_or_fifo_is_never_read(cfg, deliver, read_warehouse):
    deliver(subscribers=300)
    e = contract.get("crm.campaigns")
    path = e.data_path(cfg.landing, DAY)
    path.unlink()
    os.mkfifo(path)  # reading it would block forever; /dev/zero would never end
    with pytest.raises(DeliveryRefused, match="not a regular file"):
        ingest_extract(cfg, e.key, DAY)
    assert ledger(read_warehouse, e.key)[0] == "refused"


def test_an_overlong_line_is_refused_with_bounded_memory(cfg, deliver, read_warehouse, monkeypatch):
    from kairos.config import Settings

    monkeypatch.setenv("KAIROS_MAX_LINE_BYTES", "65536")
    small = Settings.from_env()
    deliver(subscribers=300)
    e = contract.get("crm.customers")
    data = e.data_path(cfg.landing, DAY).read_bytes()
    head, rest = data.split(b"\n", 1)
    redeliver(cfg, e.key, head + b"\n" + b"9" * 300_000 + b"\n" + rest)
    with pytest.raises(DeliveryRefused, match="line 2 is longer than the limit of 65536"):
        ingest_extract(small, e.key, DAY)
    assert ledger(read_warehouse, e.key)[0] == "refused"


def test_a_file_longer_than_its_control_says_is_not_read_to_the_end(cfg, deliver, read_warehouse):
    deliver(subscribers=300)
    e = contract.get("crm.customers")
    path = e.data_path(cfg.landing, DAY)
    with path.open("ab") as fh:  # e.g. still being written, or a never-ending file
        fh.write(b"x" * (9 * 1024 * 1024))
    with pytest.raises(DeliveryRefused, match="longer than its control file says"):
        ingest_extract(cfg, e.key, DAY)
    assert rows(read_warehouse, e.key) == 0


def test_utf8_delivered_as_gbk_is_refused_not_loaded_as_mojibake(cfg, deliver, read_warehouse):
    deliver(subscribers=300)
    e = contract.get("boss.subscribers")
    assert e.encoding == "gbk"
    gbk = e.data_path(cfg.landing, DAY).read_bytes()
    assert not gbk.isascii()
    redeliver(cfg, e.key, gbk.decode("gbk").encode("utf-8"))
    with pytest.raises(DeliveryRefused, match="bytes are valid UTF-8 with multi-byte text"):
        ingest_extract(cfg, e.key, DAY)
    assert rows(read_warehouse, e.key) == 0


def test_crlf_line_ends_load_the_same_text_and_a_stray_cr_is_quarantined(
    cfg, deliver, read_warehouse
):
    deliver(subscribers=300)
    e = contract.get("boss.subscribers")  # GBK, transcoded
    lf = e.data_path(cfg.landing, DAY).read_bytes()
    ingest_extract(cfg, e.key, DAY)
    expected = read_warehouse(f"select * from {e.raw_table} order by all")
    redeliver(cfg, e.key, lf.replace(b"\n", b"\r\n"))
    assert ingest_extract(cfg, e.key, DAY).rows_quarantined == 0
    assert read_warehouse(f"select * from {e.raw_table} order by all") == expected

    for key in ("boss.subscribers", "crm.customers"):  # GBK and UTF-8 (read in place)
        x = contract.get(key)
        lines = x.data_path(cfg.landing, DAY).read_bytes().replace(b"\r\n", b"\n").split(b"\n")
        lines[3] = lines[3].replace(b"|", b"\r|", 1)
        redeliver(cfg, key, b"\n".join(lines))
        result = ingest_extract(cfg, key, DAY, force=True)
        assert (result.rows_loaded, result.rows_quarantined) == (result.control_rows - 1, 1)
        ((line, reason),) = read_warehouse(
            "select line_number, reason from audit.quarantine where extract = ?", [x.name]
        )
        assert line == 4 and "carriage return" in reason


def test_a_header_only_redelivery_is_held_and_the_good_rows_kept(
    cfg, deliver, read_warehouse, capsys
):
    deliver(subscribers=300)
    e = contract.get("crm.customers")
    ingest_extract(cfg, e.key, DAY)
    good = rows(read_warehouse, e.key)
    header = e.data_path(cfg.landing, DAY).read_bytes().split(b"\n", 1)[0] + b"\n"
    redeliver(cfg, e.key, header)
    with pytest.raises(DeliveryHeld, match="held: 0 rows against"):
        ingest_extract(cfg, e.key, DAY)
    assert ledger(read_warehouse, e.key)[0] == "held"
    assert rows(read_warehouse, e.key) == good
    # the operator says so explicitly
    assert cli.main(["ingest", "--date", str(DAY), "--extract", e.key, "--force"]) == 0
    assert rows(read_warehouse, e.key) == 0


def test_a_snapshot_far_smaller_than_the_day_before_is_held(cfg, deliver, read_warehouse):
    before = DAY - dt.timedelta(days=1)
    deliver(day=before, days=2, subscribers=400)
    e = contract.get("boss.subscribers")
    ingest_extract(cfg, e.key, before)
    lines = e.data_path(cfg.landing, DAY).read_bytes().split(b"\n")
    redeliver(cfg, e.key, b"\n".join(lines[:40]) + b"\n")
    with pytest.raises(DeliveryHeld):
        ingest_extract(cfg, e.key, DAY)
    assert rows(read_warehouse, e.key) == 0


def test_a_changed_control_file_over_unchanged_bytes_is_checked_again(cfg, deliver, read_warehouse):
    deliver(subscribers=300)
    e = contract.get("crm.campaigns")
    ingest_extract(cfg, e.key, DAY)
    data = e.data_path(cfg.landing, DAY).read_bytes()
    redeliver(cfg, e.key, data, rows=data.count(b"\n") + 5)
    with pytest.raises(DeliveryRefused, match="data rows, control says"):
        ingest_extract(cfg, e.key, DAY)


def test_a_business_date_in_the_future_is_refused(cfg, deliver, read_warehouse):
    future = dt.date.today() + dt.timedelta(days=400)
    deliver(day=future, subscribers=300)
    with pytest.raises(DeliveryRefused, match="is in the future"):
        ingest_extract(cfg, "crm.campaigns", future)


def test_a_typo_in_extract_or_system_is_an_error(cfg, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["ingest", "--date", str(DAY), "--extract", "crm.custmers"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"not in the contract: crm\.custmers"):
        ingest_dates(cfg, DAY, DAY, extracts=["crm.custmers"])


def test_an_unexpected_failure_is_recorded_and_the_other_extracts_still_load(
    cfg, deliver, read_warehouse
):
    deliver(subscribers=300)
    cfg.home.mkdir(parents=True, exist_ok=True)
    cfg.work_dir.write_text("not a folder")  # GBK extracts cannot be transcoded
    results, failures = ingest_dates(cfg, DAY, DAY)
    failed = {f.extract for f in failures}
    assert failed == {e.key for e in contract.extracts() if e.encoding == "gbk"}
    assert {r.extract for r in results} == {e.key for e in contract.extracts()} - failed
    status, message = ledger(read_warehouse, "boss.subscribers")
    assert status == "failed" and "load failed" in message
    with pytest.raises(LoadFailed):
        ingest_extract(cfg, "boss.price_plans", DAY)


def test_an_interrupted_system_delivery_is_not_built_until_it_is_whole(
    cfg, deliver, read_warehouse
):
    deliver(subscribers=300, seed=1)
    assert ingest_dates(cfg, DAY, DAY)[1] == []
    assert pipeline.plan_build(cfg).dates == (DAY,)
    deliver(subscribers=320, seed=2)  # BOSS re-sends the day; the ingest dies after one
    ingest_extract(cfg, "boss.subscribers", DAY)
    plan = pipeline.plan_build(cfg)
    assert plan.dates == () and "boss delivery sealed" in plan.waiting[str(DAY)]
    with pytest.raises(pipeline.PlanRefused, match="boss delivery sealed"):
        pipeline.plan_build(cfg, DAY)
    assert ingest_dates(cfg, DAY, DAY, systems=["boss"])[1] == []  # the re-run
    assert pipeline.plan_build(cfg).dates == (DAY,)


def test_a_writer_waits_for_an_analyst_holding_the_live_file_then_says_why(
    cfg, deliver, read_warehouse, monkeypatch
):
    from kairos.config import Settings
    from kairos.ingest.warehouse import WriterLockTimeout

    deliver(subscribers=300)
    ingest_extract(cfg, "crm.campaigns", DAY)
    monkeypatch.setenv("KAIROS_WRITER_LOCK_TIMEOUT", "2")
    patient = Settings.from_env()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open',"
            " flush=True); time.sleep(float(sys.argv[2]))",
            str(cfg.warehouse),
            "4",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "open"
    t0 = time.monotonic()
    with pytest.raises(WriterLockTimeout, match="held open by another process"):
        ingest_extract(patient, "crm.customers", DAY)
    assert time.monotonic() - t0 >= 2
    # a longer wait outlasts the analyst's session
    monkeypatch.setenv("KAIROS_WRITER_LOCK_TIMEOUT", "30")
    assert ingest_extract(Settings.from_env(), "crm.customers", DAY).status == "loaded"
    holder.wait(timeout=30)
    with duckdb.connect(str(cfg.warehouse), read_only=True) as con:
        assert con.execute("select count(*) from raw.crm_customers").fetchone()[0] > 0


def test_a_dead_loads_work_copy_is_swept_and_a_live_one_is_private(cfg, deliver):
    deliver(subscribers=300)
    cfg.work_dir.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    orphan = cfg.work_dir / f"BOSS_SUBSCRIBERS_20261121.{dead}.utf8.dat"
    orphan.write_text("13812345678|full numbers\n")
    alive = cfg.work_dir / f"BOSS_SUBSCRIBERS_20261121.{os.getppid()}.utf8.dat"
    alive.write_text("a load still running\n")
    from kairos.ingest import scan

    seen = []
    real = scan._Scanner.__init__

    def spy(self, extract, data_path, out_path, careful, limits):
        real(self, extract, data_path, out_path, careful, limits)
        if out_path is not None:
            seen.append(out_path.stat().st_mode & 0o777)

    import pytest as _pytest

    mp = _pytest.MonkeyPatch()
    mp.setattr(scan._Scanner, "__init__", spy)
    try:
        assert ingest_extract(cfg, "boss.subscribers", DAY).status == "loaded"
    finally:
        mp.undo()
    assert not orphan.exists() and alive.exists()
    assert seen and all(mode == 0o600 for mode in seen)
