"""Score the warehouse's key-moment, preference and dissatisfaction marts against the
generator's planted truth (``<landing>/_ground_truth``): the figures a data scientist
reads before changing a rule's parameter or the pool's threshold.

Every planted value -- the rules' effects, harms and zero rules, the KANO classes, the
short boards' causes, the execution rates -- is read from the delivery's ground-truth
manifest, which the generator writes from the values it planted; never from the
generator's code, so a delivery planted otherwise (``kairos generate --plant``) is scored
against what it holds. A KANO class the mart leaves undetermined is its own outcome,
neither right nor wrong.

Read-only: it opens the warehouse with a read-only connection and never writes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kairos.config import Settings
from kairos_sample.execution import expected_uplift
from kairos_sample.planting import shown_by

# planted key moment -> the catalogue rule meant to find it
MOMENT_RULES = {
    "quota_exceed_risk": "KM01_DATA_QUOTA_RISK",
    "low_balance": "KM06_LOW_BALANCE",
    "suspended_arrears": "KM08_ARREARS_SUSPENDED",
    "old_device": "KM09_OLD_DEVICE",
    "birthday": "KM11_BIRTHDAY",
}


@dataclass
class Evaluation:
    """Figures per section, each a list of rows (dicts) ready to print."""

    sections: dict[str, list[dict]] = field(default_factory=dict)

    def render(self) -> str:
        out = []
        for title, rows in self.sections.items():
            out.append(f"\n{title}")
            if not rows:
                out.append("  (no rows)")
                continue
            cols = list(rows[0])
            cells = [[_fmt(r[c]) for c in cols] for r in rows]
            widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
            out.append("  " + "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
            for row in cells:
                out.append("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
        return "\n".join(out).lstrip("\n")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


def load_truth(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    """The generator's planted truth as temp tables on ``con``: ``truth_customers`` (one
    row per customer: preferences, dissatisfaction, short board) and ``truth_moments``
    (business date, line, planted key moment)."""
    truth = Path(landing) / "_ground_truth"
    if not (truth / "customers.csv.gz").exists():
        raise FileNotFoundError(f"no generator ground truth under {truth}")
    con.execute(
        "create temp table truth_customers as select * from read_csv(?, delim='|',"
        " header=true, all_varchar=true)",
        [str(truth / "customers.csv.gz")],
    )
    con.execute(
        "create temp table truth_moments as select cast(strptime(regexp_extract(filename,"
        " '(\\d{8})', 1), '%Y%m%d') as date) as business_date,"
        " cast(subscriber_id as bigint) as subscriber_id, moment"
        " from read_csv(?, delim='|', header=true, all_varchar=true, filename=true)",
        [str(truth / "key_moments_*.csv.gz")],
    )


def _rows(con, sql: str, params=None) -> list[dict]:
    rel = con.execute(sql, params or [])
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def evaluate(cfg: Settings, day: dt.date | None = None) -> Evaluation:
    """Precision and recall of the warnings, top-channel accuracy and the pool's
    precision and recall, on ``day`` for the pool (default: the latest built date)."""
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        load_truth(con, cfg.landing)
        result = Evaluation()
        result.sections["key-moment warnings vs planted moments (all built dates)"] = [
            _moment(con, moment, rule) for moment, rule in MOMENT_RULES.items()
        ]
        result.sections["top channel vs planted preference, by strength of evidence"] = _rows(
            con,
            """select p.channel_evidence as evidence, count(*) as customers,
                      avg(case when p.top_channel is not null
                               then (p.top_channel = t.pref_channel)::int end) as channel_accuracy,
                      avg(case when p.best_contact_window is not null
                               then (p.best_contact_window = t.pref_window)::int end)
                          as window_accuracy,
                      avg(p.channel_contacts) as contacts_per_customer
            from marts.dim_customer_preference_profiles p
            inner join truth_customers t on p.customer_id = cast(t.customer_id as bigint)
            group by 1 order by 1""",
        )
        if day is None:
            day = con.execute(
                "select max(business_date) from marts.fct_dissatisfied_pool_daily"
            ).fetchall()[0][0]
        result.sections[f"dissatisfied pool vs planted dissatisfaction on {day}"] = _pool(con, day)
        effects = rule_effects(con, cfg.landing)
        if effects:
            result.sections["rule effects vs planted (goal uplift against the holdout)"] = effects
        result.sections["phone managers' capacity per day (all managers)"] = _rows(con, CAPACITY)
        planted = _planted(cfg.landing)
        result.sections["short boards: the weak standard item named vs planted"] = _causes(
            con, planted.get("service_standard", {}).get("causes", [])
        )
        result.sections["KANO classes per brand: named vs planted"] = _kano(
            con, planted.get("kano", {})
        )
        return result
    finally:
        con.close()


def _planted(landing: Path) -> dict:
    """The manifest's ``planted`` section ({} without a manifest)."""
    path = Path(landing) / "_ground_truth" / "manifest.json"
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh).get("planted", {})
    except (OSError, ValueError):
        return {}


