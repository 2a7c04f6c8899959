"""Key-moment warnings, the contact policy, customer preferences, the dissatisfied pool
and short boards: built for real on 45 generated days, checked against the generator's
planted truth and against the rows they were computed from."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import itertools
import json
from collections import Counter

import duckdb
import pytest

from kairos import warehouse
from kairos.ingest import ingest_dates
from kairos_sample import generate
from kairos_sample.evaluation import load_truth
from tests.conftest import module_home
from tests.support import PROJECT

pytestmark = pytest.mark.slow

FIRST, DAYS = dt.date(2026, 10, 8), 45
LAST = FIRST + dt.timedelta(days=DAYS - 1)
SUBSCRIBERS, SEED = 5_000, 7

# planted key moment -> the rule that must find it, and the floor of precision / recall
PLANTED = {
    "quota_exceed_risk": ("KM01_DATA_QUOTA_RISK", 0.85, 0.90),
    "low_balance": ("KM06_LOW_BALANCE", 0.99, 0.99),
    "suspended_arrears": ("KM08_ARREARS_SUSPENDED", 0.99, 0.99),
    "old_device": ("KM09_OLD_DEVICE", 0.99, 0.99),
    "birthday": ("KM11_BIRTHDAY", 0.99, 0.99),
}


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """45 days of a 5,000-subscriber operator, ingested and built."""
    mp, cfg = module_home(tmp_path_factory, "history")
    generate(cfg.landing, FIRST, DAYS, SUBSCRIBERS, SEED, progress=False)
    _, failures = ingest_dates(cfg, FIRST, LAST)
    assert failures == []
    warehouse.build(cfg, None)
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    load_truth(con, cfg.landing)
    yield cfg, con
    con.close()
    mp.undo()


def rows(con, sql, params=None):
    rel = con.execute(sql, params or [])
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def one(con, sql, params=None):
    return con.execute(sql, params or []).fetchall()[0]


# --- catalogues -------------------------------------------------------------------


def _seed(name):
    with (PROJECT / "seeds" / f"{name}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_the_preference_taxonomy_has_six_classes_and_38_preferences():
    prefs = _seed("preference_taxonomy")
    assert len(prefs) == 38
    assert len({p["preference_code"] for p in prefs}) == 38
    assert Counter(p["preference_class"] for p in prefs) == {
        "business": 8,
        "marketing_channel": 6,
        "participation_mode": 4,
        "promotion_form": 5,
        "marketing_timing": 3,
        "gift": 12,
    }


def _key_moment_rules() -> list[dict]:
    """The seed's rules that a signal fires (all but the planned call's pseudo-rule)."""
    return [r for r in _seed("warning_rules") if r["subject"] in ("subscriber", "customer")]


def test_the_rule_catalogue_covers_the_four_types_and_the_named_moments():
    rules = _key_moment_rules()
    assert len(rules) >= 14
    assert {r["warning_type"] for r in rules} == {"package", "data_traffic", "device", "care"}
    # one pseudo-rule besides: the phone managers' planned calls, fired by capacity left
    assert [
        (r["rule_code"], r["warning_type"])
        for r in _seed("warning_rules")
        if r["subject"] == "capacity"
    ] == [("PC01_PLANNED_CALL", "planned_call")]
    named = {
        "quota",
        "overage",
        "low_balance",
        "arrears",
        "payment_due",
        "4g_migration",
        "evening",
        "old_device",
        "birthday",
        "contract",
        "hotline",
        "complaint",
    }
    codes = " ".join(r["rule_code"].lower() for r in rules)
    assert {n for n in named if n in codes} == named
    for r in rules:
        assert "{value}" in r["script_template"], r["rule_code"]
        float(r["parameter_value"])


# --- warnings ---------------------------------------------------------------------


@pytest.mark.parametrize("moment", PLANTED)
def test_warnings_find_the_planted_key_moments(history, moment):
    _, con = history
    rule, min_precision, min_recall = PLANTED[moment]
    truth, fired, hits = one(
        con,
        """with t as (select business_date, subscriber_id from truth_moments where moment = ?),
        p as (select business_date, subscriber_id from marts.fct_key_moment_warnings
              where rule_code = ?)
        select (select count(*) from t), (select count(*) from p),
               (select count(*) from t inner join p using (business_date, subscriber_id))""",
        [moment, rule],
    )
    assert truth > 50, (moment, truth)
    assert hits / fired >= min_precision, (moment, hits, fired)
    assert hits / truth >= min_recall, (moment, hits, truth)


def test_every_rule_fires_and_every_warning_carries_its_evidence(history):
    _, con = history
    fired = {
        r["rule_code"]: r["n"]
        for r in rows(
            con, "select rule_code, count(*) as n from marts.fct_key_moment_warnings group by 1"
        )
    }
    assert set(fired) == {r["rule_code"] for r in _key_moment_rules()}
    bad = one(
        con,
        """select count(*) from marts.fct_key_moment_warnings
        where script like '%{value}%' or evidence_detail is null or evidence_value is null""",
    )[0]
    assert bad == 0
    # no phone number or name ever reaches a script
    leaks = one(
        con,
        """select count(*) from marts.fct_key_moment_warnings w
        inner join staging.stg_boss__subscribers s
          on w.subscriber_id = s.subscriber_id and w.business_date = s.business_date
        inner join staging.stg_crm__customers c
          on w.customer_id = c.customer_id and w.business_date = c.business_date
        where contains(w.script, s.msisdn) or contains(w.script, c.customer_name)""",
    )[0]
    assert leaks == 0


def test_overage_warnings_are_exactly_the_lines_over_the_threshold_in_raw(history):
    _, con = history
    threshold = next(
        float(r["parameter_value"])
        for r in _seed("warning_rules")
        if r["rule_code"] == "KM02_DATA_OVERAGE"
    )
    expected = one(
        con,
        """select count(*) from raw.boss_daily_usage u
        inner join raw.boss_subscribers s
          on u.subscriber_id = s.subscriber_id and u.business_date = s.business_date
        where s.status = 'active' and u.mtd_overage_fee_yuan >= ?""",
        [threshold],
    )[0]
    fired = one(
        con,
        "select count(*) from marts.fct_key_moment_warnings where rule_code = 'KM02_DATA_OVERAGE'",
    )[0]
    assert expected > 0
    assert fired == expected


# --- contact policy -----------------------------------------------------------------


def test_one_task_per_customer_per_day_by_priority(history):
    _, con = history
    assert (
        one(
            con,
            """select count(*) from (
                select business_date, customer_id from marts.fct_key_moment_tasks
        where decision = 'dispatched' group by all having count(*) > 1)""",
        )[0]
        == 0
    )
    # a lower-priority suppression always lost to a task (or its holdout) of higher priority
    orphans = one(
        con,
        """select count(*) from marts.fct_key_moment_tasks s
        where s.suppression_reason = 'lower_priority' and not exists (
            select 1 from marts.fct_key_moment_tasks d
            where d.decision in ('dispatched', 'holdout') and d.customer_id = s.customer_id
              and d.business_date = s.business_date and d.priority <= s.priority)""",
    )[0]
    assert orphans == 0
    assert (
        one(
            con,
            "select count(*) from marts.fct_key_moment_tasks"
            " where suppression_reason = 'lower_priority'",
        )[0]
        > 0
    )


def test_channel_follows_tier_rule_and_strong_preference(history):
    _, con = history
    by_source = rows(
        con,
        """select t.channel_source, t.customer_tier, t.channel, r.channel_override,
                  p.channel_evidence, p.top_channel
        from marts.fct_key_moment_tasks t
        inner join reference.warning_rules r on t.rule_code = r.rule_code
        left join marts.dim_customer_preference_profiles p on t.customer_id = p.customer_id
        where t.decision = 'dispatched'""",
    )
    seen = Counter(r["channel_source"] for r in by_source)
    assert seen["tier"] and seen["rule"] and seen["preference"], seen
    for r in by_source:
        if r["channel_source"] == "rule":
            assert r["channel"] == r["channel_override"]
        elif r["channel_source"] == "preference":
            assert r["channel_evidence"] == "strong" and r["channel"] == r["top_channel"]
            if r["customer_tier"] == "below_four_star":
                assert r["channel"] != "outbound_call"  # a phone manager is for 4 stars up
        else:
            tier_channel = "sms" if r["customer_tier"] == "below_four_star" else "outbound_call"
            assert r["channel"] == tier_channel, r


def test_do_not_disturb_and_frequency_cap_recomputed_from_crm(history):
    _, con = history
    # outbound contacts per customer over the 7 and 2 days up to each task, from staging
    violations = rows(
        con,
        """with tasks as (
            select t.*, r.is_marketing from marts.fct_key_moment_tasks t
            inner join reference.warning_rules r on t.rule_code = r.rule_code),
        contacts as (
            select t.warning_key,
                   count(c.contact_id) filter (where c.business_date > t.business_date - 7) as week,
                   count(c.contact_id) filter (
                       where c.business_date > t.business_date - 2) as recent
            from tasks t left join staging.stg_crm__contacts c
              on c.customer_id = t.customer_id and c.direction = 'outbound'
             and c.business_date between t.business_date - 6 and t.business_date
            group by t.warning_key),
        optout as (
            select customer_id, business_date, is_marketing_opt_out from staging.stg_crm__customers)
        select t.decision, t.suppression_reason, t.is_marketing, c.week, c.recent,
               o.is_marketing_opt_out
        from tasks t inner join contacts c using (warning_key)
        left join optout o using (customer_id, business_date)
        where (t.decision <> 'suppressed' and t.is_marketing
               and (c.week >= 3 or c.recent > 0 or o.is_marketing_opt_out))
           or (t.suppression_reason = 'frequency_cap' and c.week < 3)
           or (t.suppression_reason = 'recent_contact' and c.recent = 0)
           or (t.suppression_reason = 'opt_out'
               and not (o.is_marketing_opt_out and t.is_marketing))""",
    )
    assert violations == []
    reasons = {
        r[0]
        for r in con.execute(
            "select distinct suppression_reason from marts.fct_key_moment_tasks"
        ).fetchall()
    }
    assert {"opt_out", "cooldown", "recent_contact", "lower_priority"} <= reasons
    # service notices still reach opted-out customers
    assert (
        one(
            con,
            """select count(*) from marts.fct_key_moment_tasks t
        inner join reference.warning_rules r on t.rule_code = r.rule_code
        inner join staging.stg_crm__customers c
          on t.customer_id = c.customer_id and t.business_date = c.business_date
        where t.decision = 'dispatched' and not r.is_marketing and c.is_marketing_opt_out""",
        )[0]
        > 0
    )


def test_holdout_is_stable_and_of_the_stated_size(history):
    _, con = history
    # the bucket of a (customer, rule) never changes from day to day
    assert (
        one(
            con,
            """select count(*) from (select customer_id, rule_code from marts.fct_key_moment_tasks
        group by all having count(distinct holdout_bucket) > 1)""",
        )[0]
        == 0
    )
    shares = rows(
        con,
        """select r.holdout_pct, count(*) as eligible,
                  avg(case when t.decision = 'holdout' then 1.0 else 0 end) as share
        from marts.fct_key_moment_tasks t
        inner join reference.warning_rules r on t.rule_code = r.rule_code
        where t.decision in ('holdout', 'dispatched')
        group by r.holdout_pct""",
    )
    for s in shares:
        expected = s["holdout_pct"] / 100
        assert (
            abs(s["share"] - expected)
            < 3 * (expected * (1 - expected) / s["eligible"]) ** 0.5 + 0.01
        ), s


def test_cooldown_opens_one_task_per_episode(history):
    _, con = history
    # a warning firing on consecutive days opens at most one non-suppressed decision per
    # rule within its cooldown
    repeats = one(
        con,
        """select count(*) from marts.fct_key_moment_tasks a
        inner join marts.fct_key_moment_tasks b
          on a.subscriber_id = b.subscriber_id and a.rule_code = b.rule_code
         and b.business_date > a.business_date
        inner join reference.warning_rules r on a.rule_code = r.rule_code
        where a.decision <> 'suppressed' and b.decision <> 'suppressed'
          and b.business_date - a.business_date <= r.cooldown_days""",
    )[0]
    assert repeats == 0


# --- preferences --------------------------------------------------------------------


def test_top_channel_is_right_for_customers_with_strong_evidence(history):
    _, con = history
    by_level = {
        r["channel_evidence"]: r
        for r in rows(
            con,
            """select channel_evidence, count(*) as n,
                      avg(case when p.top_channel = t.pref_channel then 1.0 else 0 end) as accuracy,
                      avg(case when p.best_contact_window = t.pref_window then 1.0 else 0 end)
                          as window_accuracy
            from marts.dim_customer_preference_profiles p
            inner join truth_customers t on p.customer_id = cast(t.customer_id as bigint)
            group by 1""",
        )
    }
    strong, weak = by_level["strong"], by_level["weak"]
    assert strong["n"] >= 150, strong
    assert strong["accuracy"] >= 0.80, strong
    assert strong["accuracy"] > weak["accuracy"], (strong, weak)
    # the window signal is weaker by design (0.12 of the response); better than chance
    assert strong["window_accuracy"] > 1 / 3 + 0.05, strong


def test_preference_scores_cover_every_observed_class(history):
    _, con = history
    classes = {
        r[0]
        for r in con.execute(
            "select distinct preference_class from marts.fct_customer_preference_scores"
        ).fetchall()
    }
    assert classes == {
        "business",
        "marketing_channel",
        "participation_mode",
        "promotion_form",
        "marketing_timing",
        "gift",
    }
    assert (
        one(
            con,
            "select count(*) from marts.fct_customer_preference_scores"
            " where score < 0 or score > 1",
        )[0]
        == 0
    )


# --- dissatisfied pool --------------------------------------------------------------

POTENTIAL_PRECISION, POTENTIAL_RECALL = 0.65, 0.45  # measured 0.72 / 0.56, docs/key-moments.md


def test_potential_model_finds_the_hidden_dissatisfied(history):
    _, con = history
    pooled, hits, hidden = one(
        con,
        """with p as (select customer_id from marts.fct_dissatisfied_pool_daily
                   where business_date = ? and pool_type = 'potential'),
        h as (select cast(customer_id as bigint) as customer_id from truth_customers
              where dissatisfaction = 'hidden')
        select (select count(*) from p), (select count(*) from p inner join h using (customer_id)),
               (select count(*) from h)""",
        [LAST],
    )
    assert hits / pooled >= POTENTIAL_PRECISION, (hits, pooled)
    assert hits / hidden >= POTENTIAL_RECALL, (hits, hidden)


def test_explicit_pool_holds_the_complainers_with_their_reasons(history):
    _, con = history
    found, explicit = one(
        con,
        """with p as (select customer_id from marts.fct_dissatisfied_pool_daily
                   where business_date = ? and pool_type = 'explicit'),
        e as (select cast(customer_id as bigint) as customer_id from truth_customers
              where dissatisfaction = 'explicit')
        select (select count(*) from p inner join e using (customer_id)),
               (select count(*) from e)""",
        [LAST],
    )
    assert found / explicit >= 0.6, (found, explicit)
    assert (
        one(con, "select count(*) from marts.fct_dissatisfied_pool_daily where reasons = ''")[0]
        == 0
    )
    # every complaint in the last 30 days puts its customer in the explicit pool
    missing = one(
        con,
        """select count(distinct c.customer_id) from staging.stg_crm__complaints c
        inner join staging.stg_crm__customers k
          on c.customer_id = k.customer_id and k.business_date = ?
        where c.business_date > cast(? as date) - 30
          and c.customer_id not in (select customer_id from marts.fct_dissatisfied_pool_daily
                                    where business_date = ? and pool_type = 'explicit')""",
        [LAST, LAST, LAST],
    )[0]
    assert missing == 0


def test_pool_movement_reconciles_day_to_day(history):
    _, con = history
    moves = rows(
        con,
        """select business_date, sum(customers) as customers, sum(entered) as entered,
                  sum(stayed) as stayed, sum(left_pool) as left_pool
        from marts.fct_dissatisfied_pool_movement_daily group by 1 order by 1""",
    )
    sizes = {
        r["business_date"]: r["n"]
        for r in rows(
            con,
            "select business_date, count(*) as n from marts.fct_dissatisfied_pool_daily group by 1",
        )
    }
    assert len(moves) == DAYS
    for prev, cur in itertools.pairwise(moves):
        assert cur["customers"] == sizes[cur["business_date"]]
        assert cur["entered"] + cur["stayed"] == cur["customers"]
        assert cur["stayed"] + cur["left_pool"] == prev["customers"]
    assert sum(m["left_pool"] for m in moves) > 0 and sum(m["entered"] for m in moves[1:]) > 0


# --- short boards -------------------------------------------------------------------


def test_short_boards_come_out_of_the_generated_surveys(history):
    _, con = history
    boards = {
        r["group_value"]: r
        for r in rows(
            con,
            "select * from marts.rpt_satisfaction_short_boards where is_short_board",
        )
    }
    easyown = boards["easyown / below_four_star / lt50"]
    assert easyown["indicator"] == "reminders"
    assert easyown["group_preferred_channel"] == "sms"
    mzone = [b for g, b in boards.items() if g.startswith("mzone /")]
    assert mzone and all(b["indicator"] == "hotline" for b in mzone)


def test_truth_files_are_what_the_tests_read(history):
    cfg, _ = history
    with gzip.open(
        cfg.landing / "_ground_truth" / "customers.csv.gz", "rt", encoding="utf-8"
    ) as fh:
        header = fh.readline().strip().split("|")
    assert {"pref_channel", "pref_window", "dissatisfaction", "short_board"} <= set(header)


def test_kairos_evaluate_reports_the_same_figures(history, capsys, monkeypatch):
    cfg, con = history
    from kairos import cli

    monkeypatch.setenv("KAIROS_HOME", str(cfg.home))
    assert cli.main(["evaluate"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if "KM08_ARREARS_SUSPENDED" in ln)
    planted = one(con, "select count(*) from truth_moments where moment = 'suspended_arrears'")[0]
    assert line.split()[2] == str(planted)
    assert "potential  hidden" in out
    # the short boards' named causes against the planted ones
    causes = out.split("short boards: the weak standard item named vs planted")[1].splitlines()
    easyown = next(ln for ln in causes if "easyown / below_four_star / lt50" in ln)
    assert easyown.split().count("RM02") == 2 and easyown.split()[-1] == "right"
    # the KANO classes named per brand against the planted ones: none contradicts
    kano = out.split("KANO classes per brand: named vs planted")[1].splitlines()
    brands = [ln.split() for ln in kano if ln.split()[:1] in (["gotone"], ["mzone"], ["easyown"])]
    assert len(brands) == 18 and all(r[-1] in ("right", "undetermined") for r in brands), kano


def test_kairos_evaluate_without_ground_truth_says_so(history, capsys, tmp_path, monkeypatch):
    cfg, _ = history
    from kairos import cli

    monkeypatch.setenv("KAIROS_HOME", str(cfg.home))
    monkeypatch.setenv("KAIROS_LANDING", str(tmp_path / "empty"))
    assert cli.main(["evaluate"]) == 1
    assert "no generator ground truth" in capsys.readouterr().err


# --- the service standard: CSI, mystery shopper and process audits linked ---------------
# (docs/domain.md#three-measurements)

STANDARD_GROUPS = "select * from intermediate.int_service_standard_compliance"


def _close(row, truth):
    """The observed compliance is within four standard errors of the planted share."""
    se = (truth * (1 - truth) / row["checks"]) ** 0.5
    return abs(row["compliance"] - truth) <= 4 * se + 1e-9


def _service_standard(cfg) -> dict:
    """The manifest's planted service standard: base shares and causes."""
    with (cfg.landing / "_ground_truth" / "manifest.json").open(encoding="utf-8") as fh:
        return json.load(fh)["planted"]["service_standard"]


