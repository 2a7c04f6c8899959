-- Snapshot extract: the raw table holds exactly one delivery per business_date
-- (the loader replaces a date's partition), so this model only renames and casts.
with

source as (

    select * from {{ source('crm', 'crm_campaign_members') }}

),

renamed as (

    select
        campaign_id,
        customer_id,
        subscriber_id,
        member_group,
        assigned_at,
        reached_at,
        reached_channel,
        participated_at,
        business_date
    from source

)

select * from renamed
