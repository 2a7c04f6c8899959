-- Per customer and business date: tier, opt-out, the main line, days to the birthday,
-- hotline calls / transfers / network calls over 30 days, outbound contacts received over
-- 2 and 7 days (contact policy), complaints (opened, still open, lowest resolution
-- satisfaction) and survey scores. Shared by the warnings, the contact policy and the
-- dissatisfied pool; ephemeral, recomputed for the day built.
{{ config(materialized='ephemeral') }}

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

complaints as (

    select * from {{ ref('stg_crm__complaints') }}
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
        count(*) as lines
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
                when activity.business_date > {{ dbt.dateadd('day', -7, 'customers.business_date') }}
                    then activity.outbound_contacts
                else 0
            end
        ) as outbound_contacts_7d,
        sum(
            case
                when activity.business_date > {{ dbt.dateadd('day', -var('recent_contact_days'), 'customers.business_date') }}
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

complaint_state as (

    select
        customers.customer_id,
        customers.business_date,
        sum(
            case
                when complaints.business_date > {{ dbt.dateadd('day', -30, 'customers.business_date') }}
                    then 1
                else 0
            end
        ) as complaints_30d,
        sum(
            case
                when complaints.resolved_at is null
                    and complaints.business_date > {{ dbt.dateadd('day', -30, 'customers.business_date') }}
                    then 1
                else 0
            end
        ) as open_complaints,
        max(
            case
                when complaints.resolved_at is null
                    and complaints.business_date > {{ dbt.dateadd('day', -30, 'customers.business_date') }}
                    then {{ dbt.datediff('complaints.business_date', 'customers.business_date', 'day') }}
            end
        ) as oldest_open_complaint_days,
        min(complaints.resolution_satisfaction) as min_resolution_satisfaction_90d
    from customers
    inner join complaints
        on customers.customer_id = complaints.customer_id
        and complaints.business_date
        between {{ dbt.dateadd('day', -89, 'customers.business_date') }}
        and customers.business_date
    group by customers.customer_id, customers.business_date

),

survey_state as (

    select
        customers.customer_id,
        customers.business_date,
        min(
            case
                when surveys.business_date > {{ dbt.dateadd('day', -30, 'customers.business_date') }}
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

final as (

    select
        customers.customer_id,
        customers.business_date,
        main_lines.main_subscriber_id,
        coalesce(main_lines.lines, 0) as active_lines,
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
        survey_state.min_survey_score_90d
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

)

select * from final
