-- CRM's contacts rolled up once per business date, customer, activity, channel,
-- direction, topic, outcome and hour of the day. The customers' daily activity, their
-- contact responses (preference evidence) and the activities' contact counts all read
-- this rollup instead of the raw contacts.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

contacts as (

    select * from {{ ref('stg_crm__contacts') }}
    where {{ for_business_date() }}

),

daily as (

    select
        business_date,
        customer_id,
        campaign_id,
        channel,
        direction,
        topic,
        outcome,
        extract(hour from contact_at) as contact_hour,
        count(*) as contacts
    from contacts
    group by
        business_date,
        customer_id,
        campaign_id,
        channel,
        direction,
        topic,
        outcome,
        extract(hour from contact_at)

)

select * from daily
