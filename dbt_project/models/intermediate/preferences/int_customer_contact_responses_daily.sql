-- Outbound contacts with a known response, per customer, business date, channel and
-- contact window: the evidence of channel and timing preferences.
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
    where
        direction = 'outbound'
        and outcome in ('accepted', 'opened', 'declined', 'ignored', 'no_answer')
        and {{ for_business_date() }}

),

windows as (

    select * from {{ ref('contact_windows') }}

),

classified as (

    select
        contacts.customer_id,
        contacts.business_date,
        contacts.channel,
        coalesce(windows.window_code, 'outside_windows') as contact_window,
        contacts.contacts,
        case
            when contacts.outcome in ('accepted', 'opened') then contacts.contacts else 0
        end as responses
    from contacts
    left join windows
        on contacts.contact_hour between windows.start_hour and windows.end_hour

),

daily as (

    select
        customer_id,
        business_date,
        channel,
        contact_window,
        sum(contacts) as contacts,
        sum(responses) as responses
    from classified
    group by customer_id, business_date, channel, contact_window

)

{{ select_bigint_counts('daily', ['contacts', 'responses']) }}
