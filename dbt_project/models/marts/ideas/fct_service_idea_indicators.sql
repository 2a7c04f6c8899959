-- TIE idea evaluation (docs/domain.md#tie-idea-evaluation): one row per candidate idea
-- (seed service_ideas) and indicator (seed tie_indicators), as of the latest built business
-- date, with a score of 1-5 (5 = favourable) and whether the warehouse measured it or the
-- committee judged it. The warehouse measures three where the idea names its evidence:
--
-- * target_scale: the customers the idea addresses -- warned by its key-moment rule in
--   the 30 days to the date, or in its dissatisfied-pool type on the date; scored
--   1 + 4 x customers / the largest idea's;
-- * degree_of_need: how much more of those customers are in the dissatisfied pool on the
--   date than of all customers (the ratio of the shares; a pool idea's customers are all
--   in it); scored 1 + 4 x min(ratio, 2) / 2 -- as dissatisfied as the average customer
--   scores 3, twice as much or more 5;
-- * satisfaction_lift: the mean control-adjusted lift of the comparable care activities
--   (rpt_care_activity_results); scored 1 + 4 x lift / 10 points, clipped to 1-5.
--
-- Everything else, and a measurable indicator without evidence (no evidence named, or no
-- comparable activity measured), is the committee's judged score from the seed.
{{ config(materialized='table') }}

with

ideas as (

    select * from {{ ref('service_ideas') }}

),

indicators as (

    select * from {{ ref('tie_indicators') }}

),

as_of as (

    select {{ as_of_date(ref('fct_dissatisfied_pool_daily')) }} as as_of_date

),

pool as (

    select
        pool.customer_id,
        pool.pool_type
    from {{ ref('fct_dissatisfied_pool_daily') }} as pool
    inner join as_of
        on pool.business_date = as_of.as_of_date

),

warned as (

    select distinct
        warnings.rule_code,
        warnings.customer_id
    from {{ ref('fct_key_moment_warnings') }} as warnings
    inner join as_of
        on
            warnings.business_date > {{ dbt.dateadd('day', -30, 'as_of.as_of_date') }}
            and warnings.business_date <= as_of.as_of_date

),

-- per idea: the customers it addresses, and how many of them are dissatisfied
addressed as (

    select
        ideas.idea_code,
        count(distinct warned.customer_id) as customers,
        count(distinct pool.customer_id) as dissatisfied
    from ideas
    inner join warned
        on ideas.evidence_code = warned.rule_code
    left join pool
        on warned.customer_id = pool.customer_id
    where ideas.evidence_type = 'key_moment'
    group by ideas.idea_code

    union all

    select
        ideas.idea_code,
        count(distinct pool.customer_id) as customers,
        count(distinct pool.customer_id) as dissatisfied
    from ideas
    inner join pool
        on ideas.evidence_code = pool.pool_type
    where ideas.evidence_type = 'dissatisfied_pool'
    group by ideas.idea_code

),

-- the share of all customers in the dissatisfied pool on the date: the baseline need
base as (

    select
        cast((select count(distinct pool.customer_id) from pool) as double)
        / nullif(count(*), 0) as dissatisfied_share
    from {{ ref('stg_crm__customers') }} as customers
    inner join as_of
        on customers.business_date = as_of.as_of_date

),

lifts as (

    select
        segment,
        avg(control_adjusted_lift) as lift,
        count(*) as activities
    from {{ ref('rpt_care_activity_results') }}
    where control_adjusted_lift is not null
    group by segment

),

measured as (

    select
        ideas.idea_code,
        addressed.customers,
        addressed.dissatisfied,
        {{ safe_ratio('1.0 * addressed.dissatisfied', 'addressed.customers') }}
        / nullif(base.dissatisfied_share, 0) as need_ratio,
        lifts.lift,
        lifts.activities,
        max(addressed.customers) over () as largest
    from ideas
    left join addressed
        on ideas.idea_code = addressed.idea_code
    left join lifts
        on ideas.comparable_segment = lifts.segment
    cross join base

),

-- one row per idea and indicator: the measured value where there is one
values_long as (

    {% set judged = ['cost', 'foreign_practice', 'service_leadership', 'corporate_image',
        'brand_value', 'service_characteristics', 'platform', 'business_management',
        'customer_service'] %}
    select
        ideas.idea_code,
        'target_scale' as indicator_code,
        cast(measured.customers as double) as measured_value,
        1 + 4 * cast(measured.customers as double) / nullif(measured.largest, 0) as measured_score,
        ideas.judged_target_scale as judged_score,
        cast(measured.customers as {{ dbt.type_string() }}) || ' customers' as evidence
    from ideas
    inner join measured
        on ideas.idea_code = measured.idea_code

    union all

    select
        ideas.idea_code,
        'degree_of_need' as indicator_code,
        measured.need_ratio as measured_value,
        case
            when measured.need_ratio is not null
                then 1 + 4.0 * least(measured.need_ratio, 2) / 2
        end as measured_score,
        ideas.judged_degree_of_need as judged_score,
        cast(measured.dissatisfied as {{ dbt.type_string() }}) || ' of '
        || cast(measured.customers as {{ dbt.type_string() }}) || ' dissatisfied, '
        || {{ decimal_text('measured.need_ratio', 2) }}
        || ' x the share of all customers' as evidence
    from ideas
    inner join measured
        on ideas.idea_code = measured.idea_code

    union all

    select
        ideas.idea_code,
        'satisfaction_lift' as indicator_code,
        measured.lift as measured_value,
        case
            when measured.lift is not null
                then least(5.0, greatest(1.0, 1 + 4.0 * measured.lift / 10))
        end as measured_score,
        ideas.judged_satisfaction_lift as judged_score,
        {{ decimal_text('measured.lift', 2) }} || ' points over '
        || cast(measured.activities as {{ dbt.type_string() }}) || ' activities of '
        || ideas.comparable_segment as evidence
    from ideas
    inner join measured
        on ideas.idea_code = measured.idea_code

    {% for indicator in judged %}
        union all

        select
            idea_code,
            '{{ indicator }}' as indicator_code,
            cast(null as double) as measured_value,
            cast(null as double) as measured_score,
            {{ indicator }} as judged_score,
            cast(null as {{ dbt.type_string() }}) as evidence
        from ideas
    {% endfor %}

),

final as (

    select
        as_of.as_of_date,
        values_long.idea_code,
        values_long.indicator_code,
        indicators.indicator_group,
        indicators.weight,
        case
            when indicators.measurable and values_long.measured_score is not null
                then 'measured'
            else 'judged'
        end as score_source,
        case
            when indicators.measurable and values_long.measured_score is not null
                then values_long.measured_value
        end as measured_value,
        round(
            case
                when indicators.measurable and values_long.measured_score is not null
                    then values_long.measured_score
                else values_long.judged_score
            end, 3
        ) as score,
        case
            when indicators.measurable and values_long.measured_score is not null
                then values_long.evidence
        end as evidence
    from values_long
    inner join indicators
        on values_long.indicator_code = indicators.indicator_code
    cross join as_of

)

select * from final
