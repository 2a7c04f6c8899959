with

source as (

    select * from {{ source('boss', 'boss_payments') }}

),

renamed as (

    select
        payment_id,
        subscriber_id,
        paid_at,
        amount_yuan,
        payment_channel,
        business_date
    from source

),

-- An event re-sent in a later delivery keeps only its latest version.
deduplicated as (

    {{ latest_delivery(
        'renamed',
        source('boss', 'boss_payments'),
        ['payment_id'],
        [
            'payment_id',
            'subscriber_id',
            'paid_at',
            'amount_yuan',
            'payment_channel',
            'business_date'
        ]
    ) }}

)

select * from deduplicated
