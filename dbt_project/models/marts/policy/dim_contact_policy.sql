-- The contact policy's settings (dbt vars in dbt_project.yml) as a one-row table, so
-- that the list gate recomputes the policy from the warehouse with the same figures
-- without reading dbt's configuration files.
{{ config(materialized='table') }}

select
    {{ var('recent_contact_days') }} as recent_contact_days,
    {{ var('contact_cap_per_week') }} as contact_cap_per_week
