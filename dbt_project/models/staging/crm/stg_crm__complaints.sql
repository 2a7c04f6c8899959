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
        business_date
    from source

),

-- An event re-sent in a later delivery keeps only its latest version.
deduplicated as (

    {{ latest_delivery(
        'renamed',
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
