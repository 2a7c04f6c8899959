-- Phone managers' calls (docs/domain.md#tiers-and-phone-managers): every call task the
-- contact policy dispatched to a VIP or four-star-plus customer goes to the customer's own
-- phone manager, who can make daily_call_capacity calls that day. One row per business date
-- and call task in a manager's queue: the day's new call tasks and the tasks deferred the
-- day before, which go first (macro call_queue_rank). Within capacity a task is called;
-- over it, the rule says (warning_rules.over_capacity): `defer` waits for the next day
-- (once: deferred again, it falls back to SMS), `sms` is an SMS the same day. A deferred
-- task meets the contact policy again on its new day: if the customer has since opted out,
-- complained or been contacted, it is withdrawn (not in the queue, not called).
--
-- Deferral makes a day depend on the day before. A daily build reads the day before's
-- deferrals from this table; a full build walks the dates in order in a recursive CTE
-- (deferrals) with the same queue rule, so both give the same rows; the first daily
-- build of a date has no table yet and no day before (nothing carried). Spark cannot rank
-- inside a recursion, so there it is built date by date only (macro
-- recursive_walk_supported). Rebuilding a date
-- changes what the next date inherits: rebuild the dates after it too (kairos build
-- does).
--
-- A deferred task is also withdrawn (superseded) when the contact policy gave its
-- customer a new task that day: one task per customer per day holds for carried calls
-- too, so a customer is never called twice in a day nor named twice on a list.
--
-- A call task whose customer has no manager that day (no phone_manager_id, or a manager
-- not active in that day's phone_managers -- dates delivered before contract version 3)
-- is not here: it stays a call of the general outbound team, as before.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

{%- set walk = not is_incremental() and not business_date() -%}
{%- if execute and walk and not recursive_walk_supported() -%}
    {{ exceptions.raise_compiler_error(
        "fct_phone_manager_call_allocations walks the dates in a recursion this engine"
        ~ " cannot run: build it date by date (var business_date)") }}
{%- endif %}

with {% if walk %}recursive{% endif %}

managers as (

    select distinct
        business_date,
        phone_manager_id,
        daily_call_capacity
    from {{ ref('int_phone_manager_customers') }}
    where {{ for_business_date() }}

),

customers as (

    select
        business_date,
        customer_id,
        phone_manager_id
    from {{ ref('int_phone_manager_customers') }}
    where {{ for_business_date() }}

),

tasks as (

    select * from {{ ref('fct_key_moment_tasks') }}
    where
        {{ for_business_date() }}
        and decision = 'dispatched'
        and channel = 'outbound_call'

),

rules as (

    select
        rule_code,
        over_capacity,
        is_marketing,
        suppress_on_open_complaint
    from {{ ref('warning_rules') }}

),

-- the customers the contact policy gave a task that day: a deferred call of theirs is
-- superseded (macro withdrawn_reason)
todays_tasks as (

    select distinct
        business_date,
        customer_id
    from {{ ref('fct_key_moment_tasks') }}
    where
        {{ for_business_date() }}
        and decision in ('dispatched', 'holdout')

),

-- a deferred task meets the contact policy again on its new day (macro
-- withdrawn_reason)
signals as (

    select
        business_date,
        customer_id,
        is_marketing_opt_out,
        open_complaints,
        outbound_contacts_recent,
        outbound_contacts_7d
    from {{ ref('int_customer_daily_signals') }}
    where {{ for_business_date() }}

),

-- the day's new call tasks, each with the customer's manager of that day
calls as (

    select
        tasks.business_date,
        tasks.warning_key,
        tasks.business_date as task_date,
        tasks.customer_id,
        tasks.subscriber_id,
        tasks.rule_code,
        tasks.priority,
        customers.phone_manager_id,
        rules.over_capacity,
        false as is_carried
    from tasks
    inner join customers
        on
            tasks.business_date = customers.business_date
            and tasks.customer_id = customers.customer_id
    inner join managers
        on
            customers.business_date = managers.business_date
            and customers.phone_manager_id = managers.phone_manager_id
    inner join rules
        on tasks.rule_code = rules.rule_code

),

days as (

    select distinct business_date from managers

),

{% if walk -%}
-- (only a full build has the walk; sqlfluff would indent it under the if)
-- noqa: disable=LT02
-- per date, the tasks deferred that day, walking the dates in order from a marker row
-- the day before the first; every step ranks the next day's queue
deferrals as (

    select
        {{ dbt.dateadd('day', -1, 'min(days.business_date)') }} as business_date,
        true as is_marker,
        cast(null as {{ dbt.type_string() }}) as warning_key,
        cast(null as date) as task_date,
        cast(null as bigint) as customer_id,
        cast(null as bigint) as subscriber_id,
        cast(null as {{ dbt.type_string() }}) as rule_code,
        cast(null as integer) as priority,
        cast(null as bigint) as phone_manager_id,
        cast(null as {{ dbt.type_string() }}) as over_capacity
    from days

    union all

    select
        ranked.business_date,
        ranked.is_marker,
        ranked.warning_key,
        ranked.task_date,
        ranked.customer_id,
        ranked.subscriber_id,
        ranked.rule_code,
        ranked.priority,
        ranked.phone_manager_id,
        ranked.over_capacity
    from (
        select
            queue.*,
            coalesce(managers.daily_call_capacity, 0) as daily_call_capacity,
            {{ call_queue_rank('queue', 'is_marker') }} as queue_rank
        from (
            -- the next day's new calls
            select
                calls.business_date,
                false as is_marker,
                calls.warning_key,
                calls.task_date,
                calls.customer_id,
                calls.subscriber_id,
                calls.rule_code,
                calls.priority,
                calls.phone_manager_id,
                calls.over_capacity,
                false as is_carried
            from deferrals
            inner join calls
                on
                    deferrals.is_marker
                    and calls.business_date
                    = {{ dbt.dateadd('day', 1, 'deferrals.business_date') }}
            union all
            -- the day before's deferrals, first in the queue
            select
                days.business_date,
                false as is_marker,
                deferrals.warning_key,
                deferrals.task_date,
                deferrals.customer_id,
                deferrals.subscriber_id,
                deferrals.rule_code,
                deferrals.priority,
                deferrals.phone_manager_id,
                deferrals.over_capacity,
                true as is_carried
            from deferrals
            inner join days
                on days.business_date = {{ dbt.dateadd('day', 1, 'deferrals.business_date') }}
            inner join rules
                on deferrals.rule_code = rules.rule_code
            left join signals
                on
                    days.business_date = signals.business_date
                    and deferrals.customer_id = signals.customer_id
            left join todays_tasks
                on
                    days.business_date = todays_tasks.business_date
                    and deferrals.customer_id = todays_tasks.customer_id
            where
                not deferrals.is_marker
                and {{ withdrawn_reason('signals', 'rules', 'todays_tasks') }} is null
            union all
            -- the walk goes on to the last date
            select
                {{ dbt.dateadd('day', 1, 'deferrals.business_date') }} as business_date,
                true as is_marker,
                null as warning_key,
                null as task_date,
                null as customer_id,
                null as subscriber_id,
                null as rule_code,
                null as priority,
                null as phone_manager_id,
                null as over_capacity,
                false as is_carried
            from deferrals
            where
                deferrals.is_marker
                and deferrals.business_date < (select max(days.business_date) from days)
        ) as queue
        left join managers
            on
                queue.business_date = managers.business_date
                and queue.phone_manager_id = managers.phone_manager_id
    ) as ranked
    where
        ranked.is_marker
        or {{ call_allocation(
            'ranked.queue_rank', 'ranked.daily_call_capacity', 'ranked.is_carried',
            'ranked.over_capacity'
        ) }} = 'deferred'

),
-- noqa: enable=LT02
{%- endif %}

-- the tasks deferred the day before: a daily build reads them from this table, a full
-- build from the walk
carried as (

    {% if is_incremental() %}
        select
            {{ business_date_literal() }} as business_date,
            warning_key,
            task_date,
            customer_id,
            subscriber_id,
            rule_code,
            priority,
            phone_manager_id,
            over_capacity,
            true as is_carried
        from {{ this }}
        where
            business_date = {{ dbt.dateadd('day', -1, business_date_literal()) }}
            and allocation = 'deferred'
    {% elif not walk %}
        -- the first build of a single date: nothing carried (calls' columns, no rows)
        select * from calls
        where 1 = 0
    {% else %}
        select
            days.business_date,
            deferrals.warning_key,
            deferrals.task_date,
            deferrals.customer_id,
            deferrals.subscriber_id,
            deferrals.rule_code,
            deferrals.priority,
            deferrals.phone_manager_id,
            deferrals.over_capacity,
            true as is_carried
        from deferrals
        inner join days
            on days.business_date = {{ dbt.dateadd('day', 1, 'deferrals.business_date') }}
        where not deferrals.is_marker
    {% endif %}

),

carried_checked as (

    select
        carried.*,
        {{ withdrawn_reason('signals', 'rules', 'todays_tasks') }} as withdrawn_reason
    from carried
    inner join rules
        on carried.rule_code = rules.rule_code
    left join signals
        on
            carried.business_date = signals.business_date
            and carried.customer_id = signals.customer_id
    left join todays_tasks
        on
            carried.business_date = todays_tasks.business_date
            and carried.customer_id = todays_tasks.customer_id

),

queue as (

    select
        *,
        cast(null as {{ dbt.type_string() }}) as withdrawn_reason
    from calls
    union all
    select * from carried_checked
    where withdrawn_reason is null

),

ranked as (

    select
        queue.*,
        coalesce(managers.daily_call_capacity, 0) as daily_call_capacity,
        {{ call_queue_rank('queue') }} as queue_rank
    from queue
    left join managers
        on
            queue.business_date = managers.business_date
            and queue.phone_manager_id = managers.phone_manager_id

),

queued as (

    select
        business_date,
        warning_key,
        task_date,
        customer_id,
        subscriber_id,
        rule_code,
        priority,
        phone_manager_id,
        daily_call_capacity,
        queue_rank,
        is_carried,
        over_capacity,
        {{ call_allocation('queue_rank', 'daily_call_capacity', 'is_carried', 'over_capacity') }}
            as allocation,
        withdrawn_reason
    from ranked

),

withdrawn as (

    select
        carried_checked.business_date,
        carried_checked.warning_key,
        carried_checked.task_date,
        carried_checked.customer_id,
        carried_checked.subscriber_id,
        carried_checked.rule_code,
        carried_checked.priority,
        carried_checked.phone_manager_id,
        coalesce(managers.daily_call_capacity, 0) as daily_call_capacity,
        cast(null as bigint) as queue_rank,
        carried_checked.is_carried,
        carried_checked.over_capacity,
        'withdrawn' as allocation,
        carried_checked.withdrawn_reason
    from carried_checked
    left join managers
        on
            carried_checked.business_date = managers.business_date
            and carried_checked.phone_manager_id = managers.phone_manager_id
    where carried_checked.withdrawn_reason is not null

),

final as (

    select * from queued
    union all
    select * from withdrawn

)

select
    *,
    case
        when allocation = 'called' then 'outbound_call'
        when allocation = 'downgraded' then 'sms'
    end as channel
from final
