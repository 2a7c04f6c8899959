-- The key includes the day (usage_date / balance_date must equal the business date), and
-- the raw table holds exactly one delivery per business_date: nothing to deduplicate.
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

)

select * from renamed
