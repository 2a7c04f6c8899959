-- The rows of the daily campaign target lists: one row per list, customer and business
-- date, for every task the contact policy dispatched (contact_group 'target') or held out
-- ('holdout'). A list is a rule and a channel (list_id = rule_code__channel).
--
-- Call tasks follow their phone manager's queue (fct_phone_manager_call_allocations): a
-- task deferred today is on tomorrow's list (task_date the day before), one downgraded
-- is on the rule's SMS list; a call carries its phone_manager_id and its place in the
-- manager's day (call_order). The managers' planned marketing calls
-- (fct_phone_manager_planned_calls, targets and holdouts) are the list of the pseudo-rule
-- PC01_PLANNED_CALL and follow the day's key-moment calls on each manager's call sheet:
-- the rows with a phone_manager_id, in call_order, are the manager's call sheet.
--
-- Everything a campaign team's file carries is here but the customer's keyed pseudonym:
-- it needs the secret key, so publishing adds it while it streams this mart into files.
-- The phone number leaves the warehouse only masked (138****1234). The segment is the
-- customer's dissatisfied-pool standing if any, else the first BI tag that describes
-- how to talk to them.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

rules as (

    select * from {{ ref('warning_rules') }}

),

allocations as (

    select * from {{ ref('fct_phone_manager_call_allocations') }}
    where {{ for_business_date() }}

),

policy as (

    select * from {{ ref('fct_key_moment_tasks') }}
    where
        {{ for_business_date_window('business_date', 1) }}
        and decision in ('dispatched', 'holdout')

),

-- the day's tasks but those deferred, and the calls deferred the day before
tasks as (

    select
        policy.business_date,
        policy.business_date as task_date,
        policy.customer_id,
        policy.subscriber_id,
        policy.rule_code,
        policy.warning_type,
        policy.priority,
        policy.customer_tier,
        policy.decision,
        policy.evidence_value,
        policy.evidence_unit,
        policy.evidence_detail,
        policy.service_product_code,
        policy.script,
        coalesce(allocations.channel, policy.channel) as channel,
        case when allocations.allocation = 'called' then allocations.phone_manager_id end
            as phone_manager_id,
        case when allocations.allocation = 'called' then allocations.queue_rank end
            as call_order,
        policy.contact_window
    from policy
    left join allocations
        on
            policy.business_date = allocations.business_date
            and policy.warning_key = allocations.warning_key
    where
        {{ for_business_date('policy.business_date') }}
        and coalesce(allocations.allocation, '') != 'deferred'

    union all

    select
        allocations.business_date,
        allocations.task_date,
        policy.customer_id,
        policy.subscriber_id,
        policy.rule_code,
        policy.warning_type,
        policy.priority,
        policy.customer_tier,
        policy.decision,
        policy.evidence_value,
        policy.evidence_unit,
        policy.evidence_detail,
        policy.service_product_code,
        policy.script,
        allocations.channel,
        case when allocations.allocation = 'called' then allocations.phone_manager_id end
            as phone_manager_id,
        case when allocations.allocation = 'called' then allocations.queue_rank end
            as call_order,
        policy.contact_window
    from allocations
    inner join policy
        on
            allocations.task_date = policy.business_date
            and allocations.warning_key = policy.warning_key
    where allocations.is_carried and allocations.allocation in ('called', 'downgraded')

    union all

    -- the managers' planned calls, after their key-moment calls
    select
        planned.business_date,
        planned.business_date as task_date,
        planned.customer_id,
        planned.subscriber_id,
        planned.rule_code,
        rules.warning_type,
        rules.priority,
        planned.customer_tier,
        case when planned.contact_group = 'holdout' then 'holdout' else 'dispatched' end
            as decision,
        planned.planned_rank as evidence_value,
        rules.evidence_unit,
        'top business preference: ' || coalesce(planned.top_business_preference, 'unknown')
        || '; preferred channel: ' || coalesce(planned.preferred_channel, 'unknown')
            as evidence_detail,
        rules.service_product_code,
        replace(
            rules.script_template,
            '{value}',
            coalesce(taxonomy.preference_name, '我们的服务')
        ) as script,
        'outbound_call' as channel,
        case when planned.contact_group = 'target' then planned.phone_manager_id end
            as phone_manager_id,
        planned.call_order,
        planned.contact_window
    from {{ ref('fct_phone_manager_planned_calls') }} as planned
    inner join rules
        on planned.rule_code = rules.rule_code
    left join {{ ref('preference_taxonomy') }} as taxonomy
        on planned.top_business_preference = taxonomy.preference_code
    where {{ for_business_date('planned.business_date') }}

),

lines as (

    select
        business_date,
        subscriber_id,
        msisdn
    from {{ ref('stg_boss__subscribers') }}
    where {{ for_business_date() }}

),

tags as (

    select
        business_date,
        subscriber_id,
        coalesce(max(case when tag_code = 'price_sensitive' then tag_value end) = '1', false)
            as is_price_sensitive,
        coalesce(max(case when tag_code = 'hotline_preferring' then tag_value end) = '1', false)
            as is_hotline_preferring,
        coalesce(max(case when tag_code = 'web_preferring' then tag_value end) = '1', false)
            as is_web_preferring,
        coalesce(
            max(case when tag_code = 'mobile_internet_active' then tag_value end) = '1', false
        ) as is_mobile_internet_active
    from {{ ref('stg_bi__customer_tags') }}
    where
        {{ for_business_date() }}
        and tag_code in (
            'price_sensitive', 'hotline_preferring', 'web_preferring', 'mobile_internet_active'
        )
    group by business_date, subscriber_id

),

pool as (

    select
        business_date,
        customer_id,
        pool_type
    from {{ ref('fct_dissatisfied_pool_daily') }}
    where {{ for_business_date() }}

),

members as (

    select
        tasks.rule_code || '__' || tasks.channel as list_id,
        tasks.business_date,
        case when tasks.decision = 'holdout' then 'holdout' else 'target' end as contact_group,
        tasks.customer_id,
        tasks.subscriber_id,
        substr(lines.msisdn, 1, 3) || '****' || substr(lines.msisdn, 8, 4) as msisdn_masked,
        tasks.customer_tier,
        case
            when pool.pool_type = 'explicit' then 'explicitly_dissatisfied'
            when pool.pool_type = 'potential' then 'potentially_dissatisfied'
            when tags.is_price_sensitive then 'tariff_sensitive'
            when tags.is_hotline_preferring then 'hotline_preferring'
            when tags.is_web_preferring then 'web_preferring'
            when tags.is_mobile_internet_active then 'mobile_internet_active'
            else 'general'
        end as segment,
        tasks.rule_code,
        rules.rule_name,
        tasks.warning_type,
        tasks.priority,
        {{ round_half_up('tasks.evidence_value', 2) }} as evidence_value,
        tasks.evidence_unit,
        tasks.evidence_detail,
        rules.offer,
        tasks.service_product_code,
        tasks.script,
        tasks.channel,
        tasks.contact_window,
        tasks.phone_manager_id,
        tasks.call_order,
        tasks.task_date,
        rules.owner_team,
        rules.holdout_pct
    from tasks
    inner join rules
        on tasks.rule_code = rules.rule_code
    inner join lines
        on
            tasks.business_date = lines.business_date
            and tasks.subscriber_id = lines.subscriber_id
    left join tags
        on
            tasks.business_date = tags.business_date
            and tasks.subscriber_id = tags.subscriber_id
    left join pool
        on
            tasks.business_date = pool.business_date
            and tasks.customer_id = pool.customer_id

)

{{ select_bigint_counts('members', ['call_order']) }}
