-- Every call task in a manager's queue is called, deferred or downgraded, and no manager
-- makes more calls than their capacity on any day (key-moment calls plus planned ones).
select *
from {{ ref('fct_phone_manager_capacity_daily') }}
where
    {{ for_business_date() }}
    and (
        assigned != used + deferred + downgraded
        or used + planned > daily_call_capacity
        or carried_in > assigned
    )
