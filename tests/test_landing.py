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


def test_a_file_longer_than_its_control_says_is_refused_before_a_byte_is_read(
    cfg, deliver, read_warehouse
):
    """F5: a 16 GiB file (sparse: instant to make, minutes to read) is refused from its
    size alone, in far less time than reading it would take, and the writer lock goes."""
    deliver(subscribers=300)
    e = contract.get("crm.customers")  # UTF-8: DuckDB would read it in place
    path = e.data_path(cfg.landing, DAY)
    os.truncate(path, 16 * 1024**3)
    started = time.monotonic()
    with pytest.raises(DeliveryRefused, match=r"17179869184 bytes, control says \d+; nothing read"):
        ingest_extract(cfg, e.key, DAY)
    assert time.monotonic() - started < 30  # reading 16 GiB would take minutes
    assert rows(read_warehouse, e.key) == 0
    status, message = ledger(read_warehouse, e.key)
    assert status == "refused" and "nothing read" in message


def test_utf8_delivered_as_gbk_is_refused_not_loaded_as_mojibake(cfg, deliver, read_warehouse):
    deliver(subscribers=300)
    e = contract.get("boss.subscribers")
    assert e.encoding == "gbk"
    gbk = e.data_path(cfg.landing, DAY).read_bytes()
    assert not gbk.isascii()
    redeliver(cfg, e.key, gbk.decode("gbk").encode("utf-8"))
    with pytest.raises(DeliveryRefused, match="100% of its non-ASCII text is valid UTF-8"):
        ingest_extract(cfg, e.key, DAY)
    assert rows(read_warehouse, e.key) == 0


