-- Key-moment warnings: per business date, subject and rule of the catalogue
-- (seed warning_rules), the evidence value that fired it. Every rule is one branch of a
-- case over the day's signals, with its parameter and its guards (min_day_of_month,
-- min_data_mb_7d, min_quota_mb, min_tenure_days) read from the seed, so a threshold is
-- tuned in the catalogue, not here.
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail'
) }}

with

subscriber_signals as (

    select * from {{ ref('int_subscriber_daily_signals') }}
    where {{ for_business_date() }}

),

customer_signals as (

    select * from {{ ref('int_customer_daily_signals') }}
    where {{ for_business_date() }}

),

rules as (

    select * from {{ ref('warning_rules') }}

),

subscriber_evidence as (

    select
        s.business_date,
        s.customer_id,
        s.subscriber_id,
        r.rule_code,
        case r.rule_code
            when 'KM01_DATA_QUOTA_RISK'
                then case
                        when s.status = 'active' and s.day_of_month >= r.min_day_of_month
                            and s.projected_data_mb >= r.parameter_value * s.data_quota_mb
                            then s.projected_data_mb
                    end
            when 'KM02_DATA_OVERAGE'
                then case
                        when s.status = 'active' and s.mtd_overage_fee_yuan >= r.parameter_value
                            then s.mtd_overage_fee_yuan
                    end
            when 'KM03_EVENING_HEAVY'
                then case
                        when s.status = 'active' and s.data_mb_7d >= r.min_data_mb_7d
                            and s.evening_share_7d >= r.parameter_value
                            then s.evening_share_7d
                    end
            when 'KM04_PLAN_4G_MIGRATION'
                then case
                        when s.status = 'active'
                            and s.network_generation = '3G'
                            and s.is_device_4g_capable
                            and s.mtd_data_mb >= r.parameter_value * s.data_quota_mb
                            then s.mtd_data_mb / s.data_quota_mb
                    end
            when 'KM05_PLAN_OVERSIZED'
                then case
                        when s.status = 'active'
                            and s.day_of_month >= r.min_day_of_month
                            and s.data_quota_mb >= r.min_quota_mb
                            and s.projected_data_mb < r.parameter_value * s.data_quota_mb
                            then s.projected_data_mb / s.data_quota_mb
                    end
            when 'KM06_LOW_BALANCE'
                then case
                        when s.status = 'active' and s.pay_type = 'prepaid'
                            and s.balance_yuan < r.parameter_value
                            then s.balance_yuan
                    end
            when 'KM07_PAYMENT_DUE'
                then case
                        when s.status = 'active'
                            and s.pay_type = 'postpaid'
                            and s.payments_this_month = 0
                            and {{ dbt.datediff('s.business_date', 's.bill_due_date', 'day') }}
                            between 0 and r.parameter_value
                            then {{ dbt.datediff('s.business_date', 's.bill_due_date', 'day') }}
                    end
            when 'KM08_ARREARS_SUSPENDED'
                then case
                        when s.status = 'suspended_arrears' and s.arrears_yuan >= r.parameter_value
                            then s.arrears_yuan
                    end
            when 'KM09_OLD_DEVICE'
                then case
                        when s.status = 'active' and s.device_age_months >= r.parameter_value
                            and s.device_age_months < r.parameter_value + 1
                            then s.device_age_months
                    end
            when 'KM10_NON_4G_DEVICE'
                then case
                        when s.status = 'active' and not s.is_device_4g_capable
                            and s.is_mobile_internet_active
                            and s.device_age_months >= r.parameter_value
                            then s.device_age_months
                    end
            when 'KM12_CONTRACT_ANNIVERSARY' then case
                    when s.status = 'active' and s.tenure_days >= r.min_tenure_days
                        and s.days_to_contract_anniversary <= r.parameter_value
                        then s.days_to_contract_anniversary
                end
        end as evidence_value,
        concat_ws(
            '; ',
            'status=' || s.status,
            'plan_quota_mb=' || cast(s.data_quota_mb as {{ dbt.type_string() }}),
            'mtd_data_mb=' || {{ decimal_text('s.mtd_data_mb', 1) }},
            'projected_data_mb=' || {{ decimal_text('s.projected_data_mb', 1) }},
            'mtd_overage_yuan='
            || {{ decimal_text('s.mtd_overage_fee_yuan', 2) }},
            'balance_yuan=' || {{ decimal_text('s.balance_yuan', 2) }},
            'evening_share_7d=' || {{ decimal_text('s.evening_share_7d', 2) }},
            'device_age_months=' || cast(s.device_age_months as {{ dbt.type_string() }})
        ) as evidence_detail
    from subscriber_signals as s
    cross join rules as r
    where r.subject = 'subscriber'

),

customer_evidence as (

    select
        c.business_date,
        c.customer_id,
        c.main_subscriber_id as subscriber_id,
        r.rule_code,
        case r.rule_code
            when 'KM11_BIRTHDAY'
                then case
                        when c.days_to_birthday <= r.parameter_value then c.days_to_birthday
                    end
            when 'KM13_REPEATED_HOTLINE'
                then case
                        when c.hotline_calls_30d >= r.parameter_value then c.hotline_calls_30d
                    end
            when 'KM14_UNRESOLVED_COMPLAINT'
                then case
                        when c.open_complaints > 0
                            and c.oldest_open_complaint_days >= r.parameter_value
                            then c.oldest_open_complaint_days
                    end
            when 'KM15_LOW_SATISFACTION' then case
                    when c.min_survey_score_30d < r.parameter_value then c.min_survey_score_30d
                end
        end as evidence_value,
        concat_ws(
            '; ',
            'tier=' || c.customer_tier,
            'days_to_birthday=' || cast(c.days_to_birthday as {{ dbt.type_string() }}),
            'hotline_calls_30d=' || cast(c.hotline_calls_30d as {{ dbt.type_string() }}),
            'open_complaints=' || cast(c.open_complaints as {{ dbt.type_string() }}),
            'min_survey_score_30d=' || cast(c.min_survey_score_30d as {{ dbt.type_string() }})
        ) as evidence_detail
    from customer_signals as c
    cross join rules as r
    where r.subject = 'customer' and c.active_lines > 0

),

fired as (

    select * from subscriber_evidence
    where evidence_value is not null
    union all
    select * from customer_evidence
    where evidence_value is not null

),

final as (

    select
        {{ dbt.hash(dbt.concat(['cast(fired.business_date as ' ~ dbt.type_string() ~ ')', "'|'",
            'fired.rule_code', "'|'", 'cast(fired.subscriber_id as ' ~ dbt.type_string() ~ ')'])) }}
            as warning_key,
        fired.business_date,
        fired.customer_id,
        fired.subscriber_id,
        fired.rule_code,
        rules.warning_type,
        rules.subject,
        cast(fired.evidence_value as double) as evidence_value,
        rules.evidence_unit,
        rules.parameter_name,
        rules.parameter_value,
        fired.evidence_detail,
        rules.service_product_code,
        rules.offer,
        replace(
            rules.script_template,
            '{value}',
            case
                when rules.evidence_unit in ('share', 'share_of_quota', 'yuan')
                    then {{ decimal_text('fired.evidence_value', 2) }}
                else {{ decimal_text('fired.evidence_value', 0) }}
            end
        ) as script
    from fired
    inner join rules
        on fired.rule_code = rules.rule_code

)

select * from final
