{#- The raw layer on an engine that reads the lake (``--target spark``): one external
    Parquet table per source over ``$KAIROS_LAKE/raw/<table>/``, made when missing and
    refreshed so that files written since the last run are seen. Run before a build:
    ``dbt run-operation register_lake_sources --target spark``. -#}
{% macro register_lake_sources() -%}
    {%- set lake = env_var('KAIROS_LAKE', '') -%}
    {%- if not lake -%}
        {{ exceptions.raise_compiler_error("KAIROS_LAKE is not set: it names the folder ingestion writes the raw Parquet files to") }}
    {%- endif -%}
    {%- set schemas = [] -%}
    {%- for node in graph.sources.values() -%}
        {%- if node.schema not in schemas -%}
            {%- do run_query('create database if not exists ' ~ node.schema) -%}
            {%- do schemas.append(node.schema) -%}
        {%- endif -%}
        {%- set location = lake ~ '/raw/' ~ node.identifier -%}
        {%- do run_query('create table if not exists ' ~ node.schema ~ '.' ~ node.identifier ~ " using parquet location '" ~ location ~ "'") -%}
        {%- do run_query('refresh table ' ~ node.schema ~ '.' ~ node.identifier) -%}
        {{ log('lake source ' ~ node.schema ~ '.' ~ node.identifier ~ ' <- ' ~ location, info=true) }}
    {%- endfor -%}
{%- endmacro %}
