-- Events extract (contract version 4); dates delivered before it have no rows.
with

source as (

    select * from {{ source('bi', 'bi_mystery_shopper_checks') }}

),

renamed as (

    select
        check_id,
        check_date,
        channel,
        city,
        brand_line,
        item_code,
        is_compliant,
        business_date
    from source

),

-- An event re-sent in a later delivery keeps only its latest version.
deduplicated as (

    {{ latest_delivery(
        'renamed',
        source('bi', 'bi_mystery_shopper_checks'),
        ['check_id', 'item_code'],
        [
            'check_id',
            'check_date',
            'channel',
            'city',
            'brand_line',
            'item_code',
            'is_compliant',
            'business_date'
        ]
    ) }}

)

select * from deduplicated
