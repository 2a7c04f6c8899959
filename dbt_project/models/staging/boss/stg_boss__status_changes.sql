with

source as (

    select * from {{ source('boss', 'boss_status_changes') }}

),

renamed as (

    select
        status_change_id,
        subscriber_id,
        changed_at,
        from_status,
        to_status,
        reason_code,
        reason_text,
        business_date
    from source

),

-- An event re-sent in a later delivery keeps only its latest version.
deduplicated as (

    {{ latest_delivery(
        'renamed',
        source('boss', 'boss_status_changes'),
        ['status_change_id'],
        [
            'status_change_id',
            'subscriber_id',
            'changed_at',
            'from_status',
            'to_status',
            'reason_code',
            'reason_text',
            'business_date'
        ]
    ) }}

)

select * from deduplicated
