-- Events extract (contract version 4); dates delivered before it have no rows.
with

source as (

    select * from {{ source('bi', 'bi_process_audits') }}

),

renamed as (

    select
        audit_id,
        audit_date,
        process,
        customer_id,
        city,
        item_code,
        is_compliant,
        elapsed_minutes,
        business_date
    from source

),

-- An event re-sent in a later delivery keeps only its latest version.
deduplicated as (

    {{ latest_delivery(
        'renamed',
        source('bi', 'bi_process_audits'),
        ['audit_id', 'item_code'],
        [
            'audit_id',
            'audit_date',
            'process',
            'customer_id',
            'city',
            'item_code',
            'is_compliant',
            'elapsed_minutes',
            'business_date'
        ]
    ) }}

)

select * from deduplicated
