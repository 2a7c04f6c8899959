-- The latest known state of every service-activity membership: each day's member
-- snapshot replaces the rows of the memberships it contains (see upsert_config).
{{ config(
    unique_key=['campaign_id', 'customer_id'],
    on_schema_change='fail',
    **upsert_config()
) }}

with

members as (

    select * from {{ ref('stg_crm__campaign_members') }}
    where {{ for_upsert_date() }}

),

latest as (

    select
        campaign_id,
        customer_id,
        subscriber_id,
        member_group,
        assigned_at,
        reached_at,
        reached_channel,
        participated_at,
        business_date as as_of_date
    from (
        select
            members.*,
            row_number() over (
                partition by campaign_id, customer_id order by business_date desc
            ) as snapshot_rank
        from members
    ) as ranked
    where snapshot_rank = 1

)

select * from latest