def test_mystery_shoppers_find_the_m_zone_hotline_slow(history):
    cfg, con = history
    planted = _service_standard(cfg)
    (hl01,) = [c for c in planted["causes"] if c["item"] == "HL01"]
    brand_rows = rows(
        con, STANDARD_GROUPS + " where group_type = 'brand_tier_arpu' and method = 'ms'"
    )
    assert brand_rows
    for r in brand_rows:
        weak = r["item_code"] == "HL01" and r["group_value"].startswith(hl01["brand"] + " /")
        assert _close(r, hl01["share_met"] if weak else planted["share_met"]["ms"]), r
    # every M-Zone group shares its line's calls; the store visits count for every brand
    hl01 = {r["group_value"]: r for r in brand_rows if r["item_code"] == "HL01"}
    assert all(r["is_weak_item"] for g, r in hl01.items() if g.startswith("mzone /"))
    assert not any(r["is_weak_item"] for g, r in hl01.items() if not g.startswith("mzone /"))


def test_process_audits_find_the_planted_weak_steps(history):
    cfg, con = history
    planted = _service_standard(cfg)
    base = planted["share_met"]["pt"]
    by_band = {
        (c["item"], c["brand"], c["arpu_band"]): c["share_met"]
        for c in planted["causes"]
        if c["arpu_band"]
    }
    audited = rows(con, STANDARD_GROUPS + " where method = 'pt' and checks >= 10")
    judged = 0
    for r in audited:
        brand, _, band = [*r["group_value"].split(" / "), "", ""][:3]
        if r["group_type"] == "brand_tier_arpu":
            if r["item_code"] == "NW01":
                continue  # mixes rural and urban cases
            truth = by_band.get((r["item_code"], brand, band), base)
        elif r["group_type"] == "city" and r["item_code"] not in ("RM02", "RM03", "NW01"):
            truth = base
        else:
            continue
        judged += 1
        assert _close(r, truth), r
    assert judged > 100
    easyown = [
        r
        for r in audited
        if r["group_value"] == "easyown / below_four_star / lt50" and r["indicator"] == "reminders"
    ]
    assert [r["item_code"] for r in easyown if r["is_weak_item"]] == ["RM02"]