def planted_cause(causes: list[dict], group_type: str, group_value: str, indicator: str):
    """The weak item the manifest's causes plant behind ``indicator`` in a brand x tier x
    ARPU group or a city (None: none, or the group mixes planted and unplanted customers:
    a cause of rural cities in a brand group, of one ARPU band in a city)."""
    for c in causes:
        if c["indicator"] != indicator:
            continue
        if group_type == "city" and c.get("cities") and not c.get("brand"):
            if group_value in c["cities"] and not c.get("arpu_band"):
                return c["item"]
        elif group_type == "brand_tier_arpu" and not c.get("cities"):
            brand, _tier, band = group_value.split(" / ")
            if c.get("brand") in (None, brand) and c.get("arpu_band") in (None, band):
                return c["item"]
    return None


def _causes(con, causes: list[dict]) -> list[dict]:
    """Per short board of a brand group or a city: the weak service-standard item the
    report names beside the cause the manifest says was planted."""
    boards = _rows(
        con,
        """select group_type, group_value, indicator, surveys, weak_standard_item,
                  weak_item_method, weak_item_compliance
        from marts.rpt_satisfaction_short_boards
        where is_short_board and group_type in ('brand_tier_arpu', 'city')
        order by group_type, surveys desc""",
    )
    for b in boards:
        b["planted_cause"] = planted_cause(
            causes, b["group_type"], b["group_value"], b["indicator"]
        )
        b["outcome"] = "right" if b["planted_cause"] == b["weak_standard_item"] else "wrong"
    return boards


def _kano(con, planted: dict) -> list[dict]:
    """Per brand and indicator: the KANO class the report names (or leans to) beside the
    class the manifest says was planted: right, wrong, or undetermined (named neither)."""
    rows = _rows(
        con,
        """select group_value as brand, indicator, surveys, contrast, contrast_se,
                  kano_class, leaning_class
        from marts.rpt_satisfaction_kano where group_type = 'brand'
        order by group_value, indicator""",
    )
    for r in rows:
        r["planted"] = planted.get(r["brand"], {}).get(r["indicator"])
        if r["kano_class"] == "undetermined":
            r["outcome"] = "undetermined"
        else:
            r["outcome"] = "right" if r["kano_class"] == r["planted"] else "wrong"
    return rows


# per day: the managers' capacity and what became of it; reconciles says assigned = used +
# deferred + downgraded for every manager, over_capacity counts managers above capacity
CAPACITY = """
select business_date, count(*) as managers, sum(daily_call_capacity) as capacity,
       sum(assigned) as assigned, sum(used) as used, sum(deferred) as deferred,
       sum(downgraded) as downgraded, sum(withdrawn) as withdrawn, sum(planned) as planned,
       sum(idle) as idle,
       bool_and(assigned = used + deferred + downgraded) as reconciles,
       count(*) filter (where used + planned > daily_call_capacity) as over_capacity
from marts.fct_phone_manager_capacity_daily
group by 1 order by 1
"""


def _moment(con, moment: str, rule: str) -> dict:
    truth, fired, hits = con.execute(
        """with t as (select business_date, subscriber_id from truth_moments where moment = ?),
        p as (select business_date, subscriber_id from marts.fct_key_moment_warnings
              where rule_code = ?)
        select (select count(*) from t), (select count(*) from p),
               (select count(*) from t inner join p using (business_date, subscriber_id))""",
        [moment, rule],
    ).fetchall()[0]
    return {
        "moment": moment,
        "rule": rule,
        "planted": truth,
        "fired": fired,
        "precision": hits / fired if fired else None,
        "recall": hits / truth if truth else None,
    }


def _pool(con, day) -> list[dict]:
    counts = _rows(
        con,
        """select p.pool_type, coalesce(t.dissatisfaction, 'unknown') as planted_as,
                  count(*) as customers
        from marts.fct_dissatisfied_pool_daily p
        left join truth_customers t on p.customer_id = cast(t.customer_id as bigint)
        where p.business_date = ?
        group by all order by all""",
        [day],
    )
    planted = dict(
        con.execute("select dissatisfaction, count(*) from truth_customers group by 1").fetchall()
    )
    pooled: dict[str, int] = {}
    for r in counts:
        pooled[r["pool_type"]] = pooled.get(r["pool_type"], 0) + r["customers"]
    return [
        {
            **r,
            "share_of_pool": r["customers"] / pooled[r["pool_type"]],
            "share_of_planted": r["customers"] / planted[r["planted_as"]]
            if r["planted_as"] in planted
            else None,
        }
        for r in counts
    ]


