-- The operator's care-activity results table (docs/domain.md#dissatisfied-pool) -- segment,
-- customers covered, participation rate, participants, satisfaction before and after --
-- computed from the extracts, with the control-adjusted lift beside the naive one.
with

campaigns as (

    select * from {{ ref('dim_campaigns') }}
    where campaign_type = 'care'

),

members as (

    select * from {{ ref('int_campaign_members_latest') }}
    where member_group = 'target'

),

coverage as (

    select
        campaign_id,
        count(*) as customers_covered,
        sum(case when participated_at is not null then 1 else 0 end) as participants
    from members
    group by campaign_id

),

lift as (

    select * from {{ ref('fct_satisfaction_lift') }}
    where slice = 'all'

),

final as (

    select
        campaigns.campaign_id,
        campaigns.campaign_name,
        campaigns.target_segment as segment,
        campaigns.start_date,
        campaigns.end_date,
        coverage.customers_covered,
        coverage.customers_covered / 10000.0 as customers_covered_10k,
        {{ safe_ratio('coverage.participants', 'coverage.customers_covered') }}
            as participation_rate,
        coverage.participants,
        coverage.participants / 10000.0 as participants_10k,
        lift.n_participant as participants_surveyed,
        lift.before_participant as satisfaction_before,
        lift.after_participant as satisfaction_after,
        lift.naive_lift,
        lift.n_control as control_surveyed,
        lift.change_control as control_change,
        lift.did_lift as control_adjusted_lift,
        lift.did_lift_ci_low as control_adjusted_lift_ci_low,
        lift.did_lift_ci_high as control_adjusted_lift_ci_high
    from campaigns
    inner join coverage on campaigns.campaign_id = coverage.campaign_id
    left join lift on campaigns.campaign_id = lift.campaign_id

)

{{ select_bigint_counts('final', ['participants', 'participants_surveyed', 'control_surveyed']) }}
