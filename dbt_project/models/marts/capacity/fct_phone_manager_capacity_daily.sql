-- Phone managers' day (docs/domain.md#tiers-and-phone-managers): per business date and
-- active manager, the capacity and what became of it. assigned = the call tasks in the
-- manager's queue (the day's and those deferred the day before) = used + deferred +
-- downgraded; used + planned never exceeds the capacity; idle is what neither filled (no
-- eligible customer left); withdrawn counts deferred tasks the contact policy no longer
-- allowed (not assigned). planned counts the planned calls made; the customers held out
-- of them take no capacity (planned_holdouts). What CRM then did with each manager's
-- call sheet is fct_phone_manager_call_sheets_daily, which reconciles with this.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

managers as (

    select * from {{ ref('stg_crm__phone_managers') }}
    where {{ for_business_date() }} and is_active

),

allocations as (

    select
        business_date,
        phone_manager_id,
        count(*) filter (where allocation != 'withdrawn') as assigned,
        count(*) filter (where is_carried and allocation != 'withdrawn') as carried_in,
        count(*) filter (where allocation = 'withdrawn') as withdrawn,
        count(*) filter (where allocation = 'called') as used,
        count(*) filter (where allocation = 'deferred') as deferred,  -- noqa: RF04
        count(*) filter (where allocation = 'downgraded') as downgraded
    from {{ ref('fct_phone_manager_call_allocations') }}
    where {{ for_business_date() }}
    group by business_date, phone_manager_id

),

planned as (

    select
        business_date,
        phone_manager_id,
        count(*) filter (where contact_group = 'target') as planned,
        count(*) filter (where contact_group = 'holdout') as planned_holdouts
    from {{ ref('fct_phone_manager_planned_calls') }}
    where {{ for_business_date() }}
    group by business_date, phone_manager_id

),

final as (

    select
        managers.business_date,
        managers.phone_manager_id,
        managers.city,
        managers.daily_call_capacity,
        coalesce(allocations.assigned, 0) as assigned,
        coalesce(allocations.carried_in, 0) as carried_in,
        coalesce(allocations.withdrawn, 0) as withdrawn,
        coalesce(allocations.used, 0) as used,
        coalesce(allocations.deferred, 0) as deferred,  -- noqa: RF04
        coalesce(allocations.downgraded, 0) as downgraded,
        coalesce(planned.planned, 0) as planned,
        coalesce(planned.planned_holdouts, 0) as planned_holdouts,
        managers.daily_call_capacity
        - coalesce(allocations.used, 0)
        - coalesce(planned.planned, 0) as idle
    from managers
    left join allocations
        on
            managers.business_date = allocations.business_date
            and managers.phone_manager_id = allocations.phone_manager_id
    left join planned
        on
            managers.business_date = planned.business_date
            and managers.phone_manager_id = planned.phone_manager_id

)

select * from final
