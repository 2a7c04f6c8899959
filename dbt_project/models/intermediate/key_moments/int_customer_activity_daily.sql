-- Per customer and business date: hotline calls (and how many were transferred or about
-- the network), outbound contacts received, complaints opened. The windows of the
-- warnings, the contact policy and the dissatisfied pool are sums over this table.
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
    where {{ for_business_date() }}

),

-- opened on the business date: an update of an older complaint re-sent today is not a
-- new complaint
complaints as (

    select * from {{ ref('stg_crm__complaint_versions') }}
    where {{ for_business_date() }} and opened_date = business_date

),

contact_counts as (

    select
        customer_id,
        business_date,
        sum(case when channel = 'hotline' and direction = 'inbound' then contacts else 0 end)
            as hotline_calls,
        sum(
            case
                when channel = 'hotline' and direction = 'inbound' and outcome = 'transferred'
                    then contacts
                else 0
            end
        ) as hotline_transfers,
        sum(
            case
                when channel = 'hotline' and direction = 'inbound' and topic = 'network'
                    then contacts
                else 0
            end
        ) as network_calls,
        sum(case when direction = 'outbound' then contacts else 0 end) as outbound_contacts
    from contacts
    group by customer_id, business_date

),

complaint_counts as (

    select
        customer_id,
        business_date,
        count(*) as complaints_opened
    from complaints
    group by customer_id, business_date

),

final as (

    select
        coalesce(contact_counts.customer_id, complaint_counts.customer_id) as customer_id,
        coalesce(contact_counts.business_date, complaint_counts.business_date)
            as business_date,
        coalesce(contact_counts.hotline_calls, 0) as hotline_calls,
        coalesce(contact_counts.hotline_transfers, 0) as hotline_transfers,
        coalesce(contact_counts.network_calls, 0) as network_calls,
        coalesce(contact_counts.outbound_contacts, 0) as outbound_contacts,
        coalesce(complaint_counts.complaints_opened, 0) as complaints_opened
    from contact_counts
    full outer join complaint_counts
        on contact_counts.customer_id = complaint_counts.customer_id
            and contact_counts.business_date = complaint_counts.business_date

)

{{ select_bigint_counts('final', [
    'hotline_calls',
    'hotline_transfers',
    'network_calls',
    'outbound_contacts'
]) }}
