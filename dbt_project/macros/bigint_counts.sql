{#- `select * from <cte>`, with the `columns` -- counts and sums of counts -- as bigint.

    DuckDB sums integers into a 128-bit HUGEINT, a type Spark does not have; Spark sums
    them into a bigint. A contract declares one portable type per column, so on DuckDB the
    counts are cast back to bigint at the model's last select (a day's counts are far
    below 2^63). -#}
{% macro select_bigint_counts(cte, columns) -%}
    {{ return(adapter.dispatch('select_bigint_counts', 'kairos')(cte, columns)) }}
{%- endmacro %}

{% macro default__select_bigint_counts(cte, columns) -%}
    select * from {{ cte }}
{%- endmacro %}

{% macro duckdb__select_bigint_counts(cte, columns) -%}
    select * replace (
    {%- for column in columns %}
        cast({{ column }} as bigint) as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
    )
    from {{ cte }}
{%- endmacro %}
