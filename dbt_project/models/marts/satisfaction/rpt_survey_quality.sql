-- Survey quality (docs/domain.md#three-measurements): a phone interview should take no more
-- than 15 minutes; beyond it the respondent tires and answers carelessly. Per interview
-- channel over the surveys' 90-day window, the interviews within and over the limit (phone
-- only), their length, and the share that are straight-lined (every indicator given the
-- same score as the overall one) -- the sign of a careless answer. The short boards leave
-- the long phone interviews out and show their answers apart.
with

surveys as (

    select * from {{ ref('stg_bi__satisfaction_surveys') }}
    where {{ in_survey_window() }}

),

flagged as (

    select
        survey_channel,
        duration_seconds,
        overall_score,
        {{ is_long_phone_survey() }} as is_long_phone_survey,
        coalesce(
            {%- for ind in satisfaction_indicators() %}
                score_{{ ind }} = overall_score{% if not loop.last %} and{% endif %}
            {%- endfor %},
            false
        ) as is_straight_lined
    from surveys

),

final as (

    select
        {{ as_of_date(ref('stg_bi__satisfaction_surveys')) }} as as_of_date,
        survey_channel,
        is_long_phone_survey,
        count(*) as surveys,
        count(duration_seconds) as timed_surveys,
        avg(cast(duration_seconds as double)) as avg_duration_seconds,
        max(duration_seconds) as max_duration_seconds,
        avg(cast(overall_score as double)) as avg_overall_score,
        {{ safe_ratio('sum(case when is_straight_lined then 1 else 0 end)', 'count(*)') }}
            as straight_lined_share
    from flagged
    group by survey_channel, is_long_phone_survey

)

select * from final
