with

source as (

    select * from {{ source('boss', 'boss_daily_usage') }}

),

renamed as (

    select
        subscriber_id,
        usage_date,
        voice_minutes,
        sms_count,
        data_mb,
        evening_data_mb,
        mtd_data_mb,
        overage_fee_yuan,
        mtd_overage_fee_yuan,
        business_date
    from source

),

-- An event re-sent in a later delivery keeps only its latest version.
deduplicated as (

    {{ latest_delivery('renamed', ['subscriber_id', 'usage_date'], ['subscriber_id', 'usage_date', 'voice_minutes', 'sms_count', 'data_mb', 'evening_data_mb', 'mtd_data_mb', 'overage_fee_yuan', 'mtd_overage_fee_yuan', 'business_date']) }}

)

select * from deduplicated
