{#- How a date-partitioned incremental model replaces its date: delete+insert on DuckDB,
    insert_overwrite of the business_date partition on Spark. -#}
{% macro partition_strategy() -%}
    {{ return(adapter.dispatch('partition_strategy', 'kairos')()) }}
{%- endmacro %}

{% macro default__partition_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__partition_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{#- Upserting by key (latest state per key): delete+insert on DuckDB, merge on Spark. -#}
{% macro upsert_strategy() -%}
    {{ return(adapter.dispatch('upsert_strategy', 'kairos')()) }}
{%- endmacro %}

{% macro default__upsert_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__upsert_strategy() -%}
    {{ return('merge') }}
{%- endmacro %}
