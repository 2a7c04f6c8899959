-- Every delivered version of every complaint: CRM re-sends a complaint on each day it is
-- updated (current state), so a complaint opened on D-5 and resolved on D-1 has two rows
-- here, delivered on D-5 (open) and on D-1 (resolved). What was known of a complaint on a
-- business date is its latest version delivered on or before that date; its age counts
-- from opened_at, never from a delivery. stg_crm__complaints, built on this model, keeps
-- the latest version only (the complaint's state today).
with

source as (

    select * from {{ source('crm', 'crm_complaints') }}

),

renamed as (

    select
        complaint_id,
        customer_id,
        subscriber_id,
        category,
        severity,
        opened_at,
        resolved_at,
        resolution_satisfaction,
        cast(opened_at as date) as opened_date,
        {{ dbt.datediff('cast(opened_at as date)', 'business_date', 'day') }}
            as age_days_at_delivery,
        business_date
    from source

)

select * from renamed
