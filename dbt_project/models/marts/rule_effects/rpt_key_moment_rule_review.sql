-- Keep, tune or stop: the review of each key-moment rule (issue 12, part 2; the summary
-- step of docs/domain.md#key-moments), pooled over every channel and list date of the last
-- rule_effect_lookback_days. The verdict is a recommendation with its evidence: nothing
-- here changes a rule's priority, parameter or holdout in the seed -- a person does.
--
-- effect_flag, in this order:
--   harmful       complaints or opt-outs rose by more than rule_review_harm_tolerance,
--                 beyond doubt (the interval's low end is above it)         -> stop
--   negative      the goal fell, beyond doubt (interval below 0)            -> stop
--   positive      the goal rose, beyond doubt (interval above 0)            -> keep
--   no_effect     the interval holds 0 and rules out any effect of
--                 rule_review_min_effect or more either way                 -> tune
--   underpowered  the interval holds 0 but is too wide to rule out an
--                 effect of that size: too few holdouts yet                  -> keep
--                 (keep collecting; judge again when the interval narrows)
{{ config(materialized='table') }}

{%- set tolerance = var('rule_review_harm_tolerance') %}
{%- set min_effect = var('rule_review_min_effect') %}

with

counts as (

    select
        rule_code,
        goal_metric,
        goal_window_days,
        min(business_date) as first_list_date,
        max(business_date) as last_list_date,
        count(distinct business_date) as list_dates,
        {{ rule_effect_counts() }}
    from (
        {{ rule_effect_outcomes(
            ref('fct_key_moment_goal_outcomes'), ref('fct_target_list_members')
        ) }}
    ) as outcomes
    group by rule_code, goal_metric, goal_window_days

),

statistics as (

    select
        *,
        {{ rule_effect_statistics() }}
    from counts

),

rules as (

    select * from {{ ref('warning_rules') }}

),

goals as (

    select * from {{ ref('rule_goals') }}

),

flagged as (

    select
        statistics.*,
        case
            when
                statistics.complaint_uplift_ci_low > {{ tolerance }}
                or statistics.opt_out_uplift_ci_low > {{ tolerance }}
                then 'harmful'
            when statistics.goal_uplift_ci_high < 0 then 'negative'
            when statistics.goal_uplift_ci_low > 0 then 'positive'
            when
                statistics.goal_uplift_ci_low > -{{ min_effect }}
                and statistics.goal_uplift_ci_high < {{ min_effect }}
                then 'no_effect'
            else 'underpowered'
        end as effect_flag
    from statistics

),

final as (

    select
        flagged.rule_code,
        rules.rule_name_en,
        rules.owner_team,
        rules.priority,
        rules.is_marketing,
        rules.holdout_pct,
        flagged.goal_metric,
        goals.goal_en,
        flagged.goal_window_days,
        flagged.first_list_date,
        flagged.last_list_date,
        flagged.list_dates,
        flagged.targets,
        flagged.holdouts,
        flagged.contacts_spent,
        flagged.reached_share,
        flagged.targets_goal_met,
        flagged.holdouts_goal_met,
        flagged.target_goal_rate,
        flagged.holdout_goal_rate,
        flagged.goal_uplift,
        flagged.goal_uplift_ci_low,
        flagged.goal_uplift_ci_high,
        flagged.goal_uplift_per_reached,
        flagged.uplift_per_100_contacts,
        flagged.targets_complained,
        flagged.holdouts_complained,
        flagged.complaint_uplift,
        flagged.complaint_uplift_ci_low,
        flagged.complaint_uplift_ci_high,
        flagged.opt_out_uplift,
        flagged.opt_out_uplift_ci_low,
        flagged.opt_out_uplift_ci_high,
        flagged.targets_surveyed,
        flagged.holdouts_surveyed,
        flagged.survey_score_difference,
        flagged.survey_score_ci_half_width,
        flagged.members_window_closed,
        flagged.effect_flag,
        case flagged.effect_flag
            when 'harmful' then 'stop'
            when 'negative' then 'stop'
            when 'positive' then 'keep'
            when 'no_effect' then 'tune'
            else 'keep'
        end as verdict,
        case flagged.effect_flag
            when 'harmful'
                then
                    'complaints or opt-outs up by more than '
                    || cast({{ tolerance }} * 100 as {{ dbt.type_string() }})
                    || ' points against the holdout'
            when 'negative' then 'the goal is less often met than by the holdout'
            when 'positive' then 'the goal is met more often than by the holdout'
            when 'no_effect'
                then 'no effect on the goal: change the offer, the channel or the moment'
            else 'too few holdouts to judge yet: keep collecting'
        end as reason
    from flagged
    inner join rules on flagged.rule_code = rules.rule_code
    inner join goals on flagged.rule_code = goals.rule_code

)

select * from final
