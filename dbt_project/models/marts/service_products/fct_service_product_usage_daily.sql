-- Usage of each service product per business date, by brand, tier, city and channel.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

events as (

    select * from {{ ref('stg_boss__service_product_events') }}
    where {{ for_business_date() }}

),

profiles as (

    select * from {{ ref('int_subscriber_profiles') }}
    where {{ for_business_date() }}

),

usage as (

    select
        events.business_date,
        events.service_product_code,
        coalesce(profiles.brand_code, 'unknown') as brand_code,
        coalesce(profiles.customer_tier, 'unknown') as customer_tier,
        coalesce(profiles.city, 'unknown') as city,
        events.channel,
        count(distinct case when events.event_type = 'use' then events.subscriber_id end)
            as subscribers_using,
        sum(case when events.event_type = 'use' then 1 else 0 end) as uses,
        sum(case when events.event_type = 'order' then 1 else 0 end) as new_orders,
        sum(case when events.event_type = 'cancel' then 1 else 0 end) as cancellations,
        count(*) as events
    from events
    left join profiles
        on events.subscriber_id = profiles.subscriber_id
            and events.business_date = profiles.business_date
    group by 1, 2, 3, 4, 5, 6

)

select * from usage
