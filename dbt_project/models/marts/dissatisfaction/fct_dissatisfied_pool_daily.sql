-- The dissatisfied-customer pool (docs/domain.md#dissatisfied-pool), one row per business
-- date and pooled customer, with the reasons.
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
-- Every signal is computed once, in int_customer_daily_signals; this model only scores.
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
    where active_lines > 0 and {{ for_business_date() }}

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
    from customer_signals

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

{{ select_bigint_counts('final', [
    'complaints_30d',
    'hotline_calls_30d',
    'hotline_transfers_30d',
    'network_calls_30d'
]) }}
