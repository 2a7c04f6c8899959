"""Phone managers and their capacity (issue 12, part 3): CRM delivers who serves each VIP
and four-star-plus customer and each manager's daily call capacity (contract version 3);
call tasks go to the customer's own manager, over capacity they are deferred to the next
day or downgraded to SMS as the rule says; the capacity left is filled with planned
marketing calls; the capacity mart reconciles and no manager exceeds capacity on any day.

Read off the shared closed loop (three dates at 30,000 subscribers through the real
pipeline: generate, ingest, build, publish), whose first date is the burst of every
pending key moment at once -- far more calls than the managers can make."""

from __future__ import annotations

import csv
import datetime as dt
import json

import duckdb
import pytest

from kairos import contract, pipeline, publish
from kairos.ingest import ingest_dates
from kairos_sample import generate
from kairos_sample import world as w
from tests.conftest import LOOP_DATES, LOOP_SUBSCRIBERS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def loop(closed_loop):
    cfg, _ = closed_loop
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    yield cfg, con
    con.close()


def rows(con, sql, params=None):
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_the_capacity_mart_reconciles_and_no_manager_exceeds_capacity(loop):
    _, con = loop
    days = rows(con, "select * from marts.fct_phone_manager_capacity_daily")
    assert {d["business_date"] for d in days} == set(LOOP_DATES)
    for d in days:
        assert d["assigned"] == d["used"] + d["deferred"] + d["downgraded"], d
        assert d["used"] + d["planned"] + d["idle"] == d["daily_call_capacity"], d
        assert d["used"] + d["planned"] <= d["daily_call_capacity"], d
        assert 0 <= d["carried_in"] <= d["assigned"], d
    total = {k: sum(d[k] for d in days) for k in ("used", "deferred", "downgraded", "planned")}
    total["carried_in"] = sum(d["carried_in"] for d in days)
    # the burst day overflows: every way out of a full queue is taken
    assert all(v > 0 for v in total.values()), total
    # the capacities are CRM's, as delivered
    truth = {pm: cap for pm, _, cap in w.phone_managers(LOOP_SUBSCRIBERS)}
    assert {d["phone_manager_id"]: d["daily_call_capacity"] for d in days} == truth
    # planted: the manager on leave calls nobody, the short-hours one one customer a day
    on_leave = w.PM_ID0 + w.ON_LEAVE_CITY * 1000
    short = w.PM_ID0 + w.SHORT_HOURS_CITY * 1000
    for d in days:
        if d["phone_manager_id"] == on_leave:
            assert d["used"] == d["planned"] == 0
        if d["phone_manager_id"] == short:
            assert d["used"] + d["planned"] <= 1
    assert any(d["phone_manager_id"] == on_leave and d["assigned"] > 0 for d in days)


def test_a_managers_queue_takes_deferred_calls_first_then_priority(loop):
    _, con = loop
    queue = rows(
        con,
        """
        select * from marts.fct_phone_manager_call_allocations
        where allocation != 'withdrawn'
        order by business_date, phone_manager_id, queue_rank""",
    )
    assert queue
    by_manager: dict = {}
    for r in queue:
        by_manager.setdefault((r["business_date"], r["phone_manager_id"]), []).append(r)
    for q in by_manager.values():
        assert [r["queue_rank"] for r in q] == list(range(1, len(q) + 1))
        carried = [r["is_carried"] for r in q]
        assert carried == sorted(carried, reverse=True)  # deferred ones first
        new = [r["priority"] for r in q if not r["is_carried"]]
        assert new == sorted(new)
        for r in q:
            within = r["queue_rank"] <= r["daily_call_capacity"]
            assert (r["allocation"] == "called") == within, r
            if not within:
                defers = not r["is_carried"] and r["over_capacity"] == "defer"
                assert r["allocation"] == ("deferred" if defers else "downgraded"), r
            assert r["task_date"] == r["business_date"] - dt.timedelta(days=r["is_carried"])


