-- Per business date, customer group and stratum (city x customer tier): the surveys the
-- KANO fits read (kano_complete_survey) and, per indicator, the sum of their gaps in
-- fifths (6 * score - the sum of the six scores). Over the window that closes on a date,
-- gap sum / surveys is that date's hinge (int_satisfaction_kano_moments_daily): where
-- the group's usual gap for the indicator lies, below which a score is a shortfall.
-- Integers, so a hinge is the same whatever order the days are added in.
-- Its first build takes every date, later builds one date each.
{%- set dates = for_business_date() if is_incremental() else '1 = 1' %}
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}
{%- set indicators = satisfaction_indicators() %}

with

surveys as (

    select * from {{ ref('int_satisfaction_surveys_profiled') }}
    where
        {{ dates }}
        and {{ kano_complete_survey() }}

),

rows_by_group as (

    {{ kano_survey_rows('surveys') }}

),

cells as (

    select
        business_date,
        group_type,
        group_value,
        stratum,
        count(*) as surveys,
        {%- for ind in indicators %}
            sum(6 * score_{{ ind }} - total) as gap_{{ ind }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from rows_by_group
    group by business_date, group_type, group_value, stratum

)

{%- set counts = ['surveys'] %}
{%- for ind in indicators %}{% do counts.append('gap_' ~ ind) %}{% endfor %}

{{ select_bigint_counts('cells', counts) }}
