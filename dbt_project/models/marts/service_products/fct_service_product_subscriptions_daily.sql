-- Per service product and business date: users, uses, orders, cancellations and the
-- net active subscriptions (orders less cancellations since the warehouse began).
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

products as (

    select service_product_code from {{ ref('dim_service_products') }}

),

days as (

    select distinct business_date from events

),

daily as (

    select
        days.business_date,
        products.service_product_code,
        count(distinct case when events.uses > 0 then events.subscriber_id end)
            as subscribers_using,
        coalesce(sum(events.uses), 0) as uses,
        coalesce(sum(events.new_orders), 0) as new_orders,
        coalesce(sum(events.cancellations), 0) as cancellations
    from days
    cross join products
    left join events
        on days.business_date = events.business_date
            and products.service_product_code = events.service_product_code
    group by 1, 2

),

{% if is_incremental() and business_date() %}

opening as (

    select service_product_code, active_subscriptions as opening_subscriptions
    from {{ this }}
    where business_date = (
        select max(business_date) from {{ this }}
        where business_date < {{ business_date_literal() }}
    )

),

final as (

    select
        daily.*,
        coalesce(opening.opening_subscriptions, 0) + daily.new_orders - daily.cancellations
            as active_subscriptions
    from daily
    left join opening on daily.service_product_code = opening.service_product_code

)

{% else %}

    final as (

        select
            daily.*,
            sum(daily.new_orders - daily.cancellations) over (
                partition by daily.service_product_code
                order by daily.business_date
                rows between unbounded preceding and current row
            ) as active_subscriptions
        from daily

    )

{% endif %}

{{ select_bigint_counts('final', [
    'uses',
    'new_orders',
    'cancellations',
    'active_subscriptions'
]) }}
