with

source as (

    select * from {{ source('bi', 'bi_satisfaction_surveys') }}

),

renamed as (

    select
        survey_id,
        customer_id,
        subscriber_id,
        survey_date,
        survey_channel,
        overall_score,
        score_network,
        score_tariff,
        score_billing,
        score_hotline,
        score_store,
        score_reminders,
        duration_seconds,
        business_date
    from source

),

-- An event re-sent in a later delivery keeps only its latest version.
deduplicated as (

    {{ latest_delivery(
        'renamed',
        source('bi', 'bi_satisfaction_surveys'),
        ['survey_id'],
        [
            'survey_id',
            'customer_id',
            'subscriber_id',
            'survey_date',
            'survey_channel',
            'overall_score',
            'score_network',
            'score_tariff',
            'score_billing',
            'score_hotline',
            'score_store',
            'score_reminders',
            'duration_seconds',
            'business_date'
        ]
    ) }}

)

select * from deduplicated
