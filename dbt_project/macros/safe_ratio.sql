{#- numerator / denominator as a double, null when the denominator is 0. (dbt.type_float()
    is a 4-byte float on DuckDB; double is the same type on DuckDB and Spark.) -#}
{% macro safe_ratio(numerator, denominator) -%}
    cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0)
{%- endmacro %}
