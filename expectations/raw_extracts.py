"""Suites for the raw extracts, one pair per extract of the contract.

``raw_<system>_<extract>_rows`` (rows, batched): every column the contract constrains
-- required values present, codes in their set, numbers in their range, text matching its
pattern -- on the business date's rows as loaded.

``raw_<system>_<extract>_counts`` (aggregate, in DuckDB): the primary key is unique; the
rows loaded plus the rows quarantined equal the control file's count (from the load
ledger); the rows in the table are the rows the ledger says were loaded; and the day's
row count against the trailing average of the 7 days before -- a day with 40% fewer
subscribers is wrong even if every row is valid. Bounds are per extract: snapshots are
stable, event extracts swing with the calendar (payments cluster before the bill due
date, surveys on screening days), so some have no trailing bound.
"""

from __future__ import annotations

from kairos import contract
from kairos.quality import Suite

# ratio of today's rows to the trailing 7-day average: (low, high), None = not checked
TRAILING_BOUNDS = {
    "boss.subscribers": (0.8, 1.25),
    "boss.price_plans": (0.5, 2.0),
    "boss.daily_usage": (0.8, 1.25),
    "boss.daily_balances": (0.8, 1.25),
    "boss.payments": (0.2, 5.0),
    "boss.status_changes": None,
    "boss.service_product_events": (0.5, 2.0),
    "crm.customers": (0.8, 1.25),
    "crm.contacts": (0.4, 2.5),
    "crm.complaints": None,
    "crm.campaigns": (0.5, 2.0),
    "crm.campaign_members": (0.3, 3.0),
    "bi.customer_tags": (0.8, 1.25),
    "bi.satisfaction_surveys": None,
}


def _row_expectations(extract: contract.Extract):
    def build():
        import great_expectations.expectations as gxe

        out = []
        for c in extract.columns:
            if not c.nullable:
                out.append(gxe.ExpectColumnValuesToNotBeNull(column=c.name))
            if c.values:
                out.append(gxe.ExpectColumnValuesToBeInSet(column=c.name, value_set=list(c.values)))
            if c.min is not None or c.max is not None:
                out.append(
                    gxe.ExpectColumnValuesToBeBetween(
                        column=c.name, min_value=c.min, max_value=c.max
                    )
                )
            if c.pattern:
                out.append(gxe.ExpectColumnValuesToMatchRegex(column=c.name, regex=c.pattern))
        return out

    return build


def _count_expectations(extract: contract.Extract):
    bounds = TRAILING_BOUNDS[extract.key]

    def build():
        import great_expectations.expectations as gxe

        out = [
            gxe.ExpectTableRowCountToEqual(value=1),
            gxe.ExpectColumnValuesToBeBetween(column="duplicate_keys", min_value=0, max_value=0),
            gxe.ExpectColumnValuesToNotBeNull(column="control_rows"),
            gxe.ExpectColumnPairValuesToBeEqual(column_A="control_rows", column_B="rows_accounted"),
            gxe.ExpectColumnPairValuesToBeEqual(column_A="row_count", column_B="rows_loaded"),
        ]
        if bounds:
            # null on the first day with no history: column expectations skip nulls
            out.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column="ratio_to_trailing_avg", min_value=bounds[0], max_value=bounds[1]
                )
            )
        return out

    return build


def _count_query(extract: contract.Extract) -> str:
    keys = ", ".join(extract.primary_key)
    return f"""
with today as (
    select count(*) as row_count from {extract.raw_table}
    where business_date = $business_date
),
duplicates as (
    select count(*) as duplicate_keys from (
        select {keys} from {extract.raw_table}
        where business_date = $business_date
        group by {keys} having count(*) > 1
    )
),
ledger as (
    select control_rows, rows_loaded, rows_quarantined
    from audit.load_ledger
    where system = '{extract.system}' and extract = '{extract.name}'
      and business_date = $business_date
      and status in ('loaded', 'replaced', 'unchanged')
    order by finished_at desc
    limit 1
),
recent as (
    select avg(n) as avg_rows from (
        select business_date, count(*) as n from {extract.raw_table}
        where business_date between cast($business_date as date) - 7
                                and cast($business_date as date) - 1
        group by business_date
    )
)
select
    today.row_count,
    duplicates.duplicate_keys,
    ledger.control_rows,
    ledger.rows_loaded + ledger.rows_quarantined as rows_accounted,
    ledger.rows_loaded,
    today.row_count / nullif(recent.avg_rows, 0) as ratio_to_trailing_avg
from today
cross join duplicates
left join ledger on true
cross join recent
"""


def _suites() -> list[Suite]:
    suites = []
    for e in contract.extracts():
        cols = ", ".join(c.name for c in e.columns)
        suites.append(
            Suite(
                name=f"raw_{e.system}_{e.name}_rows",
                description=f"{e.key}: every constrained column of the day's rows",
                query=f"select {cols} from {e.raw_table} where business_date = $business_date",
                expectations=_row_expectations(e),
                shape="rows",
                sensitive=any(c.pii for c in e.columns),
            )
        )
        suites.append(
            Suite(
                name=f"raw_{e.system}_{e.name}_counts",
                description=f"{e.key}: key unique, control count, trailing average",
                query=_count_query(e),
                expectations=_count_expectations(e),
                shape="aggregate",
            )
        )
    return suites


SUITES = _suites()
