"""Closing the loop (issue 12, part 1): CRM executes the lists Kairos published, its
contacts carry the task they execute (contract version 2), and the task-outcome marts say
what happened to every task -- executed, pending, never executed -- and how it ended.

Three business dates run day after day through the real pipeline: generate (CRM
executing the lists published the day before), ingest, build, publish. Then the marts are
recounted from raw and from the published files, and held to the generator's planted
execution rates."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import math

import duckdb
import pytest

from kairos import contract
from kairos.ingest import ingest_dates
from kairos.warehouse import snapshot
from kairos.warehouse import store as raw_warehouse
from kairos_sample import execution, generate
from tests.conftest import LOOP_DATES
from tests.support import PROJECT, redeliver, snapshot_differences, subscriber_numbers_in

pytestmark = pytest.mark.slow

DATES = LOOP_DATES


@pytest.fixture(scope="module")
def loop(closed_loop):
    cfg, manifests = closed_loop
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    yield cfg, con, manifests
    con.close()


def _published_targets(cfg, day: dt.date) -> set[tuple[str, int]]:
    """(list_id, customer_id) of the target rows the publication of ``day`` holds."""
    con = duckdb.connect()
    try:
        version = (cfg.publish_dir / "lists" / day.isoformat()).resolve().name
        path = cfg.publish_dir / "_private" / version / "list_members.parquet"
        return set(
            con.execute(
                "select list_id, customer_id from read_parquet(?) where contact_group = 'target'",
                [str(path)],
            ).fetchall()
        )
    finally:
        con.close()


def test_crm_executes_only_published_targets_and_never_a_holdout(loop):
    cfg, con, manifests = loop
    for list_day, exec_day in itertools.pairwise(DATES):
        assert manifests[exec_day]["executed_lists"][f"{exec_day:%Y%m%d}"]["list_date"] == str(
            list_day
        )
        executed = set(
            con.execute(
                """select substr(task_ref, 10), customer_id from raw.crm_contacts
                   where business_date = ? and task_ref is not null""",
                [exec_day],
            ).fetchall()
        )
        refs = {
            r[0]
            for r in con.execute(
                "select distinct left(task_ref, 8) from raw.crm_contacts"
                " where business_date = ? and task_ref is not null",
                [exec_day],
            ).fetchall()
        }
        assert refs == {f"{list_day:%Y%m%d}"}
        targets = _published_targets(cfg, list_day)
        assert executed, "nothing executed"
        assert executed <= targets
        # most tasks are executed, not all (calls run out of time, messages fail)
        assert 0.85 <= len(executed) / len(targets) < 1.0, (len(executed), len(targets))
    # the first day has no list before it: nothing to execute
    assert manifests[DATES[0]]["executed_lists"] == {}
    assert (
        con.execute(
            "select count(*) from marts.fct_key_moment_task_outcomes"
            " where execution_status = 'holdout_contacted'"
        ).fetchall()[0][0]
        == 0
    )


def test_every_task_is_executed_pending_or_never_executed(loop):
    _, con, _ = loop
    by_status = dict(
        con.execute(
            """select business_date || '/' || execution_status, count(*)
               from marts.fct_key_moment_task_outcomes where contact_group = 'target'
               group by all"""
        ).fetchall()
    )
    first, second, last = DATES
    # day 1's window (2 days) has closed by day 3: its tasks are executed or never
    assert by_status.get(f"{first}/executed", 0) > 0
    assert by_status.get(f"{first}/never_executed", 0) > 0
    assert f"{first}/pending" not in by_status
    # day 2's were executed on day 3, the rest still pending; day 3's all pending
    assert by_status.get(f"{second}/executed", 0) > 0
    assert f"{second}/never_executed" not in by_status
    assert set(k for k in by_status if k.startswith(str(last))) == {f"{last}/pending"}
    tasks = con.execute(
        "select count(*) from marts.fct_target_list_members where contact_group = 'target'"
    ).fetchall()[0][0]
    assert sum(by_status.values()) == tasks


def test_the_daily_mart_recounts_from_raw_contacts(loop):
    _, con, _ = loop
    mart = {
        (r[0], r[1]): r[2:]
        for r in con.execute(
            """select business_date, rule_code || '__' || channel, executed, reached, accepted,
                      declined, not_reached, complained, opted_out
               from marts.fct_key_moment_task_outcomes_daily"""
        ).fetchall()
    }
    raw = con.execute(
        """select cast(strptime(left(task_ref, 8), '%Y%m%d') as date), substr(task_ref, 10),
                  count(*),
                  count(*) filter (where outcome not in ('no_answer', 'ignored')),
                  count(*) filter (where outcome = 'accepted'),
                  count(*) filter (where outcome = 'declined'),
                  count(*) filter (where outcome in ('no_answer', 'ignored')),
                  count(*) filter (where outcome = 'complained'),
                  count(*) filter (where outcome = 'opted_out')
           from raw.crm_contacts where task_ref is not null group by all"""
    ).fetchall()
    assert raw
    for r in raw:
        assert mart[(r[0], r[1])] == tuple(r[2:]), r
    # and every row reconciles: tasks = executed + pending + never executed
    bad = con.execute(
        """select count(*) from marts.fct_key_moment_task_outcomes_daily
           where target_tasks <> executed + pending + never_executed or holdouts_contacted > 0"""
    ).fetchall()[0][0]
    assert bad == 0


def _within(observed: int, n: int, p: float) -> bool:
    """``observed`` successes of ``n`` lie within 4 standard deviations of ``n p``."""
    sd = math.sqrt(n * p * (1 - p))
    return abs(observed - n * p) <= 4 * sd + 1


def test_outcome_rates_follow_the_planted_ones_by_channel_and_tier(loop):
    _, con, manifests = loop
    planted = manifests[DATES[-1]]["planted"]["task_execution"]  # the manifest's rates
    rows = con.execute(
        """select case when channel = 'outbound_call' then 'outbound_call' else 'sms' end,
                  customer_tier, count(*) filter (where execution_status = 'executed'),
                  count(*) filter (where execution_status = 'executed' and is_reached),
                  count(*) filter (where execution_status in ('executed', 'never_executed'))
           from marts.fct_key_moment_task_outcomes
           where business_date = ? and contact_group = 'target' group by all""",
        [DATES[0]],
    ).fetchall()
    assert {r[0] for r in rows} == {"outbound_call", "sms"}
    for family, tier, executed, reached, settled in rows:
        assert _within(executed, settled, planted["executed_share"][family]), (family, executed)
        assert _within(reached, executed, planted["reached_share_by_tier"][family][tier]), tier
    calls = {r[1]: r[3] / r[2] for r in rows if r[0] == "outbound_call" and r[2] >= 30}
    if "vip" in calls and "below_four_star" in calls:
        assert calls["vip"] > calls["below_four_star"]


def test_call_sheets_are_executed_and_the_capacity_mart_reconciles(loop):
    """Each phone manager's published call sheet is worked by CRM at the planted call
    rate, never beyond the sheet or the capacity; the call-sheet mart recounts from the
    sheet files and the raw contacts, and reconciles with the capacity mart."""
    cfg, con, manifests = loop
    planted = manifests[DATES[-1]]["planted"]["task_execution"]
    day = DATES[0]  # its execution window has closed by the last date
    version = (cfg.publish_dir / "lists" / day.isoformat()).resolve()
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    sheets = {s["phone_manager_id"]: s for s in manifest["call_sheets"]}
    assert sheets and {s["status"] for s in sheets.values()} == {"published"}
    # the sheets as the managers got them: customer keys per manager
    on_sheet: dict[int, set[tuple[str, str]]] = {}
    for pm, sheet in sheets.items():
        with (version / sheet["files"]["csv"]["name"]).open(encoding="utf-8-sig") as fh:
            on_sheet[pm] = {(r["list_id"], r["customer_key"]) for r in csv.DictReader(fh)}
    private = duckdb.connect()
    key_of = dict(
        private.execute(
            "select customer_id || '|' || list_id, customer_key from read_parquet(?)",
            [str(cfg.publish_dir / "_private" / version.name / "list_members.parquet")],
        ).fetchall()
    )
    private.close()
    # what CRM executed: the raw contacts naming a task of the date
    executed = {
        (list_id, key_of[f"{customer}|{list_id}"])
        for customer, list_id in con.execute(
            """select distinct customer_id, substr(task_ref, 10) from raw.crm_contacts
               where task_ref like ? || ':%'""",
            [f"{day:%Y%m%d}"],
        ).fetchall()
    }
    mart = {
        r[0]: r[1:]
        for r in con.execute(
            """select phone_manager_id, c.daily_call_capacity, c.used, c.planned, s.sheet_calls,
                      s.executed, s.reached, s.pending, s.never_executed
               from marts.fct_phone_manager_capacity_daily c
               inner join marts.fct_phone_manager_call_sheets_daily s
                 using (business_date, phone_manager_id)
               where business_date = ?""",
            [day],
        ).fetchall()
    }
    total_sheet = total_done = 0
    for pm, calls in on_sheet.items():
        capacity, used, planned_calls, sheet_calls, done, reached, pending, never = mart[pm]
        assert sheet_calls == len(calls) == used + planned_calls <= capacity, pm
        assert done == len(calls & executed) and pending == 0, pm
        assert done + never == sheet_calls and reached <= done <= capacity, pm
        total_sheet += sheet_calls
        total_done += done
    assert _within(total_done, total_sheet, planted["executed_share"]["outbound_call"])
    # the planned calls were made, held out and measured like a rule's
    pc = con.execute(
        """select count(*) filter (where contact_group = 'target'),
                  count(*) filter (where contact_group = 'holdout'),
                  count(*) filter (where contact_group = 'target' and is_executed)
           from marts.fct_key_moment_goal_outcomes
           where business_date = ? and rule_code = 'PC01_PLANNED_CALL'""",
        [day],
    ).fetchone()
    assert pc[0] > 0 and pc[1] > 0 and pc[2] > 0, pc
    assert con.execute(
        "select count(*) from marts.rpt_key_moment_rule_review"
        " where rule_code = 'PC01_PLANNED_CALL'"
    ).fetchone() == (1,)


def test_the_snapshot_brought_up_to_date_day_by_day_equals_the_warehouse(loop):
    """The loop's last build brought the first generation up to date with two dates of
    builds, the outcome marts rewriting the window before each: not a row differs."""
    cfg, _, _ = loop
    made = snapshot.describe(cfg)
    assert made["made"] == "brought up to date", made
    assert made["dates"] == [d.isoformat() for d in DATES[1:]]
    # the raw extracts and the dbt models incremental by date, the outcomes among them
    assert made["tables_by_partition"] >= 35 and made["repaired"] == []
    assert snapshot.partitioned_tables(cfg)[("marts", "fct_key_moment_task_outcomes")] == (
        snapshot.Partitioned("dbt", days_back=2)
    )
    assert snapshot_differences(cfg) == []


def test_no_subscriber_number_in_the_analysts_snapshot(loop):
    """Issue 34: every table and column of the loop's snapshot -- raw, staging, marts,
    ledgers -- holds no 11-digit subscriber number; the live warehouse does."""
    cfg, _, _ = loop
    assert any(
        c.startswith("raw.boss_subscribers.msisdn") for c in subscriber_numbers_in(cfg.warehouse)
    )
    assert subscriber_numbers_in(cfg.snapshot) == []


def test_the_generators_service_rules_are_the_seeds():
    with (PROJECT / "seeds" / "warning_rules.csv").open(encoding="utf-8") as fh:
        rules = list(csv.DictReader(fh))
    service = {r["rule_code"] for r in rules if r["is_marketing"] == "false"}
    assert service == execution.SERVICE_RULES
    # and exactly the service notices go live without their team's approval
    assert {r["rule_code"] for r in rules if r["approval"] == "auto"} == service


def test_a_version_1_contacts_file_is_refused_naming_the_version(tmp_path, monkeypatch):
    """A CRM still on contract version 1 (no task_ref) is refused whole, the ledger naming
    the version and what it lacks; the day's good contacts stay."""
    from kairos.config import Settings

    monkeypatch.setenv("KAIROS_HOME", str(tmp_path / "v1"))
    home = Settings.from_env()
    day = DATES[0]
    generate(home.landing, day, 1, 500, 3, progress=False)
    _, failures = ingest_dates(home, day, day)
    assert failures == []
    e = contract.get("crm.contacts")
    text = e.data_path(home.landing, day).read_text(encoding="utf-8").splitlines()
    v1 = ["|".join(line.split("|")[:-1]) for line in text]
    assert v1[0] == e.header_line(1)
    redeliver(home, e.key, ("\n".join(v1) + "\n").encode("utf-8"), day)
    before = _count(home, day)
    _, failures = ingest_dates(home, day, day, extracts=[e.key], force=True)
    assert len(failures) == 1
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        status, message = con.execute(
            "select status, message from audit.load_ledger where extract = 'contacts'"
            " order by finished_at desc limit 1"
        ).fetchall()[0]
    finally:
        con.close()
    assert status == "refused"
    assert "contract version 1" in message and "task_ref" in message
    assert _count(home, day) == before > 0