def test_calls_go_to_the_customers_own_manager_and_the_lists_follow_the_queue(loop):
    _, con = loop
    # every call on a list is made by the customer's manager of the task's date
    wrong = rows(
        con,
        """
        select m.* from marts.fct_target_list_members m
        join staging.stg_crm__customers c
          on c.customer_id = m.customer_id and c.business_date = m.task_date
        where m.channel = 'outbound_call' and m.phone_manager_id is not null
          and m.phone_manager_id is distinct from c.phone_manager_id""",
    )
    assert wrong == []
    (managed_calls,) = con.execute(
        "select count(*) from marts.fct_target_list_members"
        " where channel = 'outbound_call' and phone_manager_id is not null"
    ).fetchone()
    assert managed_calls > 0
    # each allocation is where it says: called on the rule's call list with the manager,
    # downgraded on its SMS list, deferred on no list that day and on the next day's
    placed = rows(
        con,
        """
        select a.business_date, a.warning_key, a.allocation, a.rule_code, a.customer_id,
               a.phone_manager_id, a.withdrawn_reason, m.list_id,
               m.phone_manager_id as list_manager, m.task_date
        from marts.fct_phone_manager_call_allocations a
        left join marts.fct_target_list_members m
          on m.business_date = a.business_date and m.customer_id = a.customer_id
         and m.rule_code = a.rule_code and m.contact_group = 'target'""",
    )
    seen = set()
    for p in placed:
        if p["allocation"] == "called":
            assert p["list_id"] == f"{p['rule_code']}__outbound_call", p
            assert p["list_manager"] == p["phone_manager_id"], p
        elif p["allocation"] == "downgraded":
            assert p["list_id"] == f"{p['rule_code']}__sms" and p["list_manager"] is None, p
        elif p["allocation"] == "withdrawn" and p["withdrawn_reason"] == "superseded":
            # on no list but, where the customer's new task is of the same rule, as that
            assert p["list_id"] is None or p["task_date"] == p["business_date"], p
        elif p["allocation"] in ("deferred", "withdrawn"):
            assert p["list_id"] is None, p
        seen.add(p["allocation"])
    assert {"called", "deferred", "downgraded"} <= seen
    # a task deferred on a date before the last is in the next date's queue
    (lost,) = con.execute(
        """
        select count(*) from marts.fct_phone_manager_call_allocations d
        where d.allocation = 'deferred' and d.business_date < ?
          and not exists (
              select 1 from marts.fct_phone_manager_call_allocations n
              where n.warning_key = d.warning_key and n.is_carried
                and n.business_date = d.business_date + 1)""",
        [LOOP_DATES[-1]],
    ).fetchone()
    assert lost == 0


def test_a_carried_call_gives_way_to_the_customers_new_task(loop):
    """One task per customer per day holds for carried calls: a call deferred yesterday
    whose customer the contact policy gave a new task today (another line's key moment,
    say) is withdrawn as superseded, so the customer is called once and named once on a
    list. At a million subscribers the list named such a customer twice and its unique
    test stopped the build."""
    _, con = loop
    new_tasks = """
        select 1 from marts.fct_key_moment_tasks t
        where t.business_date = a.business_date and t.customer_id = a.customer_id
          and t.decision in ('dispatched', 'holdout')"""
    (kept,) = con.execute(
        "select count(*) from marts.fct_phone_manager_call_allocations a"
        f" where a.is_carried and a.allocation != 'withdrawn' and exists ({new_tasks})"
    ).fetchone()
    assert kept == 0
    superseded = rows(
        con,
        "select a.*, exists (" + new_tasks + ") as has_new_task"
        " from marts.fct_phone_manager_call_allocations a"
        " where a.withdrawn_reason = 'superseded'",
    )
    assert superseded, "the loop's burst leaves carried calls whose customers have new tasks"
    assert all(r["is_carried"] and r["has_new_task"] for r in superseded)
    (twice,) = con.execute(
        "select count(*) from (select business_date, list_id, customer_id"
        " from marts.fct_target_list_members group by all having count(*) > 1)"
    ).fetchone()
    assert twice == 0


