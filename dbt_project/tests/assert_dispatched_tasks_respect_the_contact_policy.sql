-- A dispatched or held-out task never reaches an opted-out customer for marketing, a
-- customer with an open complaint where the rule forbids it, or a customer over the
-- weekly cap; and a holdout is always inside the rule's share.
with

tasks as (

    select * from {{ ref('fct_key_moment_tasks') }}
    where decision in ('dispatched', 'holdout') and {{ for_business_date() }}

),

customers as (

    select * from {{ ref('int_customer_daily_signals') }}

),

rules as (

    select * from {{ ref('warning_rules') }}

)

select tasks.*
from tasks
inner join rules
    on tasks.rule_code = rules.rule_code
left join customers
    on tasks.customer_id = customers.customer_id
        and tasks.business_date = customers.business_date
where
    (rules.is_marketing and customers.is_marketing_opt_out)
    or (rules.suppress_on_open_complaint and customers.open_complaints > 0)
    or (rules.is_marketing and customers.outbound_contacts_7d >= {{ var('contact_cap_per_week') }})
    or (tasks.decision = 'holdout' and tasks.holdout_bucket >= rules.holdout_pct)