@pytest.mark.parametrize("bad_lines", [1, 20])
def test_utf8_with_invalid_bytes_declared_gbk_is_refused_on_the_whole_file(
    cfg, deliver, read_warehouse, bad_lines
):
    """F3: one invalid byte (or one in every twentieth line) no longer makes a UTF-8 file
    pass for GBK: the share of its non-ASCII text that is UTF-8 decides, and a real GBK
    delivery of the same rows still loads."""
    deliver(subscribers=300)
    e = contract.get("boss.subscribers")
    gbk = e.data_path(cfg.landing, DAY).read_bytes()
    lines = gbk.decode("gbk").encode("utf-8").split(b"\n")
    step = max(len(lines) // bad_lines, 1)
    for i in range(1, len(lines) - 1, step):
        lines[i] = lines[i] + b"\xff"  # a byte neither UTF-8 nor the start of a GBK pair
    redeliver(cfg, e.key, b"\n".join(lines))
    with pytest.raises(DeliveryRefused, match=r"of its non-ASCII text is valid UTF-8"):
        ingest_extract(cfg, e.key, DAY)
    assert rows(read_warehouse, e.key) == 0
    status, message = ledger(read_warehouse, e.key)
    assert status == "refused" and "invalid sequence" in message
    redeliver(cfg, e.key, gbk)
    assert ingest_extract(cfg, e.key, DAY).status == "loaded"
    assert "\u5a06" not in "".join(  # 娆, the first character of the probe's mojibake
        r[0] for r in read_warehouse(f"select brand from {e.raw_table}")
    )


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
    from kairos.warehouse.store import WriterLockTimeout

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


def test_a_landed_file_is_read_through_the_descriptor_it_was_opened_with(cfg, deliver):
    """Once open, the name no longer matters: swapped for a symlink to a secret, or to
    /dev/zero, every read (the MD5, the blocks, DuckDB's path) still sees the delivery."""
    from kairos.ingest.landed import LandingProblem, open_landed

    deliver(subscribers=300)
    e = contract.get("bi.customer_tags")
    path = e.data_path(cfg.landing, DAY)
    data = path.read_bytes()
    secret = cfg.home / "secret.txt"
    secret.write_text(SECRET)
    with open_landed(path, cfg.landing) as landed:
        for target in (secret, "/dev/zero"):
            path.unlink()
            path.symlink_to(target)
            assert landed.md5(landed.size) == hashlib.md5(data).hexdigest()
            assert landed.read(landed.size) == data
            assert landed.path.read_bytes() == data  # what DuckDB opens
            with pytest.raises(LandingProblem, match="symbolic link"):
                open_landed(path, cfg.landing)
        assert not landed.changed()
    fifo = cfg.landing / "a.fifo"
    os.mkfifo(fifo)
    with pytest.raises(LandingProblem, match="not a regular file"):
        open_landed(fifo, cfg.landing)  # opened without blocking: no writer, no hang


# A racer that keeps swapping a landing file for a symlink (to a secret, then to
# /dev/zero) and back, as fast as it can: what F1 and F2 of issue 32 did by hand.
RACER = """
import os, shutil, sys, time
path, good, secret = sys.argv[1:4]
tmp = path + ".swap"
deadline = time.monotonic() + float(sys.argv[4])
while time.monotonic() < deadline:
    for target in (secret, "/dev/zero"):
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.replace(tmp, path)
        time.sleep(0.0005)
        shutil.copyfile(good, tmp)
        os.replace(tmp, path)
        time.sleep(0.002)
"""


def test_landing_files_swapped_during_redeliveries_never_leak_a_secret_or_hang(
    cfg, deliver, read_warehouse, tmp_path
):
    """F1, F2: forty re-deliveries of a UTF-8 extract (read in place by DuckDB) and a GBK
    one (transcoded) while another process swaps the file for symlinks to a secret and to
    /dev/zero. Each load ends quickly -- loaded, unchanged or refused -- and no byte of
    the secret reaches the quarantine, the ledger or the raw table."""
    deliver(subscribers=300)
    secret = tmp_path / "secret.key"
    # lines shaped like data, so a reader that followed the link would quarantine them
    secret.write_text("".join(f"{SECRET}|{i}|x\n" for i in range(50)))
    for key in ("bi.customer_tags", "boss.subscribers"):
        e = contract.get(key)
        path = e.data_path(cfg.landing, DAY)
        good = tmp_path / f"{key}.good"
        good.write_bytes(path.read_bytes())
        racer = subprocess.Popen(
            [sys.executable, "-c", RACER, str(path), str(good), str(secret), "120"]
        )
        try:
            for i in range(20):
                started = time.monotonic()
                try:
                    ingest_extract(cfg, key, DAY, force=i % 2 == 0)
                except DeliveryRefused as exc:
                    assert SECRET[:16] not in str(exc)
                assert time.monotonic() - started < 60, "a load hung on the swapped file"
        finally:
            racer.kill()
            racer.wait()
        shown = (
            read_warehouse(
                "select coalesce(string_agg(raw_line || reason, ''), '') from audit.quarantine"
            )[0][0]
            + read_warehouse("select string_agg(message, '') from audit.load_ledger")[0][0]
        )
        assert SECRET[:16] not in shown
        assert (
            read_warehouse(
                f"select count(*) from {e.raw_table} where business_date = ?"
                f" and cast(columns(*) as varchar) like '%{SECRET[:16]}%'",
                [DAY],
            )[0][0]
            == 0
        )
        statuses = {s for (s,) in read_warehouse(
            "select distinct status from audit.load_ledger where system || '.' || extract = ?",
            [key],
        )}  # fmt: skip
        assert statuses <= {"loaded", "replaced", "unchanged", "refused"}
        assert statuses & {"loaded", "replaced"}  # the race did not stop every load


def test_the_volume_hold_cannot_be_walked_down_by_shrinking_redeliveries(
    cfg, deliver, read_warehouse
):
    """F4: re-delivering a snapshot at 51% of the last accepted size, again and again,
    once emptied the date without --force. The baseline is the largest accepted delivery
    since the last forced one: the second shrink is held, and so is every one after."""
    deliver(subscribers=1000)
    e = contract.get("boss.subscribers")
    data = e.data_path(cfg.landing, DAY).read_bytes()
    ingest_extract(cfg, e.key, DAY)
    full = rows(read_warehouse, e.key)
    header, *lines = data.split(b"\n")[:-1]
    outcomes = []
    for _ in range(8):
        lines = lines[: len(lines) * 51 // 100]
        redeliver(cfg, e.key, b"\n".join([header, *lines]) + b"\n")
        try:
            outcomes.append(ingest_extract(cfg, e.key, DAY).status)
        except DeliveryHeld:
            outcomes.append("held")
    assert outcomes == ["replaced"] + ["held"] * 7
    assert rows(read_warehouse, e.key) >= full // 2
    status, message = ledger(read_warehouse, e.key)
    assert status == "held" and f"against {full} in the largest accepted delivery" in message
    # the operator's --force says the smaller size is right: it becomes the baseline
    assert ingest_extract(cfg, e.key, DAY, force=True).status == "replaced"
    assert rows(read_warehouse, e.key) == len(lines)


def test_a_first_snapshot_below_the_contracts_floor_is_held(cfg, deliver, read_warehouse):
    deliver(subscribers=300)
    e = contract.get("crm.customers")
    assert e.min_rows == 1 and contract.get("crm.complaints").min_rows == 0
    header = e.data_path(cfg.landing, DAY).read_bytes().split(b"\n")[0]
    redeliver(cfg, e.key, header + b"\n")
    with pytest.raises(DeliveryHeld, match="0 rows, fewer than the contract's 1"):
        ingest_extract(cfg, e.key, DAY)
    assert ledger(read_warehouse, e.key)[0] == "held"


def test_a_delivery_whose_rows_all_break_a_rule_is_refused_and_the_date_not_sealed(
    cfg, deliver, read_warehouse
):
    """A file all of whose rows are quarantined was recorded as loaded and sealed for the
    build. Now it is refused with the counts by kind of rule (no value quoted), the last
    good rows and their quarantine stay, and the system's delivery is not sealed."""
    deliver(subscribers=300)
    e = contract.get("crm.customers")
    good = e.data_path(cfg.landing, DAY).read_bytes()
    header, *lines = good.split(b"\n")[:-1]
    gender = header.split(b"|").index(b"gender")

    def poison(line: bytes) -> bytes:
        fields = line.split(b"|")
        fields[gender] = b'"<script>alert(1)</script>"'
        return b"|".join(fields)

    def sealed() -> int:
        return read_warehouse(
            "select count(*) from audit.delivery_seal where system = 'crm' and business_date = ?",
            [DAY],
        )[0][0]

    redeliver(cfg, e.key, b"\n".join([header, *map(poison, lines)]) + b"\n")
    assert cli.main(["ingest", "--date", str(DAY), "--system", "crm"]) == 1
    status, message = ledger(read_warehouse, e.key)
    assert status == "refused" and f"all {len(lines)} rows break a rule" in message
    assert "gender: not a valid value" in message and "script" not in message
    assert rows(read_warehouse, e.key) == 0 and sealed() == 0
    # a good delivery, then the poisoned one again: the good rows and the seal stand
    redeliver(cfg, e.key, good)
    assert cli.main(["ingest", "--date", str(DAY), "--system", "crm"]) == 0
    assert sealed() == 1
    redeliver(cfg, e.key, b"\n".join([header, *map(poison, lines)]) + b"\n")
    with pytest.raises(DeliveryRefused, match=rf"all {len(lines)} rows break a rule"):
        ingest_extract(cfg, e.key, DAY)
    assert rows(read_warehouse, e.key) == len(lines) and sealed() == 1


def test_the_operations_view_shows_the_kind_of_rule_never_the_value(cfg, deliver):
    """F10: a quarantined field's value (here markup) never reaches the operations page:
    its reasons are the column and the rule, from the contract's words only."""
    from kairos import operations

    deliver(subscribers=300)
    e = contract.get("crm.customers")
    header, first, *rest = e.data_path(cfg.landing, DAY).read_bytes().split(b"\n")[:-1]
    fields = first.split(b"|")
    fields[header.split(b"|").index(b"gender")] = b'"<script>x</script>"'
    redeliver(cfg, e.key, b"\n".join([header, b"|".join(fields), *rest]) + b"\n")
    assert ingest_extract(cfg, e.key, DAY).rows_quarantined == 1
    reasons = [q["reason"] for q in operations.detail(cfg, DAY).quarantine]
    assert reasons == ["gender: not a valid value"]
