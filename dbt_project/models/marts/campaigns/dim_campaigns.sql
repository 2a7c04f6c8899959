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

),

products as (

    select service_product_code, service_product_name, category_code
    from {{ ref('dim_service_products') }}

),

final as (

    select
        latest.campaign_id,
        latest.campaign_name,
        latest.service_product_code,
        products.service_product_name,
        products.category_code,
        latest.campaign_type,
        latest.channel,
        latest.promotion_form,
        latest.gift_type,
        latest.timing_type,
        latest.target_segment,
        latest.start_date,
        latest.end_date,
        latest.business_date as last_reported_date
    from latest
    left join products on latest.service_product_code = products.service_product_code

)

select * from final
