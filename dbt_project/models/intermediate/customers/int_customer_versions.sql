-- Customer history: a row each time a customer's CRM record changes (SCD2 source).
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

{{ scd2_versions(
    ref('stg_crm__customers'),
    'customer_id',
    ['gender', 'city', 'star_level', 'is_vip', 'family_group_id', 'enterprise_group_id',
     'join_date', 'is_marketing_opt_out']
) }}
