-- BOSS's service-product events rolled up once per business date, line, product and
-- channel: uses, new orders, cancellations. The usage and subscription marts and the
-- customers' product-use evidence all read this rollup instead of the raw events.
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

daily as (

    select
        business_date,
        subscriber_id,
        service_product_code,
        channel,
        sum(case when event_type = 'use' then 1 else 0 end) as uses,
        sum(case when event_type = 'order' then 1 else 0 end) as new_orders,
        sum(case when event_type = 'cancel' then 1 else 0 end) as cancellations
    from events
    group by business_date, subscriber_id, service_product_code, channel

)

{{ select_bigint_counts('daily', ['uses', 'new_orders', 'cancellations']) }}
