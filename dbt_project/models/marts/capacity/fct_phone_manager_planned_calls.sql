-- Planned marketing calls (docs/domain.md#tiers-and-phone-managers): a phone manager's
-- capacity left after the day's key-moment calls is filled with calls to their own
-- customers who have no warning that day, chosen by preference. One row per business date,
-- manager and customer called.
--
-- Eligible: the manager's customer that day with no key-moment warning (whatever its
-- decision -- a suppressed warning is a reason not to call either) and no call in the
-- manager's queue, not opted out of marketing, no open complaint, not contacted in the
-- recent-contact window, under the weekly frequency cap. Chosen in order: those whose
-- strongest channel is the phone manager's call, then those with a known business
-- preference (the offer to talk about), then a stable hash of customer and date (so
-- ties do not always favour the same customers).
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

slots as (

    select
        managers.business_date,
        managers.phone_manager_id,
        managers.daily_call_capacity
        - count(allocations.warning_key) filter (where allocations.allocation = 'called')
            as free_slots
    from managers
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

),

final as (

    select
        candidates.business_date,
        candidates.phone_manager_id,
        candidates.customer_id,
        candidates.planned_rank,
        candidates.preferred_channel,
        candidates.top_business_preference,
        candidates.contact_window
    from candidates
    inner join slots
        on
            candidates.business_date = slots.business_date
            and candidates.phone_manager_id = slots.phone_manager_id
    where candidates.planned_rank <= slots.free_slots

)

select * from final
