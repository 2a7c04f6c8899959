"""Suites for the key marts the target lists are built from, on the business date.

Row suites check each table's codes and required values; the aggregate suite checks
the day as a whole: warnings against their trailing 7-day average (a rule that
suddenly fires for everyone, or for no one, is a broken input, not a key moment), every
warning has exactly one decision, keys are unique and no customer has two tasks.
"""

from __future__ import annotations

import csv

from kairos.config import REPO_ROOT
from kairos.quality import Suite


def _rule_codes() -> list[str]:
    with (REPO_ROOT / "seeds" / "warning_rules.csv").open(encoding="utf-8") as fh:
        return [r["rule_code"] for r in csv.DictReader(fh)]


def _warnings():
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToNotBeNull(column="warning_key"),
        gxe.ExpectColumnValuesToBeInSet(column="rule_code", value_set=_rule_codes()),
        gxe.ExpectColumnValuesToBeInSet(
            column="warning_type", value_set=["package", "data_traffic", "device", "care"]
        ),
        gxe.ExpectColumnValuesToNotBeNull(column="evidence_value"),
        gxe.ExpectColumnValuesToNotBeNull(column="script"),
        gxe.ExpectColumnValuesToNotMatchRegex(column="script", regex=r"\{value\}"),
    ]


def _tasks():
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(
            column="decision", value_set=["dispatched", "holdout", "suppressed"]
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="channel", value_set=["sms", "mms", "outbound_call", "app"]
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="suppression_reason",
            value_set=[
                "opt_out",
                "open_complaint",
                "cooldown",
                "recent_contact",
                "frequency_cap",
                "lower_priority",
            ],
        ),
        gxe.ExpectColumnValuesToBeBetween(column="holdout_bucket", min_value=0, max_value=99),
        gxe.ExpectColumnValuesToNotBeNull(column="customer_tier"),
    ]


def _pool():
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(column="pool_type", value_set=["explicit", "potential"]),
        gxe.ExpectColumnValuesToMatchRegex(column="reasons", regex=r"^[a-z0-9_]+(?:,[a-z0-9_]+)*$"),
        gxe.ExpectColumnValuesToBeBetween(column="potential_score", min_value=0, max_value=10),
    ]


def _preferences():
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
        gxe.ExpectColumnValuesToBeInSet(
            column="channel_evidence", value_set=["strong", "weak", "none"]
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="top_channel", value_set=["sms", "mms", "outbound_call", "app", "web", "store"]
        ),
    ]


def _day():
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToEqual(value=1),
        gxe.ExpectColumnValuesToBeBetween(column="warnings", min_value=1),
        gxe.ExpectColumnValuesToBeBetween(
            column="warnings_ratio_to_trailing_avg", min_value=0.3, max_value=3.0
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="duplicate_warning_keys", min_value=0, max_value=0
        ),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="warnings", column_B="decisions"),
        gxe.ExpectColumnValuesToBeBetween(
            column="customers_with_two_tasks", min_value=0, max_value=0
        ),
    ]


DAY_QUERY = """
with w as (
    select * from marts.fct_key_moment_warnings where business_date = $business_date
),
t as (
    select * from marts.fct_key_moment_tasks where business_date = $business_date
),
recent as (
    select avg(n) as avg_warnings from (
        select business_date, count(*) as n from marts.fct_key_moment_warnings
        where business_date between cast($business_date as date) - 7
                                and cast($business_date as date) - 1
        group by business_date
    )
)
select
    (select count(*) from w) as warnings,
    (select count(*) from w) / nullif((select avg_warnings from recent), 0)
        as warnings_ratio_to_trailing_avg,
    (select count(*) - count(distinct warning_key) from w) as duplicate_warning_keys,
    (select count(*) from t) as decisions,
    (select count(*) from (
        select customer_id from t where decision = 'dispatched'
        group by customer_id having count(*) > 1
    )) as customers_with_two_tasks
"""

SUITES = [
    Suite(
        name="marts_key_moment_warnings_rows",
        description="fct_key_moment_warnings: rule codes, evidence, scripts filled in",
        query="select * from marts.fct_key_moment_warnings where business_date = $business_date",
        expectations=_warnings,
    ),
    Suite(
        name="marts_key_moment_tasks_rows",
        description="fct_key_moment_tasks: decisions, channels, reasons, holdout buckets",
        query="select * from marts.fct_key_moment_tasks where business_date = $business_date",
        expectations=_tasks,
    ),
    Suite(
        name="marts_dissatisfied_pool_rows",
        description="fct_dissatisfied_pool_daily: pool types and reasons",
        query="select * from marts.fct_dissatisfied_pool_daily"
        " where business_date = $business_date",
        expectations=_pool,
    ),
    Suite(
        name="marts_customer_preferences_rows",
        description="dim_customer_preference_profiles: channel evidence and top channel",
        query="select * from marts.dim_customer_preference_profiles",
        expectations=_preferences,
    ),
    Suite(
        name="marts_key_moments_day",
        description="the day's warnings against their trailing average; one decision each",
        query=DAY_QUERY,
        expectations=_day,
        shape="aggregate",
    ),
]
