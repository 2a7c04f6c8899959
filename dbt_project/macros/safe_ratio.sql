{#- numerator / denominator as a double, null when the denominator is 0. -#}
{% macro safe_ratio(numerator, denominator) -%}
    cast({{ numerator }} as {{ dbt.type_float() }})
        / nullif(cast({{ denominator }} as {{ dbt.type_float() }}), 0)
{%- endmacro %}
