-- Every service activity CRM has reported, as last reported.
with

campaigns as (

    select * from {{ ref('stg_crm__campaigns') }}

),

latest as (

    select *
    from (
        select
            campaigns.*,
            row_number() over (partition by campaign_id order by business_date desc)
                as snapshot_rank
        from campaigns
    ) as ranked
    where snapshot_rank = 1

)

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
    business_date as last_reported_date
from latest
