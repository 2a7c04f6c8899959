-- Every call task in a manager's queue is called, deferred or downgraded, and no manager
-- makes more calls than their capacity on any day (key-moment calls plus planned ones).
-- The call sheet holds exactly the calls made and planned, every call on it is executed,
-- pending or never executed, and CRM never executed more than the sheet or the capacity.
select *
from {{ ref('fct_phone_manager_capacity_daily') }}
where
    {{ for_business_date_window('business_date', var('task_execution_window_days')) }}
    and (
        assigned != used + deferred + downgraded
        or used + planned > daily_call_capacity
        or carried_in > assigned
        or sheet_calls != used + planned
        or sheet_calls != executed + pending + never_executed
        or reached > executed
        or executed > daily_call_capacity
    )
