-- Each product scored against each of the seven service requirements (TIE "Target"):
-- a score of 2 or less is a gap, and a gap suggests a new or improved product.
{% set requirements = ['accurate', 'selectable', 'realtime', 'easy_to_obtain',
                       'other_cities', 'proactive', 'timely'] %}

with

products as (

    select * from {{ ref('dim_service_products') }}

),

requirements as (

    select * from {{ ref('service_requirements') }}

),

scores as (

    {% for r in requirements %}
        select
            service_product_code,
            service_product_name,
            category_code,
            '{{ r }}' as requirement_code,
            requirement_{{ r }} as score
        from products
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        scores.service_product_code,
        scores.service_product_name,
        scores.category_code,
        scores.requirement_code,
        requirements.requirement_name,
        requirements.requirement_name_en,
        requirements.requirement_group,
        scores.score,
        scores.score <= 2 as is_gap,
        5 - scores.score as gap_size
    from scores
    inner join requirements on scores.requirement_code = requirements.requirement_code

)

select * from final
