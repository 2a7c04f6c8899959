-- Pool movement per business date and pool type: customers in the pool, entered (not
-- pooled the day before), stayed, left (pooled the day before as this type, not today),
-- and how many are targets of a care activity running that day. On the first date in
-- the warehouse every pooled customer counts as entered.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

pool as (

    select * from {{ ref('fct_dissatisfied_pool_daily') }}
    where {{ for_business_date_window('business_date', 1) }}

),

days as (

    select distinct business_date from {{ ref('int_customer_activity_daily') }}
    where {{ for_business_date() }}

),

care_members as (

    select * from {{ ref('int_campaign_members_latest') }}
    where member_group = 'target'

),

care_campaigns as (

    select * from {{ ref('int_campaigns') }}
    where campaign_type = 'care'

),

today as (

    select pool.*
    from pool
    inner join days
        on pool.business_date = days.business_date

),

yesterday as (

    select
        pool.customer_id,
        pool.pool_type,
        days.business_date
    from pool
    inner join days
        on pool.business_date = {{ dbt.dateadd('day', -1, 'days.business_date') }}

),

in_care as (

    select distinct
        today.business_date,
        today.customer_id
    from today
    inner join care_members
        on today.customer_id = care_members.customer_id
    inner join care_campaigns
        on care_members.campaign_id = care_campaigns.campaign_id
            and today.business_date between care_campaigns.start_date and care_campaigns.end_date

),

today_counts as (

    select
        today.business_date,
        today.pool_type,
        count(*) as customers,
        sum(case when yesterday.customer_id is null then 1 else 0 end) as entered,
        sum(case when yesterday.customer_id is not null then 1 else 0 end) as stayed,
        sum(case when in_care.customer_id is not null then 1 else 0 end)
            as in_care_activity
    from today
    left join yesterday
        on today.customer_id = yesterday.customer_id
            and today.business_date = yesterday.business_date
    left join in_care
        on today.customer_id = in_care.customer_id
            and today.business_date = in_care.business_date
    group by today.business_date, today.pool_type

),

left_counts as (

    select
        yesterday.business_date,
        yesterday.pool_type,
        count(*) as left_pool
    from yesterday
    left join today
        on yesterday.customer_id = today.customer_id
            and yesterday.business_date = today.business_date
    where today.customer_id is null
    group by yesterday.business_date, yesterday.pool_type

),

final as (

    select
        coalesce(today_counts.business_date, left_counts.business_date) as business_date,
        coalesce(today_counts.pool_type, left_counts.pool_type) as pool_type,
        coalesce(today_counts.customers, 0) as customers,
        coalesce(today_counts.entered, 0) as entered,
        coalesce(today_counts.stayed, 0) as stayed,
        coalesce(left_counts.left_pool, 0) as left_pool,
        coalesce(today_counts.in_care_activity, 0) as in_care_activity
    from today_counts
    full outer join left_counts
        on today_counts.business_date = left_counts.business_date
            and today_counts.pool_type = left_counts.pool_type

)

{{ select_bigint_counts('final', ['entered', 'stayed', 'in_care_activity']) }}
