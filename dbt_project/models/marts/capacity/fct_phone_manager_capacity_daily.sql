-- Phone managers' day (docs/domain.md#tiers-and-phone-managers): per business date and
-- active manager, the capacity and what became of it. assigned = the call tasks in the
-- manager's queue (the day's and those deferred the day before) = used + deferred +
-- downgraded; used + planned never exceeds the capacity; idle is what neither filled (no
-- eligible customer left); withdrawn counts deferred tasks the contact policy no longer
-- allowed (not assigned).
--
-- And what was done with it: the manager's call sheet (the day's called key-moment calls
-- and planned calls, fct_target_list_members) against CRM's execution of it
-- (fct_key_moment_task_outcomes): sheet_calls = used + planned = executed + pending +
-- never_executed, executed <= capacity. Execution comes in the days after the date, so a
-- daily build of D rebuilds the execution window before D as the task outcomes do.
-- rewrites_days_back: a build of D rewrites the partitions of the window before D too
-- (the analysts' snapshot copies them; kairos.snapshot).
{%- set window = var('task_execution_window_days') %}
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    meta={'rewrites_days_back': var('task_execution_window_days')},
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

managers as (

    select * from {{ ref('stg_crm__phone_managers') }}
    where {{ for_business_date_window('business_date', window) }} and is_active

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
    where {{ for_business_date_window('business_date', window) }}
    group by business_date, phone_manager_id

),

planned as (

    select
        business_date,
        phone_manager_id,
        count(*) filter (where contact_group = 'target') as planned,
        count(*) filter (where contact_group = 'holdout') as planned_holdouts
    from {{ ref('fct_phone_manager_planned_calls') }}
    where {{ for_business_date_window('business_date', window) }}
    group by business_date, phone_manager_id

),

-- the call sheets and what CRM did with them (the first contact executing each call)
sheets as (

    select
        members.business_date,
        members.phone_manager_id,
        count(*) as sheet_calls,
        count(*) filter (where outcomes.execution_status = 'executed') as executed,
        count(*) filter (where outcomes.is_reached) as reached,
        count(*) filter (where outcomes.execution_status = 'pending') as pending,
        count(*) filter (where outcomes.execution_status = 'never_executed') as never_executed
    from {{ ref('fct_target_list_members') }} as members
    left join {{ ref('fct_key_moment_task_outcomes') }} as outcomes
        on
            members.business_date = outcomes.business_date
            and members.list_id = outcomes.list_id
            and members.customer_id = outcomes.customer_id
    where
        {{ for_business_date_window('members.business_date', window) }}
        and members.phone_manager_id is not null
        and members.contact_group = 'target'
    group by members.business_date, members.phone_manager_id

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
        - coalesce(planned.planned, 0) as idle,
        coalesce(sheets.sheet_calls, 0) as sheet_calls,
        coalesce(sheets.executed, 0) as executed,
        coalesce(sheets.reached, 0) as reached,
        coalesce(sheets.pending, 0) as pending,
        coalesce(sheets.never_executed, 0) as never_executed
    from managers
    left join allocations
        on
            managers.business_date = allocations.business_date
            and managers.phone_manager_id = allocations.phone_manager_id
    left join planned
        on
            managers.business_date = planned.business_date
            and managers.phone_manager_id = planned.phone_manager_id
    left join sheets
        on
            managers.business_date = sheets.business_date
            and managers.phone_manager_id = sheets.phone_manager_id

)

select * from final
