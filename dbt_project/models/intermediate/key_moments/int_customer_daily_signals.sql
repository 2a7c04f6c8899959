-- Per customer and business date: tier, opt-out, the main line, days to the birthday,
-- hotline calls / transfers / network calls over 30 days, outbound contacts received over
-- 2 and 7 days (contact policy), complaints (opened, still open, lowest resolution
-- satisfaction) and survey scores; and the dissatisfied pool's line signals: the month's
-- overage fees, falling data use (the last 7 days against the 21 before), suspensions for
-- arrears in 30 days, a star level below its 90-day high. Computed once per day built and
-- kept (incremental): the warnings, the contact policy and the pool read it.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

customers as (

    select * from {{ ref('stg_crm__customers') }}
    where {{ for_business_date() }}

),

subscribers as (

    select * from {{ ref('stg_boss__subscribers') }}
    where status <> 'closed' and {{ for_business_date() }}

),

activity as (

    select * from {{ ref('int_customer_activity_daily') }}
    where {{ for_business_date_window('business_date', 29) }}

),

complaint_versions as (

    select * from {{ ref('stg_crm__complaint_versions') }}
    where {{ for_business_date_window('business_date', 89) }}

),

surveys as (

    select * from {{ ref('stg_bi__satisfaction_surveys') }}
    where {{ for_business_date_window('business_date', 89) }}

),

main_lines as (

    select
        customer_id,
        business_date,
        min(subscriber_id) as main_subscriber_id,
        count(*) as n_lines
    from subscribers
    group by customer_id, business_date

),

recent_activity as (

    select
        customers.customer_id,
        customers.business_date,
        sum(activity.hotline_calls) as hotline_calls_30d,
        sum(activity.hotline_transfers) as hotline_transfers_30d,
        sum(activity.network_calls) as network_calls_30d,
        sum(
            case
                when activity.business_date
                    > {{ dbt.dateadd('day', -7, 'customers.business_date') }}
                    then activity.outbound_contacts
                else 0
            end
        ) as outbound_contacts_7d,
        sum(
            case
                when activity.business_date
                    > {{ dbt.dateadd(
                        'day', -var('recent_contact_days'), 'customers.business_date'
                    ) }}
                    then activity.outbound_contacts
                else 0
            end
        ) as outbound_contacts_recent
    from customers
    inner join activity
        on customers.customer_id = activity.customer_id
            and activity.business_date
            between {{ dbt.dateadd('day', -29, 'customers.business_date') }}
            and customers.business_date
    group by customers.customer_id, customers.business_date

),

-- Each complaint opened in the 90 days up to the customer's date, as it was known on that
-- date: its latest version delivered on or before it. A complaint's age counts from its
-- opening, so an update (re-delivery) neither makes it younger nor hides it on the days
-- before the update.
complaints_as_of as (

    select
        customer_id,
        business_date,
        opened_date,
        resolution_satisfaction,
        coalesce(resolved_at is null or cast(resolved_at as date) > business_date, false)
            as is_open
    from (
        select
            customers.customer_id,
            customers.business_date,
            complaint_versions.opened_date,
            complaint_versions.resolved_at,
            complaint_versions.resolution_satisfaction,
            row_number() over (
                partition by
                    customers.customer_id,
                    customers.business_date,
                    complaint_versions.complaint_id
                order by complaint_versions.business_date desc
            ) as version_rank
        from customers
        inner join complaint_versions
            on customers.customer_id = complaint_versions.customer_id
                and complaint_versions.business_date
                between {{ dbt.dateadd('day', -89, 'customers.business_date') }}
                and customers.business_date
                and complaint_versions.opened_date
                > {{ dbt.dateadd('day', -90, 'customers.business_date') }}
    ) as ranked
    where version_rank = 1

),

complaint_state as (

    select
        customer_id,
        business_date,
        sum(
            case
                when opened_date > {{ dbt.dateadd('day', -30, 'business_date') }} then 1 else 0
            end
        ) as complaints_30d,
        sum(
            case
                when is_open and opened_date > {{ dbt.dateadd('day', -30, 'business_date') }}
                    then 1
                else 0
            end
        ) as open_complaints,
        max(
            case
                when is_open and opened_date > {{ dbt.dateadd('day', -30, 'business_date') }}
                    then {{ dbt.datediff('opened_date', 'business_date', 'day') }}
            end
        ) as oldest_open_complaint_days,
        min(resolution_satisfaction) as min_resolution_satisfaction_90d
    from complaints_as_of
    group by customer_id, business_date

),

survey_state as (

    select
        customers.customer_id,
        customers.business_date,
        min(
            case
                when surveys.business_date
                    > {{ dbt.dateadd('day', -30, 'customers.business_date') }}
                    then surveys.overall_score
            end
        ) as min_survey_score_30d,
        min(surveys.overall_score) as min_survey_score_90d
    from customers
    inner join surveys
        on customers.customer_id = surveys.customer_id
            and surveys.business_date
            between {{ dbt.dateadd('day', -89, 'customers.business_date') }}
            and customers.business_date
    group by customers.customer_id, customers.business_date

),

day_lines as (

    -- every line of the day, whatever its status (arrears suspensions, usage history)
    select * from {{ ref('stg_boss__subscribers') }}
    where {{ for_business_date() }}

),

