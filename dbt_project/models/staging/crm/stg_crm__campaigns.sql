-- Snapshot extract: the raw table holds exactly one delivery per business_date
-- (the loader replaces a date's partition), so this model only renames and casts.
with

source as (

    select * from {{ source('crm', 'crm_campaigns') }}

),

renamed as (

    select
        campaign_id,
        campaign_name,
        service_product_code,
        campaign_type,
        channel,
        promotion_form,
        gift_type,
        timing_type,
        target_segment,
        start_date,
        end_date,
        business_date
    from source

)

select * from renamed
