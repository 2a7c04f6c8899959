-- Task outcomes per list date, rule, channel and owner team: how many target tasks the
-- lists held, how many CRM executed, how many are still pending and how many were never
-- executed, and how the executed ones ended -- reached, accepted, declined, not reached,
-- complained, opted out -- with the rates campaign managers read. Holdouts are counted,
-- and any holdout contacted (which spoils the rule's measurement) is shown.
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

with

outcomes as (

    select * from {{ ref('fct_key_moment_task_outcomes') }}
    where {{ for_business_date_window('business_date', var('task_execution_window_days')) }}

),

daily as (

    select
        business_date,
        rule_code,
        channel,
        owner_team,
        sum(case when contact_group = 'target' then 1 else 0 end) as target_tasks,
        sum(case when execution_status = 'executed' then 1 else 0 end) as executed,
        sum(case when execution_status = 'pending' then 1 else 0 end) as pending,
        sum(case when execution_status = 'never_executed' then 1 else 0 end)
            as never_executed,
        sum(case when execution_status = 'executed' and is_reached then 1 else 0 end)
            as reached,
        sum(case when execution_status = 'executed' and is_accepted then 1 else 0 end)
            as accepted,
        sum(case when execution_status = 'executed' and is_declined then 1 else 0 end)
            as declined,
        sum(case when execution_status = 'executed' and is_not_reached then 1 else 0 end)
            as not_reached,
        sum(case when execution_status = 'executed' and is_complained then 1 else 0 end)
            as complained,
        sum(case when execution_status = 'executed' and is_opted_out then 1 else 0 end)
            as opted_out,
        sum(case when contact_group = 'holdout' then 1 else 0 end) as holdouts,
        sum(case when execution_status = 'holdout_contacted' then 1 else 0 end)
            as holdouts_contacted
    from outcomes
    group by business_date, rule_code, channel, owner_team

),

final as (

    select
        *,
        {{ safe_ratio('executed', 'target_tasks') }} as execution_rate,
        {{ safe_ratio('reached', 'executed') }} as reach_rate,
        {{ safe_ratio('accepted', 'reached') }} as acceptance_rate,
        {{ safe_ratio('complained + opted_out', 'reached') }} as complaint_or_opt_out_rate
    from daily

)

{{ select_bigint_counts('final', [
    'target_tasks',
    'executed',
    'pending',
    'never_executed',
    'reached',
    'accepted',
    'declined',
    'not_reached',
    'complained',
    'opted_out',
    'holdouts',
    'holdouts_contacted'
]) }}
