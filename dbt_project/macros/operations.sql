{#- `dbt run-operation expect_setting --args '{name: memory_limit, expected: 512.0 MiB}'`:
    fails unless the warehouse connection's setting has the expected value (how the tests
    see that the profile kairos writes reaches DuckDB). -#}
{% macro expect_setting(name, expected) %}
    {%- set value = run_query("select current_setting('" ~ name ~ "')").columns[0].values()[0] -%}
    {%- if value != expected %}
        {{ exceptions.raise_compiler_error(name ~ " is " ~ value ~ ", not " ~ expected) }}
    {%- endif %}
    {{ log(name ~ " = " ~ value, info=true) }}
{% endmacro %}
