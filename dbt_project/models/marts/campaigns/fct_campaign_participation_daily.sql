-- Participation in each service activity as of each business date: targeted, reached,
-- participated, participation rate, and hours from reach to participation.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

members as (

    select * from {{ ref('stg_crm__campaign_members') }}
    where member_group = 'target' and {{ for_business_date() }}

),

participation as (

    select
        business_date,
        campaign_id,
        count(*) as customers_targeted,
        sum(case when reached_at is not null then 1 else 0 end) as customers_reached,
        sum(case when participated_at is not null then 1 else 0 end) as customers_participated,
        avg(
            case when participated_at is not null and reached_at is not null
                    then {{ dbt.datediff('reached_at', 'participated_at', 'hour') }}
            end
        ) as avg_hours_reach_to_participation
    from members
    group by business_date, campaign_id

),

final as (

    select
        participation.*,
        {{ safe_ratio('customers_participated', 'customers_targeted') }} as participation_rate,
        {{ safe_ratio('customers_participated', 'customers_reached') }}
            as participation_rate_of_reached
    from participation

)

{{ select_bigint_counts('final', ['customers_reached', 'customers_participated']) }}
