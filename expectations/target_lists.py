"""Suites for the target lists, run on the staged files before anything is published
(``$lists_dir`` is the staging directory).

* ``target_lists_rows``: masked numbers only (``138****1234``; no 11-digit number in any
  text column), a well-formed pseudonymous key, the fields a campaign team needs.
* ``target_lists_policy``: recomputed from the warehouse, independently of the contact
  policy's SQL: no customer on a list of a marketing rule has opted out, is over the
  weekly frequency cap or was contacted in the recent-contact window; no customer with an
  open complaint is on a list whose rule forbids it.
* ``target_lists_counts`` (one row per list): no customer twice, the list holds exactly
  the tasks the warehouse dispatched, a holdout file is present and its share is within
  sampling tolerance of the rule's ``holdout_pct``, and the list's size is within bounds
  of its trailing 7-day average.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from kairos.config import REPO_ROOT
from kairos.quality import Suite

PHONE = r"(?:^|[^0-9])1[3-9][0-9]{9}(?:[^0-9]|$)"  # an 11-digit mobile number
SIZE_BOUNDS = (0.1, 10.0)  # list rows / trailing 7-day average of its dispatched tasks


def _vars() -> dict:
    return yaml.safe_load(Path(REPO_ROOT / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]


def _rows():
    import great_expectations.expectations as gxe

    out = [
        gxe.ExpectColumnValuesToMatchRegex(
            column="msisdn_masked", regex=r"^1[0-9]{2}\*{4}[0-9]{4}$"
        ),
        gxe.ExpectColumnValuesToMatchRegex(column="customer_key", regex=r"^[0-9a-f]{32}$"),
        gxe.ExpectColumnValuesToBeInSet(
            column="channel", value_set=["sms", "mms", "outbound_call", "app"]
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="customer_tier", value_set=["vip", "four_star_plus", "below_four_star"]
        ),
    ]
    for column in ("list_id", "rule_code", "script", "offer", "contact_window", "segment"):
        out.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
    for column in ("msisdn_masked", "evidence_detail", "script", "offer", "segment"):
        out.append(gxe.ExpectColumnValuesToNotMatchRegex(column=column, regex=PHONE))
    return out


def _policy():
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeInSet(column=c, value_set=[False])
        for c in (
            "opted_out_of_marketing",
            "open_complaint_not_allowed",
            "over_frequency_cap",
            "contacted_recently",
        )
    ]


def _counts():
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectColumnValuesToBeBetween(column="duplicate_customers", min_value=0, max_value=0),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="list_rows", column_B="dispatched_tasks"),
        gxe.ExpectColumnPairValuesToBeEqual(column_A="holdout_rows", column_B="holdout_tasks"),
        gxe.ExpectColumnValuesToBeInSet(column="has_holdout_file", value_set=[True]),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="holdout_tolerance", column_B="holdout_deviation", or_equal=True
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="size_ratio_to_trailing_avg",
            min_value=SIZE_BOUNDS[0],
            max_value=SIZE_BOUNDS[1],
        ),
    ]


ROWS_QUERY = """
select * from read_parquet($lists_dir || '/*.parquet', filename = true)
where not ends_with(filename, '.holdout.parquet')
"""


def _policy_query() -> str:
    v = _vars()
    return f"""
with members as (
    select * from read_parquet($lists_dir || '/_private/list_members.parquet')
    where contact_group = 'target'
),
rules as (select * from reference.warning_rules),
customers as (
    select customer_id, is_marketing_opt_out from staging.stg_crm__customers
    where business_date = $business_date
),
activity as (
    select
        customer_id,
        sum(outbound_contacts) filter (
            where business_date > cast($business_date as date) - 7) as week,
        sum(outbound_contacts) filter (
            where business_date > cast($business_date as date) - {int(v["recent_contact_days"])})
            as recent
    from intermediate.int_customer_activity_daily
    where business_date between cast($business_date as date) - 6 and $business_date
    group by customer_id
),
complaints as (
    select customer_id, count(*) as open_complaints from staging.stg_crm__complaints
    where resolved_at is null
      and business_date > cast($business_date as date) - 30
      and business_date <= $business_date
    group by customer_id
)
select
    m.list_id,
    r.is_marketing and coalesce(c.is_marketing_opt_out, false) as opted_out_of_marketing,
    r.suppress_on_open_complaint and coalesce(k.open_complaints, 0) > 0
        as open_complaint_not_allowed,
    r.is_marketing and coalesce(a.week, 0) >= {int(v["contact_cap_per_week"])}
        as over_frequency_cap,
    r.is_marketing and coalesce(a.recent, 0) > 0 as contacted_recently