def planted_effects(landing: Path) -> dict | None:
    """The planted rule effects of the generator's manifest (None: not a loop delivery)."""
    return _planted(landing).get("task_execution", {}).get("effects")


def rule_effects(con, landing: Path) -> list[dict]:
    """Per rule: the planted effect against the review's estimate and 95% interval.

    The generator plants, per rule, the share of *reached* targets who meet the goal
    because of the contact (and, for the harmful rule, who complain). The uplift that
    implies for all targets against the holdout is share x reached share x (1 - holdout
    rate): only the reached can be moved, and only those who would not have met the goal
    anyway (``execution.expected_uplift``)."""
    effects = planted_effects(landing)
    if effects is None:
        return []
    goal = effects.get("goal_event_share_of_reached", {})
    harm = effects.get("complaint_share_of_reached", {})
    zero = set(effects.get("zero_effect_rules", []))
    rows = _rows(
        con,
        """select rule_code, goal_metric, targets, holdouts, reached_share, holdout_goal_rate,
                  goal_uplift, goal_uplift_ci_low, goal_uplift_ci_high, complaint_uplift,
                  complaint_uplift_ci_low, complaint_uplift_ci_high, holdouts_complained,
                  effect_flag, verdict
           from marts.rpt_key_moment_rule_review order by rule_code""",
    )
    shown = _shown(con, effects)
    out = []
    for r in rows:
        share = goal.get(r["rule_code"], {}).get("share", 0.0) * shown.get(r["rule_code"], 1.0)
        reached = r["reached_share"] or 0.0
        expected = expected_uplift(share, reached, r["holdout_goal_rate"] or 0.0)
        c_share = harm.get(r["rule_code"], 0.0)
        c_base = r["holdouts_complained"] / r["holdouts"] if r["holdouts"] else 0.0
        c_expected = expected_uplift(c_share, reached, c_base)
        out.append(
            {
                "rule": r["rule_code"],
                "goal": r["goal_metric"],
                "targets": r["targets"],
                "holdouts": r["holdouts"],
                "planted_share": goal.get(r["rule_code"], {}).get("share", 0.0),
                "shown_so_far": shown.get(r["rule_code"], 1.0),
                "expected_uplift": expected,
                "estimate": r["goal_uplift"],
                "ci_low": r["goal_uplift_ci_low"],
                "ci_high": r["goal_uplift_ci_high"],
                "within": r["goal_uplift_ci_low"] <= expected <= r["goal_uplift_ci_high"],
                "planted_complaints": c_share,
                "expected_complaint_uplift": c_expected,
                "complaint_uplift": r["complaint_uplift"],
                "complaint_ci_low": r["complaint_uplift_ci_low"],
                "complaint_ci_high": r["complaint_uplift_ci_high"],
                "flag": r["effect_flag"],
                "verdict": r["verdict"],
                "verdict_is": _verdict_outcome(
                    r["verdict"], r["rule_code"] in harm, share, r["rule_code"] in zero
                ),
            }
        )
    return out


def _shown(con, effects: dict) -> dict[str, float]:
    """Per rule, the share of its planted goal effect observable so far: the generator
    spreads a goal event over the goal window (the manifest's spread_over_goal_window:
    within d days of the contact a share sqrt(d / window)), and a list date whose window
    is still open has seen only its first days. Averaged over the rule's targets."""
    windows = effects.get("goal_window_days")
    if not effects.get("spread_over_goal_window") or not isinstance(windows, dict):
        return {}  # a delivery from before the spread: every effect on the contact day
    counts = con.execute(
        """select rule_code, goal_days_observed, count(*)
           from marts.fct_key_moment_goal_outcomes
           where contact_group = 'target'
             and business_date >= (select min(first_list_date)
                                   from marts.rpt_key_moment_rule_review)
           group by all"""
    ).fetchall()
    total: dict[str, list[float]] = {}
    for rule, observed, n in counts:
        t = total.setdefault(rule, [0.0, 0.0])
        t[0] += n * shown_by(observed, windows.get(rule) or 1)
        t[1] += n
    return {rule: shown / n for rule, (shown, n) in total.items() if n}


def _verdict_outcome(verdict: str, harmful: bool, share: float, zero: bool) -> str:
    """The review's verdict against the planting: right, wrong, or none yet (wait)."""
    if verdict == "wait":
        return "none yet"
    right = "stop" if harmful else "keep" if share > 0 else "tune" if zero else None
    return "right" if verdict == right else "wrong"
