-- Every call task in a manager's queue is called, deferred or downgraded, and no manager
-- makes more calls than their capacity on any day (key-moment calls plus planned ones).
-- The manager's call sheet holds exactly the calls made and planned, every call on it is
-- executed, pending or never executed, and CRM never executed more than the sheet or the
-- capacity.
with

days as (

    select * from {{ ref('fct_phone_manager_capacity_daily') }}
    where {{ for_business_date_window('business_date', var('task_execution_window_days')) }}

),

sheets as (

    select * from {{ ref('fct_phone_manager_call_sheets_daily') }}
    where {{ for_business_date_window('business_date', var('task_execution_window_days')) }}

)

select
    coalesce(days.business_date, sheets.business_date) as business_date,
    coalesce(days.phone_manager_id, sheets.phone_manager_id) as phone_manager_id
from days
full outer join sheets
    on
        days.business_date = sheets.business_date
        and days.phone_manager_id = sheets.phone_manager_id
where
    days.phone_manager_id is null
    or days.assigned != days.used + days.deferred + days.downgraded
    or days.used + days.planned > days.daily_call_capacity
    or days.carried_in > days.assigned
    or coalesce(sheets.key_moment_calls, 0) != days.used
    or coalesce(sheets.planned_calls, 0) != days.planned
    or coalesce(sheets.sheet_calls, 0)
    != coalesce(sheets.executed, 0) + coalesce(sheets.pending, 0)
    + coalesce(sheets.never_executed, 0)
    or coalesce(sheets.reached, 0) > coalesce(sheets.executed, 0)
    or coalesce(sheets.executed, 0) > days.daily_call_capacity