usage_window as (

    select * from {{ ref('stg_boss__daily_usage') }}
    where {{ for_business_date_window('business_date', 27) }}

),

status_changes as (

    select * from {{ ref('stg_boss__status_changes') }}
    where to_status = 'suspended_arrears' and {{ for_business_date_window('business_date', 29) }}

),

customer_versions as (

    select
        customer_id,
        business_date as valid_from,
        lead(business_date) over (partition by customer_id order by business_date) as valid_to,
        star_level
    from {{ ref('int_customer_versions') }}

),

line_signals as (

    select
        day_lines.customer_id,
        day_lines.business_date,
        max(cast(usage_window.mtd_overage_fee_yuan as double)) as mtd_overage_fee_yuan,
        sum(
            case
                when usage_window.business_date
                    > {{ dbt.dateadd('day', -7, 'day_lines.business_date') }}
                    then cast(usage_window.data_mb as double)
                else 0
            end
        ) as data_mb_last_7d,
        sum(
            case
                when usage_window.business_date
                    <= {{ dbt.dateadd('day', -7, 'day_lines.business_date') }}
                    then cast(usage_window.data_mb as double)
                else 0
            end
        ) / 3 as weekly_data_mb_before,
        count(distinct usage_window.business_date) as usage_days
    from day_lines
    inner join usage_window
        on day_lines.subscriber_id = usage_window.subscriber_id
            and usage_window.business_date
            between {{ dbt.dateadd('day', -27, 'day_lines.business_date') }}
            and day_lines.business_date
    group by day_lines.customer_id, day_lines.business_date

),

arrears as (

    select
        day_lines.customer_id,
        day_lines.business_date,
        count(*) as arrears_suspensions_30d
    from day_lines
    inner join status_changes
        on day_lines.subscriber_id = status_changes.subscriber_id
            and status_changes.business_date
            between {{ dbt.dateadd('day', -29, 'day_lines.business_date') }}
            and day_lines.business_date
    group by day_lines.customer_id, day_lines.business_date

),

star_history as (

    select
        customers.customer_id,
        customers.business_date,
        max(customer_versions.star_level) as max_star_level_90d
    from customers
    inner join customer_versions
        on customers.customer_id = customer_versions.customer_id
            and customers.business_date >= customer_versions.valid_from
            and (
                customer_versions.valid_to is null
                or customer_versions.valid_to
                > {{ dbt.dateadd('day', -90, 'customers.business_date') }}
            )
    group by customers.customer_id, customers.business_date

),

final as (

    select
        customers.customer_id,
        customers.business_date,
        main_lines.main_subscriber_id,
        coalesce(main_lines.n_lines, 0) as active_lines,
        customers.star_level,
        customers.is_vip,
        {{ customer_tier('customers.is_vip', 'customers.star_level') }} as customer_tier,
        customers.is_marketing_opt_out,
        {{ days_to_anniversary('customers.birth_date', 'customers.business_date') }}
            as days_to_birthday,
        coalesce(recent_activity.hotline_calls_30d, 0) as hotline_calls_30d,
        coalesce(recent_activity.hotline_transfers_30d, 0) as hotline_transfers_30d,
        coalesce(recent_activity.network_calls_30d, 0) as network_calls_30d,
        coalesce(recent_activity.outbound_contacts_7d, 0) as outbound_contacts_7d,
        coalesce(recent_activity.outbound_contacts_recent, 0) as outbound_contacts_recent,
        coalesce(complaint_state.complaints_30d, 0) as complaints_30d,
        coalesce(complaint_state.open_complaints, 0) as open_complaints,
        complaint_state.oldest_open_complaint_days,
        complaint_state.min_resolution_satisfaction_90d,
        survey_state.min_survey_score_30d,
        survey_state.min_survey_score_90d,
        coalesce(line_signals.mtd_overage_fee_yuan, 0) as mtd_overage_fee_yuan,
        coalesce(line_signals.usage_days, 0) >= 28
        and line_signals.weekly_data_mb_before >= 100
        and line_signals.data_mb_last_7d < 0.5 * line_signals.weekly_data_mb_before
            as has_falling_usage,
        coalesce(arrears.arrears_suspensions_30d, 0) as arrears_suspensions_30d,
        coalesce(customers.star_level < star_history.max_star_level_90d, false)
            as has_tier_drop
    from customers
    left join main_lines
        on customers.customer_id = main_lines.customer_id
            and customers.business_date = main_lines.business_date
    left join recent_activity
        on customers.customer_id = recent_activity.customer_id
            and customers.business_date = recent_activity.business_date
    left join complaint_state
        on customers.customer_id = complaint_state.customer_id
            and customers.business_date = complaint_state.business_date
    left join survey_state
        on customers.customer_id = survey_state.customer_id
            and customers.business_date = survey_state.business_date
    left join line_signals
        on customers.customer_id = line_signals.customer_id
            and customers.business_date = line_signals.business_date
    left join arrears
        on customers.customer_id = arrears.customer_id
            and customers.business_date = arrears.business_date
    left join star_history
        on customers.customer_id = star_history.customer_id
            and customers.business_date = star_history.business_date

)

{{ select_bigint_counts('final', [
    'hotline_calls_30d',
    'hotline_transfers_30d',
    'network_calls_30d',
    'outbound_contacts_7d',
    'outbound_contacts_recent',
    'complaints_30d',
    'open_complaints'
]) }}
