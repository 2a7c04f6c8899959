-- Service-product uses and orders per customer, business date and product: the evidence
-- of business preferences and of continuous use.
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
    where uses + new_orders > 0 and {{ for_business_date() }}

),

subscribers as (

    select * from {{ ref('stg_boss__subscribers') }}
    where {{ for_business_date() }}

),

products as (

    select * from {{ ref('service_products') }}

),

daily as (

    select
        subscribers.customer_id,
        events.business_date,
        events.service_product_code,
        products.category_code,
        sum(events.uses + events.new_orders) as events
    from events
    inner join subscribers
        on events.subscriber_id = subscribers.subscriber_id
            and events.business_date = subscribers.business_date
    left join products
        on events.service_product_code = products.service_product_code
    group by
        subscribers.customer_id,
        events.business_date,
        events.service_product_code,
        products.category_code

)

{{ select_bigint_counts('daily', ['events']) }}
