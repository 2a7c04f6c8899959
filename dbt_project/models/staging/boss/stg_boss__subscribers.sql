-- Snapshot extract: the raw table holds exactly one delivery per business_date
-- (the loader replaces a date's partition), so this model only renames and casts.
with

source as (

    select * from {{ source('boss', 'boss_subscribers') }}

),

renamed as (

    select
        subscriber_id,
        msisdn,
        customer_id,
        brand,
        pay_type,
        price_plan_id,
        status,
        activation_date,
        business_date
    from source

)

select * from renamed
