-- Reach of each service activity as of each business date: targeted, reached (by
-- channel), reach rate, and contacts made per reached customer so far.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}
{% set channels = ['sms', 'mms', 'outbound_call', 'app', 'web', 'store'] %}

with

members as (

    select * from {{ ref('stg_crm__campaign_members') }}
    where member_group = 'target' and {{ for_business_date() }}

),

contacts as (

    select * from {{ ref('int_campaign_contacts_daily') }}

),

reach as (

    select
        business_date,
        campaign_id,
        count(*) as customers_targeted,
        sum(case when reached_at is not null then 1 else 0 end) as customers_reached,
        {% for ch in channels %}
            sum(case when reached_channel = '{{ ch }}' then 1 else 0 end) as reached_by_{{ ch }},
        {% endfor %}
        count(*) - sum(case when reached_at is not null then 1 else 0 end) as customers_not_reached
    from members
    group by business_date, campaign_id

),

contacts_to_date as (

    select
        reach.business_date,
        reach.campaign_id,
        coalesce(sum(contacts.contacts), 0) as contacts_to_date
    from reach
    left join contacts
        on reach.campaign_id = contacts.campaign_id
            and reach.business_date >= contacts.business_date
    group by reach.business_date, reach.campaign_id

),

final as (

    select
        reach.*,
        {{ safe_ratio('reach.customers_reached', 'reach.customers_targeted') }} as reach_rate,
        contacts_to_date.contacts_to_date,
        {{ safe_ratio('contacts_to_date.contacts_to_date', 'reach.customers_reached') }}
            as contacts_per_reached_customer
    from reach
    inner join contacts_to_date
        on reach.business_date = contacts_to_date.business_date
            and reach.campaign_id = contacts_to_date.campaign_id

)

{{ select_bigint_counts('final', [
    'customers_reached',
    'reached_by_sms',
    'reached_by_mms',
    'reached_by_outbound_call',
    'reached_by_app',
    'reached_by_web',
    'reached_by_store',
    'customers_not_reached',
    'contacts_to_date'
]) }}
