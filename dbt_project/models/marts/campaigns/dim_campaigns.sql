-- Every service activity CRM has reported, as last reported, with its service product.
with

campaigns as (

    select * from {{ ref('int_campaigns') }}

),

products as (

    select
        service_product_code,
        service_product_name,
        category_code
    from {{ ref('dim_service_products') }}

),

final as (

    select
        campaigns.campaign_id,
        campaigns.campaign_name,
        campaigns.service_product_code,
        products.service_product_name,
        products.category_code,
        campaigns.campaign_type,
        campaigns.channel,
        campaigns.promotion_form,
        campaigns.gift_type,
        campaigns.timing_type,
        campaigns.target_segment,
        campaigns.start_date,
        campaigns.end_date,
        campaigns.last_reported_date
    from campaigns
    left join products on campaigns.service_product_code = products.service_product_code

)

select * from final
