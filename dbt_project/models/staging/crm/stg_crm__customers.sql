-- Snapshot extract: the raw table holds exactly one delivery per business_date
-- (the loader replaces a date's partition), so this model only renames and casts.
with

source as (

    select * from {{ source('crm', 'crm_customers') }}

),

renamed as (

    select
        customer_id,
        customer_name,
        gender,
        birth_date,
        city,
        star_level,
        is_vip,
        family_group_id,
        enterprise_group_id,
        join_date,
        is_marketing_opt_out,
        phone_manager_id,
        business_date
    from source

)

select * from renamed
