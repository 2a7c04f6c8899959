-- One dispatched task per customer per day, whatever fired.
select
    business_date,
    customer_id,
    count(*) as n_tasks
from {{ ref('fct_key_moment_tasks') }}
where decision = 'dispatched' and {{ for_business_date() }}
group by business_date, customer_id
having count(*) > 1
