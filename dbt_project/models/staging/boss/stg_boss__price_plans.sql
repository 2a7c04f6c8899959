-- Snapshot extract: the raw table holds exactly one delivery per business_date
-- (the loader replaces a date's partition), so this model only renames and casts.
with

source as (

    select * from {{ source('boss', 'boss_price_plans') }}

),

renamed as (

    select
        price_plan_id,
        price_plan_name,
        network_generation,
        monthly_fee_yuan,
        data_quota_mb,
        voice_minutes,
        sms_quota,
        business_date
    from source

)

select * from renamed
