-- Satisfaction lift of each care activity, overall and by brand: before and after for
-- participants, target non-participants and the control group; the naive before/after
-- lift of participants; and the lifts against the control group (difference in
-- differences), with counts and 95% confidence intervals. The control group was picked
-- like the targets and never contacted, so its change shows what would have happened
-- anyway (regression to the mean, drift); the naive lift does not.
{% set groups = ['participant', 'target_non_participant', 'target', 'control'] %}

with

pairs as (

    select * from {{ ref('int_care_activity_surveys') }}

),

grouped_pairs as (

    select
        campaign_id,
        brand_code,
        lift_group,
        score_before,
        score_after,
        score_change
    from pairs
    union all
    select
        campaign_id,
        brand_code,
        'target' as lift_group,
        score_before,
        score_after,
        score_change
    from pairs
    where member_group = 'target'

),

sliced as (

    select
        campaign_id,
        'all' as slice,
        lift_group,
        score_before,
        score_after,
        score_change
    from grouped_pairs
    union all
    select
        campaign_id,
        brand_code as slice,
        lift_group,
        score_before,
        score_after,
        score_change
    from grouped_pairs

),

by_group as (

    select
        campaign_id,
        slice,
        lift_group,
        count(*) as n,
        avg(score_before) as before_mean,
        avg(score_after) as after_mean,
        avg(score_change) as change_mean,
        var_samp(score_change) as change_variance
    from sliced
    group by campaign_id, slice, lift_group

),

wide as (

    select
        campaign_id,
        slice,
        {% for g in groups %}
            coalesce(sum(case when lift_group = '{{ g }}' then n end), 0) as n_{{ g }},
            max(case when lift_group = '{{ g }}' then before_mean end) as before_{{ g }},
            max(case when lift_group = '{{ g }}' then after_mean end) as after_{{ g }},
            max(case when lift_group = '{{ g }}' then change_mean end) as change_{{ g }},
            max(case when lift_group = '{{ g }}' then change_variance end) as variance_{{ g }}
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from by_group
    group by campaign_id, slice

),

lifts as (

    select
        wide.*,
        change_participant as naive_lift,
        change_participant - change_control as did_lift,
        sqrt(variance_participant / n_participant + variance_control / n_control)
            as did_lift_se,
        change_target - change_control as itt_lift,
        sqrt(variance_target / n_target + variance_control / n_control) as itt_lift_se,
        {{ safe_ratio('n_participant', 'n_target') }} as participation_rate
    from wide

),

final as (

    select
        lifts.campaign_id,
        lifts.slice,
        {% for g in groups %}
            n_{{ g }},
            before_{{ g }},
            after_{{ g }},
            change_{{ g }},
        {% endfor %}
        participation_rate,
        naive_lift,
        did_lift,
        did_lift - 1.96 * did_lift_se as did_lift_ci_low,
        did_lift + 1.96 * did_lift_se as did_lift_ci_high,
        itt_lift,
        itt_lift - 1.96 * itt_lift_se as itt_lift_ci_low,
        itt_lift + 1.96 * itt_lift_se as itt_lift_ci_high,
        itt_lift / nullif(participation_rate, 0) as effect_per_participant,
        (itt_lift - 1.96 * itt_lift_se) / nullif(participation_rate, 0)
            as effect_per_participant_ci_low,
        (itt_lift + 1.96 * itt_lift_se) / nullif(participation_rate, 0)
            as effect_per_participant_ci_high
    from lifts

)

{{ select_bigint_counts('final', [
    'n_participant',
    'n_target_non_participant',
    'n_target',
    'n_control'
]) }}
