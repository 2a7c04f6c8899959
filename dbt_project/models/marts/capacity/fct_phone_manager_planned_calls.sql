-- Planned marketing calls (docs/domain.md#tiers-and-phone-managers): a phone manager's
-- capacity left after the day's key-moment calls is filled with calls to their own
-- customers who have no warning that day, chosen by preference. One row per business date,
-- manager and customer chosen: the calls made (contact_group 'target') and the customers
-- held out of them ('holdout'), so the calls' effect is measured like a rule's -- they
-- are the pseudo-rule PC01_PLANNED_CALL of the seed warning_rules (its holdout_pct, owner,
-- approval and goal), on that rule's list and on the manager's call sheet.
--
-- Eligible: the manager's customer that day with no key-moment warning (whatever its
-- decision -- a suppressed warning is a reason not to call either) and no call in the
-- manager's queue, not opted out of marketing, no open complaint, not contacted in the
-- recent-contact window, under the weekly frequency cap. Ranked: those whose strongest
-- channel is the phone manager's call, then those with a known business preference (the
-- offer to talk about), then a stable hash of customer and date (so ties do not always
-- favour the same customers).
--
-- A customer comes up for a planned call once in the rule's cooldown_days: on the day
-- whose number (days since 2000-01-01) modulo the cooldown is their stable bucket. So a
-- target is not called again the next day, and -- what the measurement needs -- a holdout
-- is not met again the next day either: an eligibility that remembered who was called
-- would leave the held-out customers in the pool while the targets leave it, and day by
-- day the holdout would drift to the top of the ranking. Stateless, so a full build and
-- a daily build choose the same calls.
--
-- The holdout: a stable hash of customer and rule, below the rule's holdout_pct, as for
-- every rule. The ranking is walked down until the targets fill the slots (the capacity
-- left times the rule's parameter capacity_left_share); a holdout met on the way is held
-- out and takes no slot. Targets and holdouts are thus one random split of the same top of
-- the ranking, and comparing them measures the calls' effect.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

customers as (

    select * from {{ ref('int_phone_manager_customers') }}
    where {{ for_business_date() }}

),

-- a manager with no customer that day has nobody to plan a call to
managers as (

    select
        business_date,
        phone_manager_id,
        max(daily_call_capacity) as daily_call_capacity
    from customers
    group by business_date, phone_manager_id

),

allocations as (

    select * from {{ ref('fct_phone_manager_call_allocations') }}
    where {{ for_business_date() }}

),

warned as (

    select distinct
        business_date,
        customer_id
    from {{ ref('fct_key_moment_warnings') }}
    where {{ for_business_date() }}

),

signals as (

    select * from {{ ref('int_customer_daily_signals') }}
    where {{ for_business_date() }}

),

preferences as (

    select * from {{ ref('dim_customer_preference_profiles') }}

),

rules as (

    select * from {{ ref('warning_rules') }}
    where rule_code = 'PC01_PLANNED_CALL'

),

slots as (

    select
        managers.business_date,
        managers.phone_manager_id,
        count(allocations.warning_key) filter (where allocations.allocation = 'called')
            as used,
        floor(
            (
                managers.daily_call_capacity
                - count(allocations.warning_key) filter (where allocations.allocation = 'called')
            )
            * max(rules.parameter_value)
        ) as free_slots
    from managers
    cross join rules
    left join allocations
        on
            managers.business_date = allocations.business_date
            and managers.phone_manager_id = allocations.phone_manager_id
    group by managers.business_date, managers.phone_manager_id, managers.daily_call_capacity

),

candidates as (

    select
        customers.business_date,
        customers.phone_manager_id,
        customers.customer_id,
        signals.main_subscriber_id as subscriber_id,
        signals.customer_tier,
        rules.rule_code,
        case
            when {{ stable_bucket(
                "cast(customers.customer_id as " ~ dbt.type_string() ~ ") || '|' || "
                ~ "rules.rule_code",
                100
            ) }} < rules.holdout_pct
                then 'holdout'
            else 'target'
        end as contact_group,
        preferences.top_channel as preferred_channel,
        preferences.top_business_preference,
        coalesce(preferences.best_contact_window, 'any') as contact_window,
        row_number() over (
            partition by customers.business_date, customers.phone_manager_id
            order by
                case when preferences.top_channel = 'outbound_call' then 0 else 1 end,
                case when preferences.top_business_preference is not null then 0 else 1 end,
                {{ stable_bucket(
                    "cast(customers.customer_id as " ~ dbt.type_string() ~ ") || '|' || "
                    ~ "cast(customers.business_date as " ~ dbt.type_string() ~ ")",
                    1000000
                ) }},
                customers.customer_id
        ) as planned_rank
    from customers
    cross join rules
    inner join signals
        on
            customers.business_date = signals.business_date
            and customers.customer_id = signals.customer_id
    left join preferences
        on customers.customer_id = preferences.customer_id
    left join warned
        on
            customers.business_date = warned.business_date
            and customers.customer_id = warned.customer_id
    left join allocations
        on
            customers.business_date = allocations.business_date
            and customers.customer_id = allocations.customer_id
    where
        warned.customer_id is null
        and allocations.customer_id is null
        and not signals.is_marketing_opt_out
        and signals.open_complaints = 0
        and signals.outbound_contacts_recent = 0
        and signals.outbound_contacts_7d < {{ var('contact_cap_per_week') }}
        and signals.active_lines > 0
        and {{ stable_bucket(
            "cast(customers.customer_id as " ~ dbt.type_string() ~ ") || '|due|' || "
            ~ "rules.rule_code",
            "rules.cooldown_days"
        ) }}
        = ({{ dbt.datediff("cast('2000-01-01' as date)", 'customers.business_date', 'day') }})
        % rules.cooldown_days

),

-- the targets up to and including each row, walking the ranking down
walked as (

    select
        *,
        sum(case when contact_group = 'target' then 1 else 0 end) over (
            partition by business_date, phone_manager_id
            order by planned_rank
            rows between unbounded preceding and current row
        ) as targets_so_far
    from candidates

),

final as (

    select
        walked.business_date,
        walked.phone_manager_id,
        walked.customer_id,
        walked.subscriber_id,
        walked.customer_tier,
        walked.rule_code,
        walked.contact_group,
        walked.planned_rank,
        -- the call's place on the manager's call sheet, after the day's key-moment calls
        case
            when walked.contact_group = 'target' then slots.used + walked.targets_so_far
        end as call_order,
        walked.preferred_channel,
        walked.top_business_preference,
        walked.contact_window
    from walked
    inner join slots
        on
            walked.business_date = slots.business_date
            and walked.phone_manager_id = slots.phone_manager_id
    -- a target while the slots last; a holdout met before they ran out
    where
        walked.targets_so_far
        - case when walked.contact_group = 'target' then 1 else 0 end
        < slots.free_slots

)

{{ select_bigint_counts('final', ['call_order']) }}
