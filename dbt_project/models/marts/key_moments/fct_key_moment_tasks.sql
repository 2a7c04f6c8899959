-- The contact policy applied to every warning, before any list exists: per business
-- date and warning, whether it becomes a task (dispatched), is held out to measure its
-- effect (holdout) or is suppressed, and why; the channel and window to use.
--
-- In order: 1. do not disturb -- marketing rules skip opted-out customers; rules that say
-- so skip customers with an open complaint; a warning that also fired in the rule's
-- cooldown days before is the same key moment, not a new one; marketing rules skip a
-- customer contacted in the last `recent_contact_days` days or already contacted
-- `contact_cap_per_week` times in 7 days (CRM's outbound contacts, which include the tasks
-- once executed); 2. one task per customer per day -- of the warnings left, the lowest
-- priority number wins, the others are suppressed as lower_priority; 3. holdout -- the
-- winner is held out (nobody contacts the customer that day) when a stable md5 bucket of
-- (customer, rule) is below the rule's holdout_pct. Holding out after the ranking keeps
-- each rule's holdout share at its holdout_pct: holding out before it would let
-- lower-priority rules lose targets but keep their holdouts. Channel: the rule's fixed
-- channel, else a strong channel preference where the rule allows it and the tier may use
-- it, else the tier's (docs/domain.md#tiers-and-phone-managers): VIP and four-star-plus get
-- a phone-manager call, below four stars an SMS.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

warnings as (

    select * from {{ ref('fct_key_moment_warnings') }}
    where {{ for_business_date() }}

),

earlier_warnings as (

    select * from {{ ref('fct_key_moment_warnings') }}
    where {{ for_business_date_window('business_date', 31) }}

),

customer_signals as (

    select * from {{ ref('int_customer_daily_signals') }}
    where {{ for_business_date() }}

),

rules as (

    select * from {{ ref('warning_rules') }}

),

preferences as (

    select * from {{ ref('dim_customer_preference_profiles') }}

),

cooling as (

    select distinct warnings.warning_key
    from warnings
    inner join rules
        on warnings.rule_code = rules.rule_code
    inner join earlier_warnings
        on warnings.subscriber_id = earlier_warnings.subscriber_id
            and warnings.rule_code = earlier_warnings.rule_code
            and warnings.business_date > earlier_warnings.business_date
            and earlier_warnings.business_date
            >= {{ dbt.dateadd('day', '-rules.cooldown_days', 'warnings.business_date') }}

),

policy as (

    select
        warnings.*,
        rules.priority,
        rules.is_marketing,
        rules.holdout_pct,
        customer_signals.customer_tier,
        {{ stable_bucket(
            "cast(warnings.customer_id as " ~ dbt.type_string() ~ ") || '|' || warnings.rule_code",
            100
        ) }}
            as holdout_bucket,
        case
            when rules.is_marketing and customer_signals.is_marketing_opt_out then 'opt_out'
            when rules.suppress_on_open_complaint and customer_signals.open_complaints > 0
                then 'open_complaint'
            when cooling.warning_key is not null then 'cooldown'
            when rules.is_marketing and customer_signals.outbound_contacts_recent > 0
                then 'recent_contact'
            when rules.is_marketing
                and customer_signals.outbound_contacts_7d >= {{ var('contact_cap_per_week') }}
                then 'frequency_cap'
        end as do_not_disturb_reason,
        -- where the channel comes from, decided once: the rule, the preference or the tier
        case
            when rules.channel_override is not null then 'rule'
            when rules.allow_preferred_channel and preferences.channel_evidence = 'strong'
                and (
                    preferences.top_channel in ('sms', 'mms', 'app')
                    or (
                        preferences.top_channel = 'outbound_call'
                        and customer_signals.customer_tier in ('vip', 'four_star_plus')
                    )
                )
                then 'preference'
            else 'tier'
        end as channel_source,
        rules.channel_override,
        preferences.top_channel as preferred_channel,
        coalesce(preferences.best_contact_window, 'any') as contact_window
    from warnings
    inner join rules
        on warnings.rule_code = rules.rule_code
    left join customer_signals
        on warnings.customer_id = customer_signals.customer_id
            and warnings.business_date = customer_signals.business_date
    left join preferences
        on warnings.customer_id = preferences.customer_id
    left join cooling
        on warnings.warning_key = cooling.warning_key

),

routed as (

    select
        *,
        case
            when channel_source = 'rule' then channel_override
            when channel_source = 'preference' then preferred_channel
            when customer_tier in ('vip', 'four_star_plus') then 'outbound_call'
            else 'sms'
        end as channel
    from policy

),

ranked as (

    select
        *,
        case
            when do_not_disturb_reason is null
                then row_number() over (
                        partition by
                            customer_id,
                            business_date,
                            case when do_not_disturb_reason is null then 1 else 0 end
                        order by priority, subscriber_id
                    )
        end as task_rank
    from routed

),

final as (

    select
        warning_key,
        business_date,
        customer_id,
        subscriber_id,
        rule_code,
        warning_type,
        priority,
        customer_tier,
        case
            when do_not_disturb_reason is not null or task_rank > 1 then 'suppressed'
            when holdout_bucket < holdout_pct then 'holdout'
            else 'dispatched'
        end as decision,
        case
            when do_not_disturb_reason is not null then do_not_disturb_reason
            when task_rank > 1 then 'lower_priority'
        end as suppression_reason,
        holdout_bucket,
        channel,
        channel_source,
        contact_window,
        evidence_value,
        evidence_unit,
        evidence_detail,
        service_product_code,
        offer,
        script
    from ranked

)

select * from final
