-- What each rule achieved, per rule, channel and week of the list date (issue 12, part
-- 2): its treated customers against its own hash holdout on the rule's goal metric
-- (seeds/rule_goals.csv) -- the uplift with a 95% interval, the contacts it spent and the
-- uplift per 100 contacts -- and on the guardrails every rule shares: complaints and
-- opt-outs within rule_guardrail_window_days and the satisfaction score where surveyed.
-- A week whose goal windows are still open says so (members_window_closed). The pooled
-- verdict per rule is rpt_key_moment_rule_review.
{{ config(materialized='table') }}

with

outcomes as (

    select
        *,
        {{ dbt.date_trunc('week', 'business_date') }} as week_start
    from (
        {{ rule_effect_outcomes(
            ref('fct_key_moment_goal_outcomes'), ref('fct_target_list_members')
        ) }}
    ) as outcomes

),

counts as (

    select
        rule_code,
        channel,
        cast(week_start as date) as week_start,
        goal_metric,
        goal_window_days,
        min(business_date) as first_list_date,
        max(business_date) as last_list_date,
        {{ rule_effect_counts() }}
    from outcomes
    group by rule_code, channel, cast(week_start as date), goal_metric, goal_window_days

),

final as (

    select
        *,
        {{ rule_effect_statistics() }}
    from counts

)

{{ select_bigint_counts('final', [
    'targets',
    'holdouts',
    'contacts_spent',
    'reached',
    'targets_goal_met',
    'holdouts_goal_met',
    'targets_complained',
    'holdouts_complained',
    'targets_opted_out',
    'holdouts_opted_out',
    'targets_surveyed',
    'holdouts_surveyed',
    'members_window_closed'
]) }}
