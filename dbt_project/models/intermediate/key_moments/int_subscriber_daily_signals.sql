-- Per subscriber and business date, every value a subscriber-level warning rule tests:
-- month-to-date data against the plan and its projection to the month end, overage,
-- balance and arrears, bill due date and this month's payments, evening share of the
-- last 7 days, device age, days to the contract anniversary. Computed once per day built
-- and kept (incremental), so a rule's evidence can be traced back to its signals.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

subscribers as (

    select * from {{ ref('stg_boss__subscribers') }}
    where {{ for_business_date() }}

),

price_plans as (

    select * from {{ ref('stg_boss__price_plans') }}
    where {{ for_business_date() }}

),

usage_today as (

    select * from {{ ref('stg_boss__daily_usage') }}
    where {{ for_business_date() }}

),

usage_window as (

    select * from {{ ref('stg_boss__daily_usage') }}
    where {{ for_business_date_window('business_date', 6) }}

),

balances as (

    select * from {{ ref('stg_boss__daily_balances') }}
    where {{ for_business_date() }}

),

payments as (

    select * from {{ ref('stg_boss__payments') }}
    where {{ for_business_date_window('business_date', 30) }}

),

tags as (

    select * from {{ ref('stg_bi__customer_tags') }}
    where
        tag_code in ('device_age_months', 'device_4g_capable', 'mobile_internet_active')
        and {{ for_business_date() }}

),

evening as (

    select
        subscribers.subscriber_id,
        subscribers.business_date,
        sum(usage_window.data_mb) as data_mb_7d,
        sum(usage_window.evening_data_mb) as evening_data_mb_7d
    from subscribers
    inner join usage_window
        on subscribers.subscriber_id = usage_window.subscriber_id
            and usage_window.business_date
            between {{ dbt.dateadd('day', -6, 'subscribers.business_date') }}
            and subscribers.business_date
    group by subscribers.subscriber_id, subscribers.business_date

),

month_payments as (

    select
        subscribers.subscriber_id,
        subscribers.business_date,
        count(*) as payments_this_month
    from subscribers
    inner join payments
        on subscribers.subscriber_id = payments.subscriber_id
            and payments.business_date
            between {{ dbt.date_trunc('month', 'subscribers.business_date') }}
            and subscribers.business_date
    group by subscribers.subscriber_id, subscribers.business_date

),

device as (

    select
        subscriber_id,
        business_date,
        max(
            case
                when tag_code = 'device_age_months'
                    then {{ dbt.safe_cast('tag_value', 'integer') }}
            end
        )
            as device_age_months,
        max(case when tag_code = 'device_4g_capable' then tag_value end) = '1'
            as is_device_4g_capable,
        max(case when tag_code = 'mobile_internet_active' then tag_value end) = '1'
            as is_mobile_internet_active
    from tags
    group by subscriber_id, business_date

),

signals as (

    select
        subscribers.subscriber_id,
        subscribers.customer_id,
        subscribers.business_date,
        subscribers.pay_type,
        subscribers.status,
        subscribers.activation_date,
        price_plans.network_generation,
        price_plans.data_quota_mb,
        cast(usage_today.mtd_data_mb as double) as mtd_data_mb,
        cast(usage_today.mtd_overage_fee_yuan as double) as mtd_overage_fee_yuan,
        extract(day from subscribers.business_date) as day_of_month,
        {{ dbt.datediff(dbt.date_trunc('month', 'subscribers.business_date'),
            dbt.dateadd('month', 1, dbt.date_trunc('month', 'subscribers.business_date')),
            'day') }} as days_in_month,
        cast(balances.balance_yuan as double) as balance_yuan,
        cast(balances.arrears_yuan as double) as arrears_yuan,
        balances.bill_due_date,
        coalesce(month_payments.payments_this_month, 0) as payments_this_month,
        cast(evening.data_mb_7d as double) as data_mb_7d,
        {{ safe_ratio('evening.evening_data_mb_7d', 'evening.data_mb_7d') }}
            as evening_share_7d,
        device.device_age_months,
        device.is_device_4g_capable,
        device.is_mobile_internet_active,
        {{ days_to_anniversary('subscribers.activation_date', 'subscribers.business_date') }}
            as days_to_contract_anniversary,
        {{ dbt.datediff('subscribers.activation_date', 'subscribers.business_date', 'day') }}
            as tenure_days
    from subscribers
    left join price_plans
        on subscribers.price_plan_id = price_plans.price_plan_id
            and subscribers.business_date = price_plans.business_date
    left join usage_today
        on subscribers.subscriber_id = usage_today.subscriber_id
            and subscribers.business_date = usage_today.business_date
    left join balances
        on subscribers.subscriber_id = balances.subscriber_id
            and subscribers.business_date = balances.business_date
    left join month_payments
        on subscribers.subscriber_id = month_payments.subscriber_id
            and subscribers.business_date = month_payments.business_date
    left join evening
        on subscribers.subscriber_id = evening.subscriber_id
            and subscribers.business_date = evening.business_date
    left join device
        on subscribers.subscriber_id = device.subscriber_id
            and subscribers.business_date = device.business_date

),

final as (

    select
        *,
        mtd_data_mb / day_of_month * days_in_month as projected_data_mb
    from signals

)

select * from final
