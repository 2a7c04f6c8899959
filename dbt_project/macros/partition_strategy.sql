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

{#- A latest-state-per-key model (one row per key, each day's rows replacing the rows
    of the keys they contain).

    DuckDB upserts the day incrementally with delete+insert. Spark's default Parquet
    tables have no merge, and Delta or Iceberg jars cannot be fetched at run time here,
    so on Spark the model is a table rebuilt from every snapshot up to the business
    date: the same rows, at a cost that grows with history. On a cluster that has Delta,
    set the var spark_file_format: delta to upsert with merge instead. -#}
{% macro upsert_config() -%}
    {{ return(adapter.dispatch('upsert_config', 'kairos')()) }}
{%- endmacro %}

{% macro default__upsert_config() -%}
    {{ return({'materialized': 'incremental', 'incremental_strategy': 'delete+insert'}) }}
{%- endmacro %}

{% macro spark__upsert_config() -%}
    {%- if var('spark_file_format', 'parquet') == 'delta' -%}
        {{ return({'materialized': 'incremental', 'incremental_strategy': 'merge',
                   'file_format': 'delta'}) }}
    {%- endif -%}
    {{ return({'materialized': 'table'}) }}
{%- endmacro %}

{#- The rows a latest-state-per-key model reads: the business date's when it upserts
    incrementally, every date up to it when it is rebuilt as a table. -#}
{% macro for_upsert_date(column='business_date') -%}
    {%- if upsert_config()['materialized'] == 'table' and business_date() -%}
        {{ column }} <= {{ business_date_literal() }}
    {%- else -%}
        {{ for_business_date(column) }}
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of every model: before a date-partitioned model overwrites its business
    date on Spark, drop that partition. Spark's dynamic insert_overwrite replaces only the
    partitions the new rows fall in, so a day whose rebuilt result is empty would keep
    its old rows; DuckDB's delete+insert clears them. Does nothing on DuckDB, on full
    builds and on the first build of a model. -#}
{% macro clear_business_date_partition() -%}
    {{ return(adapter.dispatch('clear_business_date_partition', 'kairos')()) }}
{%- endmacro %}

{% macro default__clear_business_date_partition() -%}
{%- endmacro %}

{% macro spark__clear_business_date_partition() -%}
    {%- if execute and business_date() and is_incremental()
            and config.get('incremental_strategy') == 'insert_overwrite'
            and config.get('partition_by') == ['business_date'] -%}
        alter table {{ this }} drop if exists
            partition (business_date = '{{ business_date() }}')
    {%- endif -%}
{%- endmacro %}
