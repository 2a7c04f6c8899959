with

source as (

    select * from {{ source('crm', 'crm_contacts') }}

),

renamed as (

    select
        contact_id,
        customer_id,
        subscriber_id,
        channel,
        direction,
        contact_at,
        campaign_id,
        topic,
        outcome,
        task_ref,
        business_date
    from source

),

-- An event re-sent in a later delivery keeps only its latest version.
deduplicated as (

    {{ latest_delivery(
        'renamed',
        source('crm', 'crm_contacts'),
        ['contact_id'],
        [
            'contact_id',
            'customer_id',
            'subscriber_id',
            'channel',
            'direction',
            'contact_at',
            'campaign_id',
            'topic',
            'outcome',
            'task_ref',
            'business_date'
        ]
    ) }}

)

select * from deduplicated
