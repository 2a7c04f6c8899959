-- Per business date, customer group and stratum: the sufficient statistics of the KANO
-- fits (macros/kano.sql) -- the surveys, the sum of each variable (s_<variable>) and the
-- cross-products the two rounds need (p_<a>__<b>, kano_moment_pairs). The variables:
-- y, the overall score; per indicator, o_ the mean of the other five scores and l_ / h_
-- the indicator's gap from o_, less the hinge, below and above zero. A survey's hinge
-- is its group and stratum's mean gap over the window that closes on the survey's date
-- (int_satisfaction_kano_cells_daily), so a day's rows, once written, never change:
-- rpt_satisfaction_kano adds the window's days and solves.
--
-- Not under an enforced contract: its 194 sums are generated from the indicator list
-- (kano_features, kano_moment_pairs), all doubles; its keys are declared and checked.
-- Its first build takes every date, later builds one date each.
{%- set dates = for_business_date() if is_incremental() else '1 = 1' %}
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail',
    contract={'enforced': false}
) }}
{%- set indicators = satisfaction_indicators() %}
{%- set n_others = indicators | length - 1 %}

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

    select * from {{ ref('int_satisfaction_kano_cells_daily') }}

),

survey_cells as (

    select distinct
        business_date,
        group_type,
        group_value,
        stratum
    from rows_by_group

),

hinges as (

    -- each date's hinge in fifths: the mean gap over the window closing on that date
    select
        survey_cells.business_date,
        survey_cells.group_type,
        survey_cells.group_value,
        survey_cells.stratum,
        {%- for ind in indicators %}
            cast(sum(cells.gap_{{ ind }}) as double) / sum(cells.surveys)
                as hinge_{{ ind }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from survey_cells
    inner join cells
        on survey_cells.group_type = cells.group_type
            and survey_cells.group_value = cells.group_value
            and survey_cells.stratum = cells.stratum
            and {{ in_survey_window('cells.business_date', to='survey_cells.business_date') }}
    group by
        survey_cells.business_date,
        survey_cells.group_type,
        survey_cells.group_value,
        survey_cells.stratum

),

variables as (

    select
        rows_by_group.business_date,
        rows_by_group.group_type,
        rows_by_group.group_value,
        rows_by_group.stratum,
        rows_by_group.brand_code,
        rows_by_group.customer_tier,
        rows_by_group.arpu_band,
        cast(rows_by_group.overall_score as double) as y,
        {%- for ind in indicators %}
            cast(rows_by_group.total - rows_by_group.score_{{ ind }} as double) / {{ n_others }}
                as o_{{ ind }},
            least(
                (
                    {{ n_others + 1 }} * rows_by_group.score_{{ ind }} - rows_by_group.total
                    - hinges.hinge_{{ ind }}
                ) / {{ n_others }},
                0
            ) as l_{{ ind }},
            greatest(
                (
                    {{ n_others + 1 }} * rows_by_group.score_{{ ind }} - rows_by_group.total
                    - hinges.hinge_{{ ind }}
                ) / {{ n_others }},
                0
            ) as h_{{ ind }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from rows_by_group
    inner join hinges
        on rows_by_group.business_date = hinges.business_date
            and rows_by_group.group_type = hinges.group_type
            and rows_by_group.group_value = hinges.group_value
            and rows_by_group.stratum = hinges.stratum

),

moments as (

    select
        business_date,
        group_type,
        group_value,
        stratum,
        -- the brand, tier and ARPU band where the group is one of them
        case when group_type in ('brand', 'brand_tier_arpu') then max(brand_code) end
            as brand_code,
        case when group_type = 'brand_tier_arpu' then max(customer_tier) end as customer_tier,
        case when group_type = 'brand_tier_arpu' then max(arpu_band) end as arpu_band,
        count(*) as surveys,
        {%- for feature in kano_features() %}
            sum({{ feature }}) as s_{{ feature }},
        {%- endfor %}
        {%- for a, b in kano_moment_pairs() %}
            sum({{ a }} * {{ b }}) as {{ kano_pair(a, b) }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from variables
    group by business_date, group_type, group_value, stratum

)

{{ select_bigint_counts('moments', ['surveys']) }}
