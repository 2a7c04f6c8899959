-- The phone managers' call sheets against what CRM did with them (issue 34, part 5): per
-- business date and manager with a sheet, the calls on it -- the queue's key-moment calls
-- and the planned calls, the fct_target_list_members rows with this phone_manager_id --
-- and how each ended in fct_key_moment_task_outcomes: executed (and reached), pending
-- while the execution window is open, never executed (the window closed with no contact;
-- a sheet that was withheld or never approved is never executed). A test reconciles it
-- with the manager's day (fct_phone_manager_capacity_daily): sheet_calls = used +
-- planned = executed + pending + never_executed, and executed <= capacity.
--
-- Execution comes in the days after the date, so a daily build of D rebuilds the
-- execution window before D, as the task outcomes do.
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

members as (

    select * from {{ ref('fct_target_list_members') }}
    where
        {{ for_business_date_window('business_date', window) }}
        and phone_manager_id is not null
        and contact_group = 'target'

),

outcomes as (

    select * from {{ ref('fct_key_moment_task_outcomes') }}
    where
        {{ for_business_date_window('business_date', window) }}
        and contact_group = 'target'

),

final as (

    select
        members.business_date,
        members.phone_manager_id,
        count(*) as sheet_calls,
        count(*) filter (where members.rule_code != 'PC01_PLANNED_CALL') as key_moment_calls,
        count(*) filter (where members.rule_code = 'PC01_PLANNED_CALL') as planned_calls,
        count(*) filter (where outcomes.execution_status = 'executed') as executed,
        count(*) filter (where outcomes.is_reached) as reached,
        count(*) filter (where outcomes.execution_status = 'pending') as pending,
        count(*) filter (where outcomes.execution_status = 'never_executed') as never_executed
    from members
    left join outcomes
        on
            members.business_date = outcomes.business_date
            and members.list_id = outcomes.list_id
            and members.customer_id = outcomes.customer_id
    group by members.business_date, members.phone_manager_id

)

select * from final