def test_the_short_board_names_the_weak_standard_item_behind_it(history):
    _, con = history
    report = rows(con, "select * from marts.rpt_satisfaction_short_boards")
    named = [r for r in report if r["weak_standard_item"]]
    # only the planted causes are ever named: no item met at the base rate is blamed
    assert {r["weak_standard_item"] for r in named} <= {"HL01", "RM02", "RM03", "NW01"}
    boards = {r["group_value"]: r for r in report if r["is_short_board"]}
    easyown = boards["easyown / below_four_star / lt50"]
    assert (easyown["indicator"], easyown["weak_standard_item"]) == ("reminders", "RM02")
    assert (easyown["weak_item_method"], easyown["weak_item_checked_in"]) == (
        "pt",
        "reminder_dispatch",
    )
    mzone = [b for g, b in boards.items() if g.startswith("mzone /")]
    assert mzone and all(b["weak_standard_item"] == "HL01" for b in mzone)
    for r in named:
        if r["group_type"] == "brand_tier_arpu":
            brand, _, band = r["group_value"].split(" / ")
            cause = {("hotline", "mzone"): "HL01", ("reminders", "easyown"): "RM02"}
            expected = cause.get((r["indicator"], brand))
            if (r["indicator"], brand, band) == ("reminders", "gotone", "ge500"):
                expected = "RM03"
            assert r["weak_standard_item"] == expected, r
    # the scorecard puts the survey's view and the standard's side by side
    card = rows(
        con,
        "select * from marts.rpt_service_standard_scorecard"
        " where group_value = 'easyown / below_four_star / lt50' and indicator = 'reminders'",
    )
    assert {r["item_code"] for r in card} == {"RM01", "RM02", "RM03"}
    for r in card:
        assert r["is_short_board"] and r["csi_performance"] == pytest.approx(easyown["performance"])
        assert r["pt_audits"] >= 20 and r["ms_checks"] is None
        assert r["compliance_lower"] <= r["pt_compliance"] <= r["compliance_upper"]


