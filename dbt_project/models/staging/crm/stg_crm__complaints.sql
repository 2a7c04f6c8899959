-- Every complaint in its latest delivered version (its state today). Built on
-- stg_crm__complaint_versions, which holds every version; what was known on an earlier
-- business date is read there, not here.
with

versions as (

    select * from {{ ref('stg_crm__complaint_versions') }}

),

-- An event re-sent in a later delivery keeps only its latest version.
deduplicated as (

    {{ latest_delivery(
        'versions',
        source('crm', 'crm_complaints'),
        ['complaint_id'],
        [
            'complaint_id',
            'customer_id',
            'subscriber_id',
            'category',
            'severity',
            'opened_at',
            'resolved_at',
            'resolution_satisfaction',
            'business_date'
        ]
    ) }}

)

select * from deduplicated
