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
  sampling tolerance of the rule's ``holdout_pct``, and the list's size is within the
  bounds of its own recent history (below).

``target_lists_rows`` concerns every list (masking is one piece of code): a failure
withholds them all. The policy and counts suites are per list (``list_column``): a
failure withholds the failing lists only, and names them with their figures.

The volume check compares a list with itself: its eligible customers (list plus holdout,
so a list whose only task is held out is not "empty") against the median of its own
daily counts over the 7 built days before, zero on days it had none. A median ignores
the first day's burst (every pending key moment fires at once; cooldowns then bring the
lists down to their steady size). It judges only with ``MIN_HISTORY_DAYS`` of history and
a typical size of at least ``MIN_TYPICAL_ROWS``: below that a ratio says nothing. The
allowed range widens for small counts (Poisson noise):
``[RATIO_LOW * typical - sqrt(typical), RATIO_HIGH * typical + 3 sqrt(typical)]``: a list
that usually has 60 customers is withheld below 10, one of 20 at 0. The upper bound is
loose on purpose: some key moments burst at the start of a month (data quota risk), and a
surge is capped per customer by the contact policy anyway.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from kairos.config import REPO_ROOT
from kairos.quality import Suite

PHONE = r"(?:^|[^0-9])1[3-9][0-9]{9}(?:[^0-9]|$)"  # an 11-digit mobile number
MIN_HISTORY_DAYS = 3  # built days in the list's 7-day history before its size is judged
MIN_TYPICAL_ROWS = 20  # a typical size below which a ratio is not judged
RATIO_LOW, RATIO_HIGH = 0.3, 10.0


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
        gxe.ExpectColumnValuesToBeInSet(
            column=c, value_set=[False], description=f"no customer {c.replace('_', ' ')}"
        )
        for c in (
            "opted_out_of_marketing",
            "open_complaint_not_allowed",
            "over_frequency_cap",
            "contacted_recently",
        )
    ]


def _counts():
    import great_expectations.expectations as gxe

    def at_least(a: str, b: str, description: str):
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=a,
            column_B=b,
            or_equal=True,
            ignore_row_if="either_value_is_missing",  # not judged: no bound
            description=description,
        )

    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="duplicate_customers",
            min_value=0,
            max_value=0,
            description="no customer twice on a list",
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="list_rows",
            column_B="dispatched_tasks",
            description="the list holds exactly the dispatched tasks",
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="holdout_rows",
            column_B="holdout_tasks",
            description="the holdout file holds exactly the held-out tasks",
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="has_holdout_file", value_set=[True], description="a holdout file is present"
        ),
        at_least(
            "holdout_tolerance",
            "holdout_deviation",
            "holdout share within sampling tolerance of the rule's holdout_pct",
        ),
        at_least(
            "eligible_rows",
            "volume_low",
            "list size not below its own recent history (eligible_rows >= volume_low)",
        ),
        at_least(
            "volume_high",
            "eligible_rows",
            "list size not above its own recent history (eligible_rows <= volume_high)",
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
lists as (
    select list_id from tasks
    union
    select list_id from targets
),
history_days as (
    select distinct business_date from marts.fct_key_moment_tasks
    where business_date between cast($business_date as date) - 7
                            and cast($business_date as date) - 1
),
history_counts as (
    select rule_code || '__' || channel as list_id, business_date, count(*) as n
    from marts.fct_key_moment_tasks
    where decision in ('dispatched', 'holdout')
      and business_date between cast($business_date as date) - 7
                            and cast($business_date as date) - 1
    group by all
),
history as (
    select
        lists.list_id,
        count(*) as history_days,
        median(coalesce(history_counts.n, 0)) as typical_rows
    from lists
    cross join history_days
    left join history_counts
        on history_counts.list_id = lists.list_id
        and history_counts.business_date = history_days.business_date
    group by lists.list_id
),
volume as (
    select
        list_id,
        history_days,
        typical_rows,
        history_days >= $min_history_days and typical_rows >= $min_typical_rows as judged
    from history
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
    coalesce(targets.list_rows, 0) + coalesce(holdouts.holdout_rows, 0) as eligible_rows,
    coalesce(volume.history_days, 0) as history_days,
    volume.typical_rows,
    case when volume.judged then greatest(0, floor(
        $ratio_low * volume.typical_rows - sqrt(volume.typical_rows))) end as volume_low,
    case when volume.judged then ceil(
        $ratio_high * volume.typical_rows + 3 * sqrt(volume.typical_rows)) end as volume_high
from lists
left join targets using (list_id)
left join holdouts using (list_id)
left join holdout_files using (list_id)
left join tasks using (list_id)
left join volume using (list_id)
left join reference.warning_rules r on r.rule_code = split_part(lists.list_id, '__', 1)
"""

VOLUME_PARAMS = {
    "min_history_days": MIN_HISTORY_DAYS,
    "min_typical_rows": MIN_TYPICAL_ROWS,
    "ratio_low": RATIO_LOW,
    "ratio_high": RATIO_HIGH,
}


def _counts_query() -> str:
    query = COUNTS_QUERY
    for name, value in VOLUME_PARAMS.items():
        query = query.replace(f"${name}", repr(value))
    return query


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
        list_column="list_id",
    ),
    Suite(
        name="target_lists_counts",
        description="no duplicates, exactly the dispatched tasks, holdout present and sized,"
        " list size within its own recent history",
        query=_counts_query(),
        expectations=_counts,
        shape="aggregate",
        list_column="list_id",
    ),
]