def test_long_phone_interviews_are_flagged_and_kept_out_of_the_short_boards(history):
    _, con = history
    quality = {
        (r["survey_channel"], r["is_long_phone_survey"]): r
        for r in rows(con, "select * from marts.rpt_survey_quality")
    }
    assert set(quality) == {("phone", True), ("phone", False), ("sms", False), ("app", False)}
    long, short = quality[("phone", True)], quality[("phone", False)]
    assert long["avg_duration_seconds"] > 900 >= short["max_duration_seconds"]
    assert 0.15 <= long["surveys"] / (long["surveys"] + short["surveys"]) <= 0.25
    # the long interviews are straight-lined; the others almost never are
    assert long["straight_lined_share"] >= 0.95
    assert all(
        q["straight_lined_share"] <= 0.01 for k, q in quality.items() if k[0] != "phone" or not k[1]
    )
    assert quality[("sms", False)]["timed_surveys"] == 0
    # the short boards count every surveyed customer once per family split: kept + long
    split = one(
        con,
        "select sum(surveys), sum(long_phone_surveys) from marts.rpt_satisfaction_short_boards"
        " where group_type = 'family_membership' and indicator = 'network'",
    )
    assert split[1] == long["surveys"]
    assert split[0] == sum(q["surveys"] for k, q in quality.items() if k != ("phone", True))
