{#- Keep one row per key: the one from the latest delivery (largest business_date). -#}
{% macro latest_delivery(relation, key_columns, columns) -%}
    select {{ columns | join(', ') }}
    from (
        select
            {{ relation }}.*,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by business_date desc
            ) as delivery_rank
        from {{ relation }}
    ) as ranked
    where delivery_rank = 1
{%- endmacro %}
