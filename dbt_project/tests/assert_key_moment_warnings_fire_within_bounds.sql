-- Warnings per rule and day within sane bounds of the day's subjects (lines for a line
-- rule, customers for a customer rule): no rule fires on more than half of them, and a
-- date-window rule (max_days_to_*: birthday, contract anniversary) on no more than three
-- times the share its window covers of a year, plus five. An engine that computes a
-- distance wrong fires such a rule on nearly every subject while every key test passes
-- (issue 14: dbt-spark's unbracketed dateadd fired the birthday rule 60 times too often).
with

rules as (

    select
        rule_code,
        subject,
        parameter_name,
        parameter_value
    from {{ ref('warning_rules') }}

),

subjects as (

    select
        business_date,
        'subscriber' as subject,
        count(*) as subjects
    from {{ ref('int_subscriber_daily_signals') }}
    where {{ for_business_date() }}
    group by business_date
    union all
    select
        business_date,
        'customer' as subject,
        count(*) as subjects
    from {{ ref('int_customer_daily_signals') }}
    where {{ for_business_date() }}
    group by business_date

),

fired as (

    select
        business_date,
        rule_code,
        count(*) as warnings
    from {{ ref('fct_key_moment_warnings') }}
    where {{ for_business_date() }}
    group by business_date, rule_code

),

bounded as (

    select
        fired.business_date,
        fired.rule_code,
        fired.warnings,
        subjects.subjects,
        case
            when substr(rules.parameter_name, 1, 12) = 'max_days_to_'
                then 3.0 * (rules.parameter_value + 1) / 365 * subjects.subjects + 5
            else 0.5 * subjects.subjects
        end as ceiling
    from fired
    inner join rules
        on fired.rule_code = rules.rule_code
    left join subjects
        on
            fired.business_date = subjects.business_date
            and rules.subject = subjects.subject

)

select * from bounded
where subjects is null or warnings > ceiling
