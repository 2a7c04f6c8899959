-- Snapshot extract (contract version 3): the raw table holds exactly one delivery per
-- business_date (the loader replaces a date's partition), so this model only renames and
-- casts. Dates delivered before version 3 have no rows.
with

source as (

    select * from {{ source('crm', 'crm_phone_managers') }}

),

renamed as (

    select
        phone_manager_id,
        city,
        daily_call_capacity,
        is_active,
        business_date
    from source

)

select * from renamed