def _count(cfg, day) -> int:
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        return con.execute(
            "select count(*) from raw.crm_contacts where business_date = ?", [day]
        ).fetchall()[0][0]
    finally:
        con.close()


def test_a_warehouse_from_contract_version_1_is_migrated_in_place(tmp_path):
    """A raw table made before version 2 gains task_ref (earlier rows NULL), and a
    version-2 load then inserts by name although the new column stands last."""
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    try:
        e = contract.get("crm.contacts")
        old_cols = ", ".join(f"{c.name} {c.type}" for c in e.columns if c.since == 1)
        con.execute("create schema raw")
        con.execute(f"create table {e.raw_table} ({old_cols}, business_date date not null)")
        con.execute(
            f"insert into {e.raw_table} values"
            " (1, 2, 3, 'sms', 'outbound', '2026-11-01 10:00:00', null, 'offer', 'opened',"
            " '2026-11-01')"
        )
        raw_warehouse.ensure_schema(con)
        assert raw_warehouse.migrate_raw_table(con, e) == []  # idempotent
        cols = [r[0] for r in con.execute(f"describe {e.raw_table}").fetchall()]
        assert cols[-1] == "task_ref"
        assert con.execute(f"select task_ref from {e.raw_table}").fetchall() == [(None,)]
    finally:
        con.close()
    assert json.dumps(execution.planted())  # the planted model is plain data


