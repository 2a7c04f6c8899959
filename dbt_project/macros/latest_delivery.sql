{#- Keep one row per key: the one from the latest delivery (largest business_date).

    Written as "no later delivery has this key" rather than a row_number() window, so that
    a query for one business date reads that date and the (few) later ones, not the whole
    history: a daily build's cost stays proportional to the day. The later deliveries are
    looked up in the source table itself (not in a CTE, which DuckDB would materialise in
    full when it is referenced twice). -#}
{% macro latest_delivery(relation, source_relation, key_columns, columns) -%}
    select {% for c in columns %}{{ relation }}.{{ c }}{% if not loop.last %}, {% endif %}{% endfor %}
    from {{ relation }}
    where not exists (
        select 1
        from {{ source_relation }} as later_delivery
        where
            {% for k in key_columns -%}
            later_delivery.{{ k }} = {{ relation }}.{{ k }} and
            {% endfor -%}
            later_delivery.business_date > {{ relation }}.business_date
    )
{%- endmacro %}
