-- What happened to every task Kairos put on a target list (issue 12: closing the loop).
-- One row per list, customer and list date, for targets and holdouts alike. CRM marks
-- the contact that executes a task with task_ref = 'YYYYMMDD:list_id' (contract version
-- 2); the contact's customer names the task. A target is executed when such a contact
-- comes within task_execution_window_days after the list date, pending until the window
-- has passed, never executed after it (a list the gate withheld is never executed). A
-- holdout must never be contacted: one that was is marked, and a test warns of it.
--
-- A daily build of D recomputes the list dates of the window before D (their contacts
-- may still arrive), so it is incremental over a trailing window.
-- rewrites_days_back: a build of D rewrites the partitions of the window before D too
-- (the analysts' snapshot copies them; kairos.snapshot).
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    meta={'rewrites_days_back': var('task_execution_window_days')},
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

{%- set window = var('task_execution_window_days') %}

with

members as (

    select * from {{ ref('fct_target_list_members') }}
    where {{ for_business_date_window('business_date', window) }}

),

contacts as (

    select * from {{ ref('stg_crm__contacts') }}
    where task_ref is not null and {{ for_business_date_window('business_date', window) }}

),

executions as (

    select
        customer_id,
        cast(
            substr(task_ref, 1, 4) || '-' || substr(task_ref, 5, 2) || '-' || substr(task_ref, 7, 2)
            as date
        ) as list_date,
        substr(task_ref, 10) as list_id,
        contact_at,
        business_date as executed_on,
        outcome,
        row_number() over (
            partition by customer_id, task_ref order by contact_at, contact_id
        ) as attempt
    from contacts

),

first_execution as (

    select
        customer_id,
        list_date,
        list_id,
        contact_at,
        executed_on,
        outcome
    from executions
    where attempt = 1

),

attempts as (

    select
        customer_id,
        list_date,
        list_id,
        count(*) as contacts
    from executions
    group by customer_id, list_date, list_id

),

as_of as (

    select {{ as_of_date(ref('fct_target_list_members')) }} as as_of_date

),

final as (

    select
        members.business_date,
        members.list_id,
        members.customer_id,
        members.subscriber_id,
        members.rule_code,
        members.warning_type,
        members.channel,
        members.owner_team,
        members.customer_tier,
        members.contact_group,
        first_execution.executed_on,
        first_execution.contact_at as executed_at,
        {{ dbt.datediff('members.business_date', 'first_execution.executed_on', 'day') }}
            as days_to_execution,
        coalesce(attempts.contacts, 0) as contacts,
        first_execution.outcome,
        case
            when members.contact_group = 'holdout' and first_execution.outcome is not null
                then 'holdout_contacted'
            when members.contact_group = 'holdout' then 'holdout'
            when first_execution.outcome is not null then 'executed'
            when {{ dbt.dateadd('day', window, 'members.business_date') }} <= as_of.as_of_date
                then 'never_executed'
            else 'pending'
        end as execution_status,
        coalesce(first_execution.outcome not in ('no_answer', 'ignored'), false) as is_reached,
        coalesce(first_execution.outcome = 'accepted', false) as is_accepted,
        coalesce(first_execution.outcome = 'declined', false) as is_declined,
        coalesce(first_execution.outcome in ('no_answer', 'ignored'), false) as is_not_reached,
        coalesce(first_execution.outcome = 'complained', false) as is_complained,
        coalesce(first_execution.outcome = 'opted_out', false) as is_opted_out
    from members
    cross join as_of
    left join first_execution
        on
            members.customer_id = first_execution.customer_id
            and members.business_date = first_execution.list_date
            and members.list_id = first_execution.list_id
    left join attempts
        on
            members.customer_id = attempts.customer_id
            and members.business_date = attempts.list_date
            and members.list_id = attempts.list_id

)

select * from final
