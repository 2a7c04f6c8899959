-- What every list member did after the list date, on the rule's goal metric and the
-- guardrails (issue 12, part 2): one row per list date, list and customer, for targets
-- and holdouts alike. The goal (seeds/rule_goals.csv) counts over the goal window after
-- the list date, the guardrails -- a complaint opened, an opt-out asked for, a
-- satisfaction survey and its score -- over rule_guardrail_window_days. Both are counted
-- up to the as-of date only: a window still open is marked, and treated and held-out
-- members of the same list date are always observed for the same days, so comparing them
-- stays fair.
--
-- Targets are counted whether or not CRM reached them (intent to treat): the hash holdout
-- is a random draw from the same members, so the difference of the two groups is the
-- rule's effect; dividing it by the reached share gives the effect per reached customer.
--
-- A daily build of D recomputes only the list dates whose windows may still change: the
-- guardrail window (which holds every goal window: seeds/_seeds.yml tests it) and
-- rule_outcome_settle_days after it, for events delivered late. A list date older than
-- that keeps the row its last rebuild wrote, final since its windows closed -- so the
-- build reads a month of events, not the whole look-back (issue 14, part 4: its memory
-- grew with the look-back). The first build, and a build without a business date, compute
-- the last rule_effect_lookback_days list dates. The table keeps every list date; the rule
-- effect marts read the look-back.
-- rewrites_days_back: a build of D rewrites the partitions of the window before D too
-- (the analysts' snapshot copies them; kairos.snapshot).
{%- set lookback = var('rule_effect_lookback_days') %}
{%- set guard = var('rule_guardrail_window_days') %}
{%- set rewritten = goal_outcome_rewritten_days() %}
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    meta={'rewrites_days_back': rewritten},
    partition_by=['business_date'],
    on_schema_change='fail'
) }}
{%- set days_back = rewritten if is_incremental() else lookback %}
{#- The events read start after the first list date: in a daily build the window's first
    day as a literal, so the scans of the staging views skip earlier dates (their zone
    maps); without a business date, the first list date found. -#}
{%- if business_date() %}
    {%- set since = 'cast(' ~ dbt.dateadd('day', -days_back, business_date_literal()) ~ ' as date)' %}
{%- else %}
    {%- set since = '(select first_day.first_list_date from first_day)' %}
{%- endif %}

with

as_of as (

    select {{ as_of_date(ref('fct_target_list_members')) }} as as_of_date

),

members as (

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
        members.contact_group
    from {{ ref('fct_target_list_members') }} as members
    cross join as_of
    where
        members.business_date < as_of.as_of_date
        and members.business_date >= {{ dbt.dateadd('day', -days_back, 'as_of.as_of_date') }}

),

goals as (

    select * from {{ ref('rule_goals') }}

),

first_day as (

    select min(business_date) as first_list_date from members

),

-- Events on a line (BOSS), from the first list date on.
line_events as (

    select
        subscriber_id,
        cast(event_at as date) as event_date,
        case
            when event_type = 'order' then 'order'
            else 'credit_boot'
        end as event_kind
    from {{ ref('stg_boss__service_product_events') }}
    where
        (event_type = 'order' or (service_product_code = 'SP_CREDIT_BOOT' and event_type = 'use'))
        and business_date > {{ since }}

    union all

    select
        subscriber_id,
        cast(changed_at as date) as event_date,
        'credit_boot' as event_kind
    from {{ ref('stg_boss__status_changes') }}
    where
        reason_code = 'credit_boot'
        and business_date > {{ since }}

    union all

    select
        subscriber_id,
        cast(paid_at as date) as event_date,
        'payment' as event_kind
    from {{ ref('stg_boss__payments') }}
    where business_date > {{ since }}

),

-- Events of a customer (CRM, BI).
customer_events as (

    select
        customer_id,
        cast(contact_at as date) as event_date,
        case when outcome = 'opted_out' then 'opted_out' else 'hotline_call' end as event_kind,
        cast(null as double) as score
    from {{ ref('stg_crm__contacts') }}
    where
        ((channel = 'hotline' and direction = 'inbound') or outcome = 'opted_out')
        and business_date > {{ since }}

    union all

    select distinct
        customer_id,
        opened_date as event_date,
        'complaint' as event_kind,
        cast(null as double) as score
    from {{ ref('stg_crm__complaint_versions') }}
    where opened_date > {{ since }}

    union all

    select distinct
        customer_id,
        cast(resolved_at as date) as event_date,
        'complaint_resolved' as event_kind,
        cast(null as double) as score
    from {{ ref('stg_crm__complaint_versions') }}
    where
        resolved_at is not null
        and cast(resolved_at as date) > {{ since }}

    union all

    select
        customer_id,
        survey_date as event_date,
        'survey' as event_kind,
        cast(overall_score as double) as score
    from {{ ref('stg_bi__satisfaction_surveys') }}
    where business_date > {{ since }}

),

windows as (

    select
        members.*,
        goals.goal_metric,
        goals.goal_window_days,
        {{ dbt.dateadd('day', 'goals.goal_window_days', 'members.business_date') }}
            as goal_window_end,
        {{ dbt.dateadd('day', guard, 'members.business_date') }} as guardrail_window_end,
        as_of.as_of_date
    from members
    inner join goals on members.rule_code = goals.rule_code
    cross join as_of

),

line_hits as (

    select
        windows.business_date,
        windows.list_id,
        windows.customer_id,
        max(case when line_events.event_kind = 'order' then 1 else 0 end) as has_order,
        max(case when line_events.event_kind = 'payment' then 1 else 0 end) as has_payment,
        max(case when line_events.event_kind = 'credit_boot' then 1 else 0 end)
            as has_credit_boot
    from windows
    inner join line_events
        on
            windows.subscriber_id = line_events.subscriber_id
            and windows.business_date < line_events.event_date
            and windows.goal_window_end >= line_events.event_date
            and windows.as_of_date >= line_events.event_date
    group by windows.business_date, windows.list_id, windows.customer_id

),

customer_hits as (

    select
        windows.business_date,
        windows.list_id,
        windows.customer_id,
        max(
            case
                when
                    customer_events.event_kind = 'hotline_call'
                    and customer_events.event_date <= windows.goal_window_end
                    then 1
                else 0
            end
        ) as has_hotline_call,
        max(
            case
                when
                    customer_events.event_kind = 'complaint_resolved'
                    and customer_events.event_date <= windows.goal_window_end
                    then 1
                else 0
            end
        ) as has_complaint_resolved,
        max(
            case
                when
                    customer_events.event_kind = 'complaint'
                    and customer_events.event_date <= windows.goal_window_end
                    then 1
                else 0
            end
        ) as has_complaint_in_goal_window,
        max(case when customer_events.event_kind = 'complaint' then 1 else 0 end)
            as has_complaint,
        max(case when customer_events.event_kind = 'opted_out' then 1 else 0 end)
            as has_opt_out,
        avg(case when customer_events.event_kind = 'survey' then customer_events.score end)
            as survey_score
    from windows
    inner join customer_events
        on
            windows.customer_id = customer_events.customer_id
            and windows.business_date < customer_events.event_date
            and windows.guardrail_window_end >= customer_events.event_date
            and windows.as_of_date >= customer_events.event_date
    group by windows.business_date, windows.list_id, windows.customer_id

),

-- The executed tasks only: every other member is not executed, not reached.
tasks as (

    select
        business_date,
        list_id,
        customer_id,
        is_reached
    from {{ ref('fct_key_moment_task_outcomes') }}
    where execution_status = 'executed' and business_date >= {{ since }}

),

final as (

    select
        windows.business_date,
        windows.list_id,
        windows.customer_id,
        windows.subscriber_id,
        windows.rule_code,
        windows.warning_type,
        windows.channel,
        windows.owner_team,
        windows.customer_tier,
        windows.contact_group,
        windows.goal_metric,
        windows.goal_window_days,
        least(
            {{ dbt.datediff('windows.business_date', 'windows.as_of_date', 'day') }},
            windows.goal_window_days
        ) as goal_days_observed,
        windows.goal_window_end <= windows.as_of_date as is_goal_window_closed,
        least(
            {{ dbt.datediff('windows.business_date', 'windows.as_of_date', 'day') }}, {{ guard }}
        ) as guardrail_days_observed,
        tasks.customer_id is not null as is_executed,
        coalesce(tasks.is_reached, false) as is_reached,
        case windows.goal_metric
            when 'offer_ordered' then coalesce(line_hits.has_order, 0) = 1
            when 'paid' then coalesce(line_hits.has_payment, 0) = 1
            when 'credit_boot_used' then coalesce(line_hits.has_credit_boot, 0) = 1
            when 'no_hotline_call' then coalesce(customer_hits.has_hotline_call, 0) = 0
            when 'complaint_resolved' then coalesce(customer_hits.has_complaint_resolved, 0) = 1
            when 'no_complaint' then coalesce(customer_hits.has_complaint_in_goal_window, 0) = 0
        end as is_goal_met,
        coalesce(customer_hits.has_complaint, 0) = 1 as has_complaint,
        coalesce(customer_hits.has_opt_out, 0) = 1 as has_opted_out,
        customer_hits.survey_score is not null as is_surveyed,
        customer_hits.survey_score
    from windows
    left join line_hits
        on
            windows.business_date = line_hits.business_date
            and windows.list_id = line_hits.list_id
            and windows.customer_id = line_hits.customer_id
    left join customer_hits
        on
            windows.business_date = customer_hits.business_date
            and windows.list_id = customer_hits.list_id
            and windows.customer_id = customer_hits.customer_id
    left join tasks
        on
            windows.business_date = tasks.business_date
            and windows.list_id = tasks.list_id
            and windows.customer_id = tasks.customer_id

)

select * from final
