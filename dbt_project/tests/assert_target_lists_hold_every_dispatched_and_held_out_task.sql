-- The list mart holds exactly the tasks the contact policy dispatched or held out, per
-- business date and rule, as the phone managers' queues moved them: less the calls
-- deferred that day, plus those deferred the day before -- and the phone managers'
-- planned calls, targets and holdouts, on their pseudo-rule's list. A task lost in a join (a line
-- missing from the day's subscribers) would silently shorten a list.
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
    union all
    select
        business_date,
        rule_code,
        count(*) as n_tasks
    from {{ ref('fct_phone_manager_planned_calls') }}
    where {{ for_business_date() }}
    group by business_date, rule_code

),

moved as (

    select
        business_date,
        rule_code,
        count(*) filter (where is_carried and allocation in ('called', 'downgraded'))
        - count(*) filter (where not is_carried and allocation = 'deferred') as n_moved
    from {{ ref('fct_phone_manager_call_allocations') }}
    where {{ for_business_date() }}
    group by business_date, rule_code

),

expected as (

    select
        coalesce(tasks.business_date, moved.business_date) as business_date,
        coalesce(tasks.rule_code, moved.rule_code) as rule_code,
        coalesce(tasks.n_tasks, 0) + coalesce(moved.n_moved, 0) as n_tasks
    from tasks
    full outer join moved
        on
            tasks.business_date = moved.business_date
            and tasks.rule_code = moved.rule_code

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
    coalesce(expected.business_date, members.business_date) as business_date,
    coalesce(expected.rule_code, members.rule_code) as rule_code,
    coalesce(expected.n_tasks, 0) as n_tasks,
    coalesce(members.n_members, 0) as n_members
from expected
full outer join members
    on
        expected.business_date = members.business_date
        and expected.rule_code = members.rule_code
where coalesce(expected.n_tasks, 0) != coalesce(members.n_members, 0)
