-- The service-product catalogue with its category, need class and requirement scores.
with

products as (

    select * from {{ ref('service_products') }}

),

categories as (

    select * from {{ ref('service_product_categories') }}

),

need_classes as (

    select * from {{ ref('need_classes') }}

),

final as (

    select
        products.service_product_code,
        products.service_product_name,
        products.service_product_name_en,
        products.category_code,
        categories.category_name,
        categories.category_name_en,
        categories.need_class_code,
        need_classes.need_class_name,
        need_classes.need_class_name_en,
        need_classes.is_telecom_core,
        products.launch_date,
        products.requirement_accurate,
        products.requirement_selectable,
        products.requirement_realtime,
        products.requirement_easy_to_obtain,
        products.requirement_other_cities,
        products.requirement_proactive,
        products.requirement_timely
    from products
    inner join categories on products.category_code = categories.category_code
    inner join need_classes on categories.need_class_code = need_classes.need_class_code

)

select * from final
