"""A complaint's age and state as known on each business date (issue 12, part 5).

CRM re-sends a complaint on every day it is updated. Its age counts from ``opened_at``,
and on a date it is what its latest delivery *up to that date* said -- so an update on
D-1 neither makes a complaint opened on D-5 "one day old" on D (the unresolved-complaint
rule would never fire) nor, in a full rebuild, erases it from the days before the update.
The deliveries are real files through the real ingest and a real dbt build."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from kairos import contract, warehouse
from kairos.ingest import ingest_dates
from kairos_sample import generate
from tests.conftest import module_home
from tests.support import redeliver

pytestmark = pytest.mark.slow

FIRST, DAYS = dt.date(2026, 11, 2), 7
D = FIRST + dt.timedelta(days=DAYS - 1)
KEY = "crm.complaints"
STILL_OPEN, RESOLVED = 990_000_000_001, 990_000_000_002


def _day(offset: int) -> dt.date:
    return D - dt.timedelta(days=offset)


def _append(cfg, day: dt.date, *rows: str) -> None:
    path = contract.get(KEY).data_path(cfg.landing, day)
    data = path.read_bytes() + "".join(f"{r}\n" for r in rows).encode("utf-8")
    redeliver(cfg, KEY, data, day)


def _active(cfg, day: dt.date) -> set[tuple[int, int]]:
    data = contract.get("boss.subscribers").data_path(cfg.landing, day).read_bytes()
    fields = (raw.split("|") for raw in data.decode("gbk").splitlines()[1:])
    return {(int(f[2]), int(f[0])) for f in fields if f[6] == "active"}


def _a_customer(cfg) -> tuple[int, int]:
    """A customer and its line, active all week, with no complaint of its own."""
    complained = set()
    for i in range(DAYS):
        data = contract.get(KEY).data_path(cfg.landing, _day(i)).read_text(encoding="utf-8")
        complained |= {int(raw.split("|")[1]) for raw in data.splitlines()[1:]}
    quiet = sorted(_active(cfg, FIRST) & _active(cfg, D))
    return next((c, s) for c, s in quiet if c not in complained)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    mp, cfg = module_home(tmp_path_factory, "complaints")
    generate(cfg.landing, FIRST, DAYS, 1_500, 4, progress=False)
    customer, line = _a_customer(cfg)
    opened_5 = f"{_day(5)} 09:00:00"
    opened_4 = f"{_day(4)} 10:00:00"
    # D-5: opened, open. D-4: a second one opened, open.
    _append(cfg, _day(5), f"{STILL_OPEN}|{customer}|{line}|billing|low|{opened_5}||")
    _append(cfg, _day(4), f"{RESOLVED}|{customer}|{line}|network|low|{opened_4}||")
    # D-2: the second one resolved (re-sent). D-1: the first one escalated, still open.
    _append(
        cfg,
        _day(2),
        f"{RESOLVED}|{customer}|{line}|network|low|{opened_4}|{_day(2)} 15:00:00|2",
    )
    _append(cfg, _day(1), f"{STILL_OPEN}|{customer}|{line}|billing|high|{opened_5}||")
    _, failures = ingest_dates(cfg, FIRST, D)
    assert failures == []
    warehouse.build(cfg, None)  # a full build: every date from scratch
    yield cfg, customer
    mp.undo()


def _signals(cfg, customer):
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        return {
            r[0]: r[1:]
            for r in con.execute(
                """select business_date, complaints_30d, open_complaints,
                          oldest_open_complaint_days, min_resolution_satisfaction_90d
                   from intermediate.int_customer_daily_signals where customer_id = ?""",
                [customer],
            ).fetchall()
        }
    finally:
        con.close()


def test_a_complaint_updated_yesterday_is_as_old_as_its_opening(built):
    cfg, customer = built
    assert _signals(cfg, customer)[D] == (2, 1, 5, 2)
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        fired = con.execute(
            """select evidence_value from marts.fct_key_moment_warnings
               where business_date = ? and customer_id = ?
                 and rule_code = 'KM14_UNRESOLVED_COMPLAINT'""",
            [D, customer],
        ).fetchall()
    finally:
        con.close()
    assert fired == [(5,)]


def test_a_full_rebuild_keeps_each_complaint_on_the_days_before_its_update(built):
    cfg, customer = built
    by_day = _signals(cfg, customer)
    # opened D-5: open from then on; the second, opened D-4, open until D-2
    assert by_day[_day(5)] == (1, 1, 0, None)
    assert by_day[_day(4)] == (2, 2, 1, None)
    assert by_day[_day(3)] == (2, 2, 2, None)
    assert by_day[_day(2)] == (2, 1, 3, 2)
    assert by_day[_day(1)] == (2, 1, 4, 2)
    assert _day(6) not in by_day or by_day[_day(6)][0] == 0


def test_a_daily_build_sees_the_same_as_the_full_one(built):
    cfg, customer = built
    before = _signals(cfg, customer)
    warehouse.build(cfg, _day(3))
    warehouse.build(cfg, D)
    assert _signals(cfg, customer) == before
