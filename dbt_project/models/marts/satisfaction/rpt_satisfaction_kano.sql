-- KANO classes per customer group and satisfaction indicator (docs/domain.md#kano), from
-- the surveys of the last 90 days: penalty-reward contrast analysis. For each indicator,
-- the overall score is regressed on how far the indicator sits below and above the
-- respondent's usual (kano_fit): the penalty is the slope below, the reward the slope
-- above. A must-be need costs satisfaction when it falls short and earns nothing when it
-- is exceeded (penalty > reward), an attractive one the reverse, a one-dimensional one
-- both alike. The other indicators' own asymmetries leak into a fit of one indicator
-- alone, so the fit is done twice: the second time on the overall score less the
-- first-round contributions of the other indicators (one backfitting step).
-- The class is named only when the 95% interval of the contrast (penalty - reward) lies
-- inside one class's region -- beyond +kano_margin (must-be), below -kano_margin
-- (attractive), within +-kano_margin with both slopes above zero (one-dimensional) --
-- and the group has kano_min_surveys surveys; otherwise it is 'undetermined' and
-- `leaning_class` says where the estimate points. Straight-lined long phone interviews
-- (docs/domain.md#three-measurements) are left out. The intervals take the first round as known.
--
-- Adjusted for segment (issue 34): every fit is within strata of city x customer tier
-- (kano_fit's stratum: fixed effects), and `u` is centred on the stratum's mean. A city
-- is urban or rural, and in the generated data -- as in the operator's -- network is
-- the short board of rural customers: lower there, and weighing more in their overall
-- score. Pooled across strata, that difference between segments reads as a must-be
-- shape of network for the whole brand; within strata it does not. `adjusted_for`
-- names the adjustment on every row.
{%- set indicators = satisfaction_indicators() %}
{%- set margin = var('kano_margin') %}
{%- set stratum = 'stratum' if var('kano_adjust_for_segment') else none %}
with

surveys as (

    select * from {{ ref('int_satisfaction_surveys_profiled') }}
    where not is_long_phone_survey

),

by_group as (

    {{ customer_groups('surveys', 'surveys.*', with_brand=true) }}

),

indicators as (

    {%- for ind in indicators %}
        select
            group_type,
            group_value,
            brand_code,
            customer_tier,
            arpu_band,
            survey_id,
            concat_ws(' / ', coalesce(city, '?'), coalesce(customer_tier, '?')) as stratum,
            '{{ ind }}' as indicator,
            cast(overall_score as double) as overall_score,
            cast(score_{{ ind }} as double) as indicator_score,
            cast(
                {%- for other in indicators if other != ind %}
                    score_{{ other }}{{ ' +' if not loop.last }}
                {%- endfor %}
                as double
            ) / {{ indicators | length - 1 }} as others_mean
        from by_group
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

centred as (

    select
        *,
        indicator_score - others_mean
        - avg(indicator_score - others_mean) over (
            partition by group_type, group_value, indicator{{ ', stratum' if stratum }}
        ) as u
    from indicators

),

first_round as (

    {{ kano_fit('centred', 'overall_score', stratum) }}

),

contributions as (

    select
        centred.*,
        coalesce(
            first_round.penalty * least(centred.u, 0)
            + first_round.reward * greatest(centred.u, 0),
            0
        ) as contribution
    from centred
    inner join first_round
        on centred.group_type = first_round.group_type
            and centred.group_value = first_round.group_value
            and centred.indicator = first_round.indicator

),

adjusted as (

    select
        *,
        overall_score
        - (
            sum(contribution) over (partition by group_type, group_value, survey_id)
            - contribution
        ) as adjusted_score
    from contributions

),

second_round as (

    {{ kano_fit('adjusted', 'adjusted_score', stratum) }}

),

groups as (

    select
        group_type,
        group_value,
        case when group_type in ('brand', 'brand_tier_arpu') then max(brand_code) end
            as brand_code,
        case when group_type = 'brand_tier_arpu' then max(customer_tier) end
            as customer_tier,
        case when group_type = 'brand_tier_arpu' then max(arpu_band) end as arpu_band
    from by_group
    group by group_type, group_value

),

intervals as (

    select
        *,
        penalty - reward as contrast,
        sqrt(residual_variance / surveys * penalty_factor) as penalty_se,
        sqrt(residual_variance / surveys * reward_factor) as reward_se,
        sqrt(residual_variance / surveys * contrast_factor) as contrast_se
    from second_round

),

classified as (

    select
        *,
        contrast - 1.96 * contrast_se as contrast_low,
        contrast + 1.96 * contrast_se as contrast_high,
        case
            when contrast > {{ margin }} then 'must_be'
            when contrast < -{{ margin }} then 'attractive'
            when contrast is not null then 'one_dimensional'
        end as leaning_class,
        case
            when surveys < {{ var('kano_min_surveys') }} or contrast_se is null then 'undetermined'
            when contrast - 1.96 * contrast_se > {{ margin }} then 'must_be'
            when contrast + 1.96 * contrast_se < -{{ margin }} then 'attractive'
            when
                contrast - 1.96 * contrast_se >= -{{ margin }}
                and contrast + 1.96 * contrast_se <= {{ margin }}
                and penalty - 1.96 * penalty_se > 0
                and reward - 1.96 * reward_se > 0
                then 'one_dimensional'
            else 'undetermined'
        end as kano_class
    from intervals

),

final as (

    select
        {{ as_of_date(ref('stg_bi__satisfaction_surveys')) }} as as_of_date,
        classified.group_type,
        classified.group_value,
        groups.brand_code,
        groups.customer_tier,
        groups.arpu_band,
        classified.indicator,
        classified.surveys,
        classified.penalty,
        classified.penalty_se,
        classified.reward,
        classified.reward_se,
        classified.contrast,
        classified.contrast_se,
        classified.contrast_low,
        classified.contrast_high,
        classified.kano_class,
        classified.leaning_class,
        {{ "'city x customer_tier'" if stratum else "'nothing'" }} as adjusted_for,
        classified.strata,
        case
            when classified.surveys < {{ var('kano_min_surveys') }} then 'too_few_surveys'
            when classified.contrast_se is null then 'no_variation'
            when classified.kano_class = 'undetermined' then 'interval_spans_classes'
            else 'interval_within_class'
        end as evidence
    from classified
    inner join groups
        on classified.group_type = groups.group_type
            and classified.group_value = groups.group_value

)

select * from final
