{#- A phone manager's call queue on one day (fct_phone_manager_call_allocations): the
    calls deferred the day before first, then by the rule's priority, then the task key;
    the first daily_call_capacity of them are called. `queue` is a relation or subquery
    with business_date, phone_manager_id, is_carried, priority and warning_key; `extra`
    one more partition column (the recursion's day marker). -#}
{% macro call_queue_rank(queue, extra=none) -%}
    row_number() over (
        partition by {{ queue }}.business_date, {{ queue }}.phone_manager_id
            {%- if extra %}, {{ queue }}.{{ extra }}{% endif %}
        order by
            case when {{ queue }}.is_carried then 0 else 1 end,
            {{ queue }}.priority,
            {{ queue }}.warning_key
    )
{%- endmacro %}

{#- What happens to a ranked call: called within capacity; over it, a new task of a
    `defer` rule waits for the next day, anything else (an `sms` rule, or a task already
    deferred once) falls back to an SMS the same day. -#}
{% macro call_allocation(rank, capacity, is_carried, over_capacity) -%}
    case
        when {{ rank }} <= {{ capacity }} then 'called'
        when not {{ is_carried }} and {{ over_capacity }} = 'defer' then 'deferred'
        else 'downgraded'
    end
{%- endmacro %}

{#- Why a deferred task is not called on its new day, if it is not: the contact policy's
    do-not-disturb rules (fct_key_moment_tasks) on that day's signals -- the customer
    has since opted out, complained or been contacted. A customer gone from the day's
    signals is withdrawn too (left). So is one the contact policy gave a new task that
    day (superseded; `superseding` is that day's tasks, dispatched or held out, joined
    on the customer): the policy's one task per customer per day holds for carried
    calls too, and a list names a customer once. -#}
{% macro withdrawn_reason(signals, rules, superseding) -%}
    case
        when {{ signals }}.customer_id is null then 'left'
        when {{ superseding }}.customer_id is not null then 'superseded'
        when {{ rules }}.is_marketing and {{ signals }}.is_marketing_opt_out then 'opt_out'
        when {{ rules }}.suppress_on_open_complaint and {{ signals }}.open_complaints > 0
            then 'open_complaint'
        when {{ rules }}.is_marketing and {{ signals }}.outbound_contacts_recent > 0
            then 'recent_contact'
        when {{ rules }}.is_marketing
            and {{ signals }}.outbound_contacts_7d >= {{ var('contact_cap_per_week') }}
            then 'frequency_cap'
    end
{%- endmacro %}

{#- Whether the engine runs fct_phone_manager_call_allocations' full-build walk: a
    recursive CTE that ranks (row_number) over its own recursive reference. DuckDB does;
    Spark refuses a window over a recursive reference (INVALID_RECURSIVE_REFERENCE). -#}
{% macro recursive_walk_supported() -%}
    {{ return(adapter.dispatch('recursive_walk_supported', 'kairos')()) }}
{%- endmacro %}

{% macro default__recursive_walk_supported() -%}
    {{ return(true) }}
{%- endmacro %}

{% macro spark__recursive_walk_supported() -%}
    {{ return(false) }}
{%- endmacro %}
