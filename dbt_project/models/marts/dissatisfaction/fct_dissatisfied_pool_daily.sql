-- The dissatisfied-customer pool (domain §4), one row per business date and pooled
-- customer, with the reasons.
--
-- Explicit: a complaint in the last 30 days, a survey score under 60 in the last 90 days,
-- or a complaint resolution rated 2 or less in the last 90 days.
-- Potential (not explicit): a score of transparent signals reaches
-- `potential_dissatisfaction_threshold` (default 3):
--   hotline calls in 30 days >= 3: 2 points, >= 5: 1 more
--   >= 2 of them transferred: 1          >= 2 of them about the network: 1
--   overage fees this month >= 20 yuan: 1
--   suspended for arrears in the last 30 days: 1
--   data use of the last 7 days under half the weekly average of the 21 days before: 1
--   star level below the highest it had in the last 90 days: 1
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

customer_signals as (

    select * from {{ ref('int_customer_daily_signals') }}
    where active_lines > 0

),

usage_window as (

    select * from {{ ref('stg_boss__daily_usage') }}
    where {{ for_business_date_window('business_date', 27) }}

),

subscribers as (

    select * from {{ ref('stg_boss__subscribers') }}
    where {{ for_business_date() }}

),

status_changes as (

    select * from {{ ref('stg_boss__status_changes') }}
    where to_status = 'suspended_arrears' and {{ for_business_date_window('business_date', 29) }}

),

customer_versions as (

    select
        customer_id,
        business_date as valid_from,
        lead(business_date) over (partition by customer_id order by business_date) as valid_to,
        star_level
    from {{ ref('int_customer_versions') }}

),

line_signals as (

    select
        subscribers.customer_id,
        subscribers.business_date,
        max(cast(usage_window.mtd_overage_fee_yuan as double)) as mtd_overage_fee_yuan,
        sum(
            case
                when usage_window.business_date > {{ dbt.dateadd('day', -7, 'subscribers.business_date') }}
                    then cast(usage_window.data_mb as double)
                else 0
            end
        ) as data_mb_last_7d,
        sum(
            case
                when usage_window.business_date <= {{ dbt.dateadd('day', -7, 'subscribers.business_date') }}
                    then cast(usage_window.data_mb as double)
                else 0
            end
        ) / 3 as weekly_data_mb_before,
        count(distinct usage_window.business_date) as usage_days
    from subscribers
    inner join usage_window
        on subscribers.subscriber_id = usage_window.subscriber_id
        and usage_window.business_date
        between {{ dbt.dateadd('day', -27, 'subscribers.business_date') }}
        and subscribers.business_date
    group by subscribers.customer_id, subscribers.business_date

),

arrears as (

    select
        subscribers.customer_id,
        subscribers.business_date,
        count(*) as arrears_suspensions_30d
    from subscribers
    inner join status_changes
        on subscribers.subscriber_id = status_changes.subscriber_id
        and status_changes.business_date
        between {{ dbt.dateadd('day', -29, 'subscribers.business_date') }}
        and subscribers.business_date
    group by subscribers.customer_id, subscribers.business_date

),

star_history as (

    select
        customer_signals.customer_id,
        customer_signals.business_date,
        max(customer_versions.star_level) as max_star_level_90d
    from customer_signals
    inner join customer_versions
        on customer_signals.customer_id = customer_versions.customer_id
        and customer_versions.valid_from <= customer_signals.business_date
        and (
            customer_versions.valid_to is null
            or customer_versions.valid_to
            > {{ dbt.dateadd('day', -90, 'customer_signals.business_date') }}
        )
    group by customer_signals.customer_id, customer_signals.business_date

),

signals as (

    select
        customer_signals.*,
        coalesce(line_signals.mtd_overage_fee_yuan, 0) as mtd_overage_fee_yuan,
        coalesce(line_signals.usage_days, 0) >= 28
        and line_signals.weekly_data_mb_before >= 100
        and line_signals.data_mb_last_7d < 0.5 * line_signals.weekly_data_mb_before
            as has_falling_usage,
        coalesce(arrears.arrears_suspensions_30d, 0) as arrears_suspensions_30d,
        coalesce(customer_signals.star_level < star_history.max_star_level_90d, false)
            as has_tier_drop
    from customer_signals
    left join line_signals
        on customer_signals.customer_id = line_signals.customer_id
        and customer_signals.business_date = line_signals.business_date
    left join arrears
        on customer_signals.customer_id = arrears.customer_id
        and customer_signals.business_date = arrears.business_date
    left join star_history
        on customer_signals.customer_id = star_history.customer_id
        and customer_signals.business_date = star_history.business_date

),

scored as (

    select
        *,
        complaints_30d > 0
        or coalesce(min_survey_score_90d < 60, false)
        or coalesce(min_resolution_satisfaction_90d <= 2, false) as is_explicit,
        case when hotline_calls_30d >= 3 then 2 else 0 end
        + case when hotline_calls_30d >= 5 then 1 else 0 end
        + case when hotline_transfers_30d >= 2 then 1 else 0 end
        + case when network_calls_30d >= 2 then 1 else 0 end
        + case when mtd_overage_fee_yuan >= 20 then 1 else 0 end
        + case when arrears_suspensions_30d > 0 then 1 else 0 end
        + case when has_falling_usage then 1 else 0 end
        + case when has_tier_drop then 1 else 0 end as potential_score
    from signals

),

final as (

    select
        business_date,
        customer_id,
        main_subscriber_id as subscriber_id,
        customer_tier,
        case when is_explicit then 'explicit' else 'potential' end as pool_type,
        potential_score,
        concat_ws(
            ',',
            case when complaints_30d > 0 then 'complaint_30d' end,
            case when min_survey_score_90d < 60 then 'low_survey_score' end,
            case when min_resolution_satisfaction_90d <= 2 then 'low_resolution_satisfaction' end,
            case when hotline_calls_30d >= 3 then 'repeated_hotline_calls' end,
            case when hotline_transfers_30d >= 2 then 'hotline_transfers' end,
            case when network_calls_30d >= 2 then 'network_calls' end,
            case when mtd_overage_fee_yuan >= 20 then 'overage_shock' end,
            case when arrears_suspensions_30d > 0 then 'arrears_suspension' end,
            case when has_falling_usage then 'falling_usage' end,
            case when has_tier_drop then 'tier_drop' end
        ) as reasons,
        complaints_30d,
        min_survey_score_90d,
        min_resolution_satisfaction_90d,
        hotline_calls_30d,
        hotline_transfers_30d,
        network_calls_30d,
        mtd_overage_fee_yuan,
        arrears_suspensions_30d,
        has_falling_usage,
        has_tier_drop
    from scored
    where is_explicit or potential_score >= {{ var('potential_dissatisfaction_threshold') }}

)

select * from final
