-- The service standard's compliance per customer group (docs/domain.md#three-measurements:
-- the three measurements linked through the standard). Over the surveys' 90-day window,
-- every mystery-shopper check and process audit, item by item, counted for each group the
-- short boards use: * a process audit is a case of one customer, so it counts for that
-- customer's groups (brand x tier x ARPU band, family, enterprise) and for the city it was
-- handled in; * a mystery-shopper check is of a channel, not of a customer: a store visit
-- counts for every brand group, a call to a brand's hotline line for that brand's groups,
-- and both for their city and for the family and enterprise groups (there pooled over the
-- lines). An item is weak in a group when it is the group's least met item of its
-- indicator, has enough checks, and even the upper bound of its compliance stays below the
-- threshold.
with

items as (

    select * from {{ ref('service_standard_items') }}

),

checks as (

    select * from {{ ref('stg_bi__mystery_shopper_checks') }}
    where {{ in_survey_window() }}

),

audit_days as (

    -- the audits, already counted per date and group (int_service_standard_audits_daily)
    select * from {{ ref('int_service_standard_audits_daily') }}
    where {{ in_survey_window() }}

),

profiles as (

    select * from {{ ref('int_subscriber_profiles') }}

),

current_profiles as (

    select * from profiles
    where business_date = {{ as_of_date(ref('stg_bi__satisfaction_surveys')) }}

),

current_groups as (

    {{ customer_groups('current_profiles', distinct=true) }}

),

check_groups as (

    select
        current_groups.group_type,
        current_groups.group_value,
        checks.item_code,
        checks.is_compliant
    from checks
    inner join current_groups
        on (current_groups.group_type = 'city' and checks.city = current_groups.group_value)
            or (
                current_groups.group_type = 'brand_tier_arpu'
                and (
                    checks.brand_line is null
                    or checks.brand_line
                    = {{ dbt.split_part('current_groups.group_value', "' / '", 1) }}
                )
            )
            or current_groups.group_type in ('family_membership', 'enterprise_membership')

),

results as (

    select
        group_type,
        group_value,
        item_code,
        audits as checks,
        compliant_audits as compliant_checks,
        timed_audits as timed_checks,
        elapsed_minutes
    from audit_days
    union all
    select
        group_type,
        group_value,
        item_code,
        1 as checks,
        case when is_compliant then 1 else 0 end as compliant_checks,
        0 as timed_checks,
        0 as elapsed_minutes
    from check_groups

),

stats as (

    select
        group_type,
        group_value,
        item_code,
        sum(checks) as checks,
        sum(compliant_checks) as compliant_checks,
        {{ safe_ratio('sum(elapsed_minutes)', 'sum(timed_checks)') }} as avg_elapsed_minutes
    from results
    group by group_type, group_value, item_code

),

judged as (

    select
        stats.group_type,
        stats.group_value,
        items.indicator,
        stats.item_code,
        items.method,
        coalesce(items.channel, items.process) as checked_in,
        items.time_limit_minutes,
        stats.checks,
        stats.compliant_checks,
        {{ safe_ratio('stats.compliant_checks', 'stats.checks') }} as compliance,
        stats.avg_elapsed_minutes
    from stats
    inner join items
        on stats.item_code = items.item_code

),

bounded as (

    select
        *,
        {{ wilson_bound('compliance', 'checks', -1) }} as compliance_lower,
        {{ wilson_bound('compliance', 'checks', 1) }} as compliance_upper,
        row_number() over (
            partition by group_type, group_value, indicator
            order by compliance, item_code
        ) as indicator_rank
    from judged

),

final as (

    select
        {{ as_of_date(ref('stg_bi__satisfaction_surveys')) }} as as_of_date,
        group_type,
        group_value,
        indicator,
        item_code,
        method,
        checked_in,
        time_limit_minutes,
        checks,
        compliant_checks,
        compliance,
        compliance_lower,
        compliance_upper,
        avg_elapsed_minutes,
        indicator_rank,
        indicator_rank = 1
        and checks >= {{ var('standard_item_min_checks') }}
        and compliance_upper < {{ var('standard_item_weak_compliance') }} as is_weak_item
    from bounded

)

{{ select_bigint_counts('final', ['checks', 'compliant_checks']) }}
