-- Who calls whom (docs/domain.md#tiers-and-phone-managers): each business date's
-- customers who have a phone manager, and that manager's capacity of calls for the day.
-- A customer whose manager is not active that day (or not in that day's delivery) is not
-- here: their calls stay with the general outbound team. The two phone-manager marts
-- (call allocations and planned calls) read their managers and customers from here.
{{ config(materialized='view') }}

with

managers as (

    select
        business_date,
        phone_manager_id,
        daily_call_capacity
    from {{ ref('stg_crm__phone_managers') }}
    where is_active

),

customers as (

    select
        business_date,
        customer_id,
        phone_manager_id
    from {{ ref('stg_crm__customers') }}
    where phone_manager_id is not null

)

select
    customers.business_date,
    customers.customer_id,
    customers.phone_manager_id,
    managers.daily_call_capacity
from customers
inner join managers
    on
        customers.business_date = managers.business_date
        and customers.phone_manager_id = managers.phone_manager_id
