-- Subscriber history: a row each time a subscriber's profile changes (SCD2 source).
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

{{ scd2_versions(
    ref('int_subscriber_profiles'),
    'subscriber_id',
    ['customer_id', 'brand_code', 'pay_type', 'price_plan_id', 'status', 'star_level',
     'is_vip', 'customer_tier', 'city', 'arpu_band', 'is_family_member',
     'is_enterprise_member']
) }}
