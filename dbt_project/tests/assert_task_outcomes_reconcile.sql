-- Every target task is executed, pending or never executed; of the executed, the reached
-- ones are at most all, and the offers taken or refused, complaints and opt-outs are
-- among the reached. A row returned is a list date and list that does not add up.
select
    business_date,
    rule_code,
    channel,
    target_tasks,
    executed,
    pending,
    never_executed,
    reached
from {{ ref('fct_key_moment_task_outcomes_daily') }}
where
    {{ for_business_date() }}
    and (
        target_tasks <> executed + pending + never_executed
        or reached + not_reached <> executed
        or accepted + declined + complained + opted_out > reached
    )
