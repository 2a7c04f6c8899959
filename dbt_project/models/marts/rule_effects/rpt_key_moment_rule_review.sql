-- Keep, tune or stop: the review of each key-moment rule (issue 12, part 2; the summary
-- step of docs/domain.md#key-moments), pooled over every channel and list date of the last
-- rule_effect_lookback_days. The verdict is a recommendation with its evidence: nothing
-- here changes a rule's priority, parameter or holdout in the seed -- a person does.
--
-- Verdicts with a stated error rate (issue 34): each rule's goal, complaints and opt-outs
-- are tested with an anytime-valid p-value (a mixture SPRT, macros/rule_effects.sql), so
-- looking every week does not inflate the error, and the p-values of every rule and test
-- in the review are corrected together by Holm's step-down. The chance that any rule
-- without an effect is told keep or stop, at any weekly look of a look-back, is at most
-- rule_review_alpha (docs/key-moments.md, "The guarantee"; tests/harness/review_sim.py
-- measures it).
--
-- effect_flag, in this order:
--   harmful       complaints or opt-outs rose by more than rule_review_harm_tolerance
--                 (corrected p-value <= alpha)                              -> stop
--   negative      the goal fell (corrected p-value <= alpha)                -> stop
--   positive      the goal rose (corrected p-value <= alpha)                -> keep
--   insufficient  fewer than rule_review_min_contacts contacts spent or
--                 rule_review_min_holdouts holdouts: nothing to judge yet    -> wait
--   no_effect     the anytime interval (simultaneous over the rules) rules
--                 out an effect of rule_review_min_effect or more either way -> tune
--   underpowered  neither: the evidence cannot yet tell an effect from none  -> wait
{{ config(materialized='table') }}

{%- set tolerance = var('rule_review_harm_tolerance') %}
{%- set min_effect = var('rule_review_min_effect') %}
{%- set alpha = var('rule_review_alpha') %}

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
        count(*) over () as rules_reviewed,
        {{ rule_effect_statistics() }},
        {{ anytime_p('goal', 'targets_goal_met', 'holdouts_goal_met') }},
        {{ anytime_p(
            'complaint', 'targets_complained', 'holdouts_complained', tolerance, one_sided=true
        ) }},
        {{ anytime_p(
            'opt_out', 'targets_opted_out', 'holdouts_opted_out', tolerance, one_sided=true
        ) }}
    from counts

),

-- Holm's step-down over every test of the review (three a rule): the i-th smallest of m
-- p-values is adjusted to the largest (m - j + 1) p_j for j <= i, capped at 1.
tests as (

    select
        rule_code,
        'goal' as test,
        goal_p as p,
        3 * rules_reviewed as m
    from statistics
    union all
    select
        rule_code,
        'complaint' as test,
        complaint_p as p,
        3 * rules_reviewed as m
    from statistics
    union all
    select
        rule_code,
        'opt_out' as test,
        opt_out_p as p,
        3 * rules_reviewed as m
    from statistics

),

ranked as (

    select
        *,
        row_number() over (order by p, rule_code, test) as p_rank
    from tests

),

adjusted as (

    select
        rule_code,
        test,
        max(least(1.0, (m - p_rank + 1) * p)) over (
            order by p_rank rows between unbounded preceding and current row
        ) as p_adjusted
    from ranked

),

corrected as (

    select
        statistics.*,
        {{ anytime_interval(alpha ~ ' / statistics.rules_reviewed') }},
        goal.p_adjusted as goal_p_adjusted,
        complaint.p_adjusted as complaint_p_adjusted,
        opt_out.p_adjusted as opt_out_p_adjusted
    from statistics
    inner join adjusted as goal
        on statistics.rule_code = goal.rule_code and goal.test = 'goal'
    inner join adjusted as complaint
        on statistics.rule_code = complaint.rule_code and complaint.test = 'complaint'
    inner join adjusted as opt_out
        on statistics.rule_code = opt_out.rule_code and opt_out.test = 'opt_out'

),

rules as (

    select * from {{ ref('warning_rules') }}

),

goals as (

    select * from {{ ref('rule_goals') }}

),

flagged as (

    select
        *,
        case
            when
                complaint_p_adjusted <= {{ alpha }}
                or opt_out_p_adjusted <= {{ alpha }}
                then 'harmful'
            when goal_p_adjusted <= {{ alpha }} and goal_uplift < 0 then 'negative'
            when goal_p_adjusted <= {{ alpha }} and goal_uplift > 0 then 'positive'
            when
                contacts_spent < {{ var('rule_review_min_contacts') }}
                or holdouts < {{ var('rule_review_min_holdouts') }}
                then 'insufficient'
            when
                goal_uplift_cs_low > -{{ min_effect }}
                and goal_uplift_cs_high < {{ min_effect }}
                then 'no_effect'
            else 'underpowered'
        end as effect_flag
    from corrected

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
        flagged.goal_uplift_cs_low,
        flagged.goal_uplift_cs_high,
        flagged.goal_p,
        flagged.goal_p_adjusted,
        flagged.goal_uplift_per_reached,
        flagged.uplift_per_100_contacts,
        flagged.targets_complained,
        flagged.holdouts_complained,
        flagged.complaint_uplift,
        flagged.complaint_uplift_ci_low,
        flagged.complaint_uplift_ci_high,
        flagged.complaint_p,
        flagged.complaint_p_adjusted,
        flagged.targets_opted_out,
        flagged.holdouts_opted_out,
        flagged.opt_out_uplift,
        flagged.opt_out_uplift_ci_low,
        flagged.opt_out_uplift_ci_high,
        flagged.opt_out_p,
        flagged.opt_out_p_adjusted,
        flagged.rules_reviewed,
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
            else 'wait'
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
            when 'insufficient'
                then 'too few contacts spent or holdouts to judge: nothing to say yet'
            else 'the evidence cannot yet tell an effect from none: keep collecting'
        end as reason
    from flagged
    inner join rules on flagged.rule_code = rules.rule_code
    inner join goals on flagged.rule_code = goals.rule_code

)

{{ select_bigint_counts('final', [
    'targets',
    'holdouts',
    'contacts_spent',
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
