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

    select * from {{ ref('int_service_product_events_daily') }}
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
        count(distinct case when events.uses > 0 then events.subscriber_id end)
            as subscribers_using,
        sum(events.uses) as uses,
        sum(events.new_orders) as new_orders,
        sum(events.cancellations) as cancellations,
        sum(events.uses + events.new_orders + events.cancellations) as events
    from events
    left join profiles
        on events.subscriber_id = profiles.subscriber_id
            and events.business_date = profiles.business_date
    group by 1, 2, 3, 4, 5, 6

)

{{ select_bigint_counts('usage', ['uses', 'new_orders', 'cancellations', 'events']) }}
