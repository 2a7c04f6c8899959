{#- numerator / denominator as a double, null when the denominator is 0. (dbt.type_float()
    is a 4-byte float on DuckDB; double is the same type on DuckDB and Spark.) -#}
{% macro safe_ratio(numerator, denominator) -%}
    cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0)
{%- endmacro %}

{#- `value` rounded to `places` decimals, half away from zero, as a double -- the same on
    every engine. Rounding a double directly is not: DuckDB scales the binary value
    (13549.349999999998 * 10 rounds to 135493.5, up), Spark rounds the shortest decimal
    that reads back as the double (13549.349999999998, down). Both agree on the value cast
    to a decimal of six places first. -#}
{% macro round_half_up(value, places) -%}
    cast(round(cast({{ value }} as decimal(38, 6)), {{ places }}) as double)
{%- endmacro %}

{#- `value` rounded as round_half_up, as text with exactly `places` decimals ("0.00"):
    a double's text differs by engine (Spark writes 1.0E7). -#}
{% macro decimal_text(value, places) -%}
    cast(round(cast({{ value }} as decimal(38, 6)), {{ places }}) as {{ dbt.type_string() }})
{%- endmacro %}
