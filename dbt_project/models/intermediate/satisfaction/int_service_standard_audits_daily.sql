-- Per business date, customer group and service-standard item: the process audits of
-- the date (docs/domain.md#three-measurements), counted for the groups of the audited
-- customer on that date (brand x tier x ARPU band, family, enterprise, from the
-- customer's first line) and for the city the case was handled in. Built a date at a
-- time: a date's audits meet only that date's profiles, and
-- int_service_standard_compliance adds the window's dates. Its first build takes every
-- date.
{%- set dates = for_business_date() if is_incremental() else '1 = 1' %}
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

audits as (

    select * from {{ ref('stg_bi__process_audits') }}
    where {{ dates }}

),

profiles as (

    select * from {{ ref('int_subscriber_profiles') }}
    where {{ dates }}

),

audited_customers as (

    select distinct
        customer_id,
        business_date
    from audits

),

customer_profiles as (

    -- the customer's attributes on a day, from its first line (brand, tier and ARPU band
    -- are the customer's in BOSS); ranked for the audited customers only
    select
        profiles.customer_id,
        profiles.business_date,
        profiles.brand_code,
        profiles.customer_tier,
        profiles.arpu_band,
        profiles.is_family_member,
        profiles.is_enterprise_member,
        row_number() over (
            partition by profiles.customer_id, profiles.business_date
            order by profiles.subscriber_id
        ) as line_rank
    from profiles
    inner join audited_customers
        on profiles.customer_id = audited_customers.customer_id
            and profiles.business_date = audited_customers.business_date

),

audited as (

    select
        audits.business_date,
        audits.item_code,
        audits.is_compliant,
        audits.elapsed_minutes,
        audits.city,  -- a case's city is where it was handled
        customer_profiles.brand_code,
        customer_profiles.customer_tier,
        customer_profiles.arpu_band,
        customer_profiles.is_family_member,
        customer_profiles.is_enterprise_member
    from audits
    inner join customer_profiles
        on audits.customer_id = customer_profiles.customer_id
            and audits.business_date = customer_profiles.business_date
            and customer_profiles.line_rank = 1

),

audit_groups as (

    {{ customer_groups('audited', 'business_date, item_code, is_compliant, elapsed_minutes') }}

),

daily as (

    select
        business_date,
        group_type,
        group_value,
        item_code,
        count(*) as audits,
        sum(case when is_compliant then 1 else 0 end) as compliant_audits,
        count(elapsed_minutes) as timed_audits,
        coalesce(sum(elapsed_minutes), 0) as elapsed_minutes
    from audit_groups
    group by business_date, group_type, group_value, item_code

)

{%- set counts = ['audits', 'compliant_audits', 'timed_audits', 'elapsed_minutes'] %}

{{ select_bigint_counts('daily', counts) }}
