-- Snapshot extract: the raw table holds exactly one delivery per business_date
-- (the loader replaces a date's partition), so this model only renames and casts.
with

source as (

    select * from {{ source('bi', 'bi_customer_tags') }}

),

renamed as (

    select
        subscriber_id,
        tag_code,
        tag_value,
        snapshot_date,
        business_date
    from source

)

select * from renamed
