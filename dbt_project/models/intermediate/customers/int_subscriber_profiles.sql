-- One row per subscriber per business date with the attributes marts slice by:
-- brand, tier, city, ARPU band, group membership.
--
-- A table built a day at a time, not a view: the models that read it (surveys, audits,
-- care activities, usage) join a few thousand rows to it, and over a view each of them
-- joined every day's subscribers, customers and tags again -- a cost that grew with
-- every day of history. Its first build (also over the view of earlier versions) takes
-- every date, as the view did; later builds one date each.
{%- set dates = for_business_date() if is_incremental() else '1 = 1' %}
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

subscribers as (

    select * from {{ ref('stg_boss__subscribers') }}
    where {{ dates }}

),

customers as (

    select * from {{ ref('stg_crm__customers') }}
    where {{ dates }}

),

arpu_bands as (

    select
        subscriber_id,
        business_date,
        tag_value as arpu_band
    from {{ ref('stg_bi__customer_tags') }}
    where tag_code = 'arpu_band' and {{ dates }}

),

profiles as (

    select
        subscribers.subscriber_id,
        subscribers.business_date,
        subscribers.customer_id,
        {{ brand_code('subscribers.brand') }} as brand_code,
        subscribers.pay_type,
        subscribers.price_plan_id,
        subscribers.status,
        customers.star_level,
        customers.is_vip,
        {{ customer_tier('customers.is_vip', 'customers.star_level') }} as customer_tier,
        customers.city,
        coalesce(arpu_bands.arpu_band, 'unknown') as arpu_band,
        customers.family_group_id is not null as is_family_member,
        customers.enterprise_group_id is not null as is_enterprise_member
    from subscribers
    left join customers
        on subscribers.customer_id = customers.customer_id
            and subscribers.business_date = customers.business_date
    left join arpu_bands
        on subscribers.subscriber_id = arpu_bands.subscriber_id
            and subscribers.business_date = arpu_bands.business_date

)

select * from profiles
