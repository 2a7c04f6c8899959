-- KANO classes per customer group and satisfaction indicator (docs/domain.md#kano), from
-- the surveys of the last 90 days: penalty-reward contrast analysis. For each indicator,
-- the overall score is regressed on how far the indicator sits below and above the
-- respondent's usual (macros/kano.sql): the penalty is the slope below, the reward the
-- slope above. A must-be need costs satisfaction when it falls short and earns nothing when it
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
-- (stratum fixed effects), and the hinge is the stratum's usual gap. A city
-- is urban or rural, and in the generated data -- as in the operator's -- network is
-- the short board of rural customers: lower there, and weighing more in their overall
-- score. Pooled across strata, that difference between segments reads as a must-be
-- shape of network for the whole brand; within strata it does not. `adjusted_for`
-- names the adjustment on every row.
--
-- Solved from sufficient statistics (macros/kano.sql): the window's days of
-- int_satisfaction_kano_moments_daily are added per group and stratum, and every
-- covariance of both rounds is a sum of those -- a day adds its rows, the window is
-- not refitted survey by survey.
{%- set indicators = satisfaction_indicators() %}
{%- set margin = var('kano_margin') %}
{%- set pairs = kano_moment_pairs() %}
with

moments as (

    select * from {{ ref('int_satisfaction_kano_moments_daily') }}
    where {{ in_survey_window() }}

),

strata as (

    select
        group_type,
        group_value,
        stratum,
        max(brand_code) as brand_code,
        max(customer_tier) as customer_tier,
        max(arpu_band) as arpu_band,
        sum(surveys) as surveys,
        {%- for feature in kano_features() %}
            sum(s_{{ feature }}) as s_{{ feature }},
        {%- endfor %}
        {%- for a, b in pairs %}
            sum({{ kano_pair(a, b) }}) as {{ kano_pair(a, b) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from moments
    group by group_type, group_value, stratum

),

covariances as (

    -- within strata: per stratum sum(a * b) - sum(a) * sum(b) / n, added over the strata
    -- (each variable less its stratum's mean)
    select
        group_type,
        group_value,
        max(brand_code) as brand_code,
        max(customer_tier) as customer_tier,
        max(arpu_band) as arpu_band,
        sum(surveys) as surveys,
        count(*) as strata,
        {%- for a, b in pairs %}
            sum({{ kano_pair(a, b) }} - s_{{ a }} * s_{{ b }} / surveys)
                as {{ kano_cov(a, b) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from strata
    group by group_type, group_value

),

first_partialled as (

    {{ kano_partialled('covariances', 'first') }}

),

first_round as (

    {{ kano_solve('first_partialled') }}

),

first_slopes as (

    -- a fit not determined contributes nothing
    select
        group_type,
        group_value,
        {%- for ind in indicators %}
            coalesce(max(case when indicator = '{{ ind }}' then penalty end), 0)
                as slope_l_{{ ind }},
            coalesce(max(case when indicator = '{{ ind }}' then reward end), 0)
                as slope_h_{{ ind }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from first_round
    group by group_type, group_value

),

adjusted as (

    -- the second round's response: y less the first-round contributions of the other
    -- indicators (kano_adjusted)
    select
        covariances.*,
        {%- for ind in indicators %}
            {{ kano_adjusted(ind, 'first_slopes') }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from covariances
    inner join first_slopes
        on covariances.group_type = first_slopes.group_type
            and covariances.group_value = first_slopes.group_value

),

second_partialled as (

    {{ kano_partialled('adjusted', 'second') }}

),

second_round as (

    {{ kano_solve('second_partialled') }}

),

groups as (

    select
        group_type,
        group_value,
        brand_code,
        customer_tier,
        arpu_band
    from covariances

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
        {{ "'city x customer_tier'" if var('kano_adjust_for_segment') else "'nothing'" }}
            as adjusted_for,
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

{{ select_bigint_counts('final', ['surveys', 'strata']) }}
