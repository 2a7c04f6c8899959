-- The list mart holds exactly the tasks the contact policy dispatched or held out, per
-- business date and rule: a task lost in a join (a line missing from the day's
-- subscribers) would silently shorten a list.
with

tasks as (

    select
        business_date,
        rule_code,
        count(*) as n_tasks
    from {{ ref('fct_key_moment_tasks') }}
    where
        {{ for_business_date() }}
        and decision in ('dispatched', 'holdout')
    group by business_date, rule_code

),

members as (

    select
        business_date,
        rule_code,
        count(*) as n_members
    from {{ ref('fct_target_list_members') }}
    where {{ for_business_date() }}
    group by business_date, rule_code

)

select
    coalesce(tasks.business_date, members.business_date) as business_date,
    coalesce(tasks.rule_code, members.rule_code) as rule_code,
    coalesce(tasks.n_tasks, 0) as n_tasks,
    coalesce(members.n_members, 0) as n_members
from tasks
full outer join members
    on
        tasks.business_date = members.business_date
        and tasks.rule_code = members.rule_code
where coalesce(tasks.n_tasks, 0) != coalesce(members.n_members, 0)