from members m
inner join rules r on r.rule_code = split_part(m.list_id, '__', 1)
left join customers c on m.customer_id = c.customer_id
left join activity a on m.customer_id = a.customer_id
left join complaints k on m.customer_id = k.customer_id
"""


COUNTS_QUERY = """
with files as (
    select filename, list_id, customer_key
    from read_parquet($lists_dir || '/*.parquet', filename = true)
),
targets as (
    select list_id, count(*) as list_rows, count(*) - count(distinct customer_key)
        as duplicate_customers
    from files where not ends_with(filename, '.holdout.parquet') group by list_id
),
holdouts as (
    select list_id, count(*) as holdout_rows from files
    where ends_with(filename, '.holdout.parquet') group by list_id
),
holdout_files as (
    select distinct replace(parse_filename(file), '.holdout.parquet', '') as list_id
    from glob($lists_dir || '/*.holdout.parquet')
),
tasks as (
    select
        rule_code || '__' || channel as list_id,
        count(*) filter (where decision = 'dispatched') as dispatched_tasks,
        count(*) filter (where decision = 'holdout') as holdout_tasks
    from marts.fct_key_moment_tasks
    where business_date = $business_date and decision in ('dispatched', 'holdout')
    group by all
),
recent as (
    select list_id, avg(n) as avg_rows from (
        select rule_code || '__' || channel as list_id, business_date, count(*) as n
        from marts.fct_key_moment_tasks
        where decision = 'dispatched'
          and business_date between cast($business_date as date) - 7
                                and cast($business_date as date) - 1
        group by all
    ) group by list_id
),
lists as (
    select list_id from tasks
    union
    select list_id from targets
)
select
    lists.list_id,
    coalesce(targets.list_rows, 0) as list_rows,
    coalesce(targets.duplicate_customers, 0) as duplicate_customers,
    coalesce(holdouts.holdout_rows, 0) as holdout_rows,
    coalesce(tasks.dispatched_tasks, 0) as dispatched_tasks,
    coalesce(tasks.holdout_tasks, 0) as holdout_tasks,
    holdout_files.list_id is not null as has_holdout_file,
    abs(coalesce(holdouts.holdout_rows, 0)
        / nullif(coalesce(targets.list_rows, 0) + coalesce(holdouts.holdout_rows, 0), 0)
        - r.holdout_pct / 100.0) as holdout_deviation,
    -- 4 standard errors plus a small-sample term: the normal approximation of a
    -- binomial share is poor for small lists, and a gate must not cry wolf
    4 * sqrt((r.holdout_pct / 100.0) * (1 - r.holdout_pct / 100.0)
        / nullif(coalesce(targets.list_rows, 0) + coalesce(holdouts.holdout_rows, 0), 0))
    + 2.0 / nullif(coalesce(targets.list_rows, 0) + coalesce(holdouts.holdout_rows, 0), 0)
    + 0.02 as holdout_tolerance,
    coalesce(targets.list_rows, 0) / nullif(recent.avg_rows, 0) as size_ratio_to_trailing_avg
from lists
left join targets using (list_id)
left join holdouts using (list_id)
left join holdout_files using (list_id)
left join tasks using (list_id)
left join recent using (list_id)
left join reference.warning_rules r on r.rule_code = split_part(lists.list_id, '__', 1)
"""

SUITES = [
    Suite(
        name="target_lists_rows",
        description="masked numbers only, pseudonymous keys, required fields",
        query=ROWS_QUERY,
        expectations=_rows,
        sensitive=True,  # a failing check here may be showing an unmasked number
    ),
    Suite(
        name="target_lists_policy",
        description="no opt-out, open complaint, over-cap or recently contacted customer",
        query=_policy_query(),
        expectations=_policy,
    ),
    Suite(
        name="target_lists_counts",
        description="no duplicates, exactly the dispatched tasks, holdout present and sized,"
        " list size within bounds",
        query=COUNTS_QUERY,
        expectations=_counts,
        shape="aggregate",
    ),
]
