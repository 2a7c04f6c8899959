-- The satisfaction surveys, one row per survey, with the profile of the surveyed line
-- on the survey's date: what the short boards and the KANO classes group by. Built a
-- date at a time (a date's surveys meet only that date's profiles); the marts read the
-- window (in_survey_window). Phone interviews over phone_survey_max_seconds are flagged
-- (docs/domain.md#three-measurements), not dropped: each mart shows them apart.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

surveys as (

    select * from {{ ref('stg_bi__satisfaction_surveys') }}
    where {{ for_business_date() }}

),

profiles as (

    select * from {{ ref('int_subscriber_profiles') }}
    where {{ for_business_date() }}

),

final as (

    select
        surveys.survey_id,
        surveys.business_date,
        surveys.customer_id,
        surveys.subscriber_id,
        surveys.survey_channel,
        surveys.overall_score,
        {{ is_long_phone_survey('surveys.survey_channel', 'surveys.duration_seconds') }}
            as is_long_phone_survey,
        {%- for ind in satisfaction_indicators() %}
            surveys.score_{{ ind }},
        {%- endfor %}
        profiles.brand_code,
        profiles.customer_tier,
        profiles.arpu_band,
        profiles.is_family_member,
        profiles.is_enterprise_member,
        profiles.city
    from surveys
    inner join profiles
        on surveys.subscriber_id = profiles.subscriber_id
            and surveys.business_date = profiles.business_date

)

select * from final
