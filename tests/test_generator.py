"""The generator writes contract-conformant deliveries, deterministically, with the
effects it claims to plant."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib

import pytest

from kairos import contract
from kairos.control import read_control
from kairos_sample import Fault, generate
from tests.conftest import DAY


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_delivery_conforms_to_the_contract(cfg, deliver):
    manifest = deliver(subscribers=3000)
    for e in contract.extracts():
        data = e.data_path(cfg.landing, DAY)
        ctl = read_control(e.control_path(cfg.landing, DAY))
        raw = data.read_bytes()
        assert ctl.file_name == data.name
        assert ctl.byte_size == len(raw)
        assert ctl.md5 == hashlib.md5(raw).hexdigest()
        text = raw.decode(e.encoding)
        lines = text.split("\n")
        assert lines[-1] == "", "files end with LF"
        assert lines[0] == e.header_line()
        assert ctl.row_count == len(lines) - 2 > 0, e.key
        for line in lines[1:-1]:
            assert line.count("|") == len(e.columns) - 1, (e.key, line)
        assert manifest["files"][DAY.strftime("%Y%m%d")][e.key]["md5"] == ctl.md5


def test_boss_files_are_really_gbk(cfg, deliver):
    deliver(subscribers=500)
    raw = contract.get("boss.subscribers").data_path(cfg.landing, DAY).read_bytes()
    assert "全球通".encode("gbk") in raw or "神州行".encode("gbk") in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    crm = contract.get("crm.customers").data_path(cfg.landing, DAY).read_bytes()
    assert any(city.encode("utf-8") in crm for city in ("广州", "深圳", "东莞"))


def test_same_arguments_give_byte_identical_output(tmp_path):
    a = generate(tmp_path / "a", DAY, 1, 1500, 9, progress=False)
    b = generate(tmp_path / "b", DAY, 1, 1500, 9, progress=False)
    c = generate(tmp_path / "c", DAY, 1, 1500, 10, progress=False)
    assert a["files"] == b["files"]
    assert a["files"] != c["files"]
    assert _md5(tmp_path / "a/_ground_truth/customers.csv.gz") == _md5(
        tmp_path / "b/_ground_truth/customers.csv.gz"
    )


def test_a_day_is_the_same_whether_generated_alone_or_in_a_range(tmp_path):
    """Days are pure functions of (seed, date): backfills and reruns agree."""
    ranged = generate(tmp_path / "r", DAY - dt.timedelta(days=2), 3, 1200, 5, progress=False)
    alone = generate(tmp_path / "s", DAY, 1, 1200, 5, progress=False)
    assert ranged["files"][DAY.strftime("%Y%m%d")] == alone["files"][DAY.strftime("%Y%m%d")]


def test_chunks_do_not_change_earlier_subscribers(tmp_path):
    """More subscribers append lines; the first ones are unchanged (memory stays per chunk)."""
    generate(tmp_path / "small", DAY, 1, 20_000, 3, progress=False)
    generate(tmp_path / "big", DAY, 1, 30_000, 3, progress=False)
    e = contract.get("boss.subscribers")
    small = e.data_path(tmp_path / "small", DAY).read_bytes()
    big = e.data_path(tmp_path / "big", DAY).read_bytes()
    assert big.startswith(small)


def test_fault_flags_are_validated():
    with pytest.raises(ValueError):
        Fault.parse("explode")
    with pytest.raises(KeyError):
        Fault.parse("truncated:boss.nonsense")
    assert Fault.parse("late:crm.contacts") == Fault("late", "crm.contacts")


def test_ground_truth_is_written(cfg, deliver):
    manifest = deliver(subscribers=3000)
    truth = cfg.landing / "_ground_truth"
    with gzip.open(truth / "key_moments_20261121.csv.gz", "rt", encoding="utf-8") as fh:
        moments = {line.split("|")[2] for line in fh.read().splitlines()[1:]}
    assert moments == {
        "quota_exceed_risk",
        "low_balance",
        "suspended_arrears",
        "old_device",
        "birthday",
    }
    with gzip.open(truth / "customers.csv.gz", "rt", encoding="utf-8") as fh:
        rows = [line.split("|") for line in fh.read().splitlines()]
    header, body = rows[0], rows[1:]
    assert header[:4] == ["customer_id", "subscriber_id", "segment", "dissatisfaction"]
    kinds = {r[3] for r in body}
    assert kinds == {"none", "explicit", "hidden"}
    assert {r[5] for r in body} <= {"sms", "mms", "outbound_call", "app", "web", "store"}
    acts = manifest["care_activities"]
    assert {a["segment"] for a in acts} == {
        "explicitly_dissatisfied",
        "tariff_sensitive",
        "hotline_preferring",
        "web_preferring",
        "mobile_internet_active",
    }


def test_care_activities_plant_regression_to_the_mean(tmp_path):
    """Members are picked on a low noisy score: the control group's score rises with no
    treatment, so a naive before/after on participants overstates the planted effect."""
    manifest = generate(tmp_path / "g", DAY, 1, 60_000, 11, progress=False)
    big = [
        a for a in manifest["care_activities"] if a["satisfaction"]["control"]["surveyed"] >= 100
    ]
    assert big, "expected some activities with a surveyed control group of 100+"
    for a in big:
        control_lift = a["satisfaction"]["control"]["lift"]
        assert control_lift > 1.0, a  # regression to the mean, no treatment at all
        assert a["naive_lift_participants"] > a["true_effect"], a
        assert 0 < a["participation_rate"] < 1