def test_an_opt_out_on_a_task_reaches_crm_and_the_marketing_rules_skip_it(loop):
    """Issue 34: a customer who opted out on an executed task (contacts of the second
    date) is marked is_marketing_opt_out in CRM's next customers extract, and no
    marketing rule targets them on the third date; service notices still may."""
    _, con, _ = loop
    opted = {
        r[0]
        for r in con.execute(
            """select distinct customer_id from raw.crm_contacts
               where business_date = ? and task_ref is not null and outcome = 'opted_out'""",
            [DATES[1]],
        ).fetchall()
    }
    assert len(opted) >= 20
    marked = dict(
        con.execute(
            """select business_date, count(*) filter (where is_marketing_opt_out)
               from raw.crm_customers where customer_id in (select unnest(?))
               group by 1""",
            [sorted(opted)],
        ).fetchall()
    )
    assert marked[DATES[2]] == len(opted)  # from the next delivery on
    assert marked[DATES[1]] < len(opted)  # not before: most were not opted out
    targeted = con.execute(
        """select count(*) from marts.fct_target_list_members m
           inner join reference.warning_rules r using (rule_code)
           where m.business_date = ? and r.is_marketing and m.contact_group = 'target'
             and m.customer_id in (select unnest(?))""",
        [DATES[2], sorted(opted)],
    ).fetchone()[0]
    assert targeted == 0