def test_planned_calls_fill_what_is_left_with_the_managers_own_eligible_customers(loop):
    _, con = loop
    bad = rows(
        con,
        """
        select p.* from marts.fct_phone_manager_planned_calls p
        join staging.stg_crm__customers c
          on c.customer_id = p.customer_id and c.business_date = p.business_date
        left join marts.fct_key_moment_warnings w
          on w.customer_id = p.customer_id and w.business_date = p.business_date
        left join marts.fct_target_list_members m
          on m.customer_id = p.customer_id and m.business_date = p.business_date
         and m.rule_code != 'PC01_PLANNED_CALL'
        where c.phone_manager_id is distinct from p.phone_manager_id
           or c.is_marketing_opt_out or w.customer_id is not null or m.customer_id is not null
        """,
    )
    assert bad == []
    # chosen by preference: a customer who prefers the manager's call is never passed
    # over for one who does not
    (inversions,) = con.execute(
        """
        select count(*) from marts.fct_phone_manager_planned_calls a
        join marts.fct_phone_manager_planned_calls b
          on a.business_date = b.business_date and a.phone_manager_id = b.phone_manager_id
         and a.planned_rank < b.planned_rank
        where coalesce(a.preferred_channel, '') != 'outbound_call'
          and b.preferred_channel = 'outbound_call'"""
    ).fetchone()
    assert inversions == 0


def test_published_call_lists_carry_the_manager_and_count_per_manager(loop):
    cfg, _ = loop
    day = LOOP_DATES[0]
    directory = publish.published_dir(cfg, day)
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    calls = [i for i in manifest["lists"] if i["list_id"].endswith("__outbound_call")]
    assert any(i["managers"] for i in calls)
    for item in calls:
        with (directory / f"{item['list_id']}.csv").open(encoding="utf-8-sig") as fh:
            counted: dict[str, int] = {}
            for row in csv.DictReader(fh):
                if row["phone_manager_id"]:
                    counted[row["phone_manager_id"]] = counted.get(row["phone_manager_id"], 0) + 1
                assert row["task_date"] in (str(day), str(day - dt.timedelta(days=1)))
        assert counted == item["managers"], item["list_id"]


def test_a_date_before_phone_managers_arrive_is_complete_without_them(cfg, deliver):
    """Contract version 3 added crm.phone_managers: dates delivered before its first
    delivery are complete without it, and their calls are not capacity-planned; from
    its first delivery on, every date needs it."""
    first = dt.date(2026, 11, 20)
    days = [first + dt.timedelta(days=k) for k in range(3)]
    generate(cfg.landing, first, 3, 2000, 3, progress=False)
    extract = next(e for e in contract.extracts() if e.name == "phone_managers")
    for day in (days[0], days[2]):  # before its first delivery, and a lapse after it
        extract.data_path(cfg.landing, day).unlink()
        extract.control_path(cfg.landing, day).unlink()
    for day in days:
        ingest_dates(cfg, day, day)
    assert pipeline.complete_dates(cfg) == days[:2]
    plan = pipeline.plan_build(cfg)
    assert "crm.phone_managers" in plan.waiting[str(days[2])]
    pipeline.run_steps(
        tuple(s for s in pipeline.BUILD_STEPS if s[0] not in ("dbt_docs", "publish_snapshot")),
        cfg,
        days[0],
        "v2-date",
    )
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        (allocated,) = con.execute(
            "select count(*) from marts.fct_phone_manager_call_allocations"
        ).fetchone()
        (calls,) = con.execute(
            "select count(*) from marts.fct_target_list_members where channel = 'outbound_call'"
        ).fetchone()
    finally:
        con.close()
    assert allocated == 0 and calls > 0  # the calls stay, unplanned


def test_kairos_evaluate_reports_the_capacity_per_day(loop):
    from kairos_sample import evaluation

    cfg, _ = loop
    result = evaluation.evaluate(cfg)
    days = result.sections["phone managers' capacity per day (all managers)"]
    assert [d["business_date"] for d in days] == LOOP_DATES
    assert all(d["reconciles"] and d["over_capacity"] == 0 for d in days), days
    assert "phone managers' capacity per day" in result.render()
