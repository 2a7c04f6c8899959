with

source as (

    select * from {{ source('boss', 'boss_service_product_events') }}

),

renamed as (

    select
        event_id,
        subscriber_id,
        service_product_code,
        event_type,
        event_at,
        channel,
        business_date
    from source

),

-- An event re-sent in a later delivery keeps only its latest version.
deduplicated as (

    {{ latest_delivery(
        'renamed',
        source('boss', 'boss_service_product_events'),
        ['event_id'],
        [
            'event_id',
            'subscriber_id',
            'service_product_code',
            'event_type',
            'event_at',
            'channel',
            'business_date'
        ]
    ) }}

)

select * from deduplicated
