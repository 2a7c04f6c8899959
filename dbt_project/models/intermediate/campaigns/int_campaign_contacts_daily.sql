-- Contacts made for each service activity on each business date.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

contacts as (

    select * from {{ ref('int_contacts_daily') }}
    where campaign_id is not null and {{ for_business_date() }}

),

daily as (

    select
        campaign_id,
        business_date,
        sum(contacts) as contacts,
        count(distinct customer_id) as customers_contacted
    from contacts
    group by campaign_id, business_date

)

{{ select_bigint_counts('daily', ['contacts']) }}
