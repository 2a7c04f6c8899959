{#- Post-hook of every table: no row key repeats among the rows the build just wrote.

    A model whose key holds a customer or a subscriber declares it as `row_keys` (in its
    YAML: config: meta: row_keys: [[business_date, customer_id]]), not as a primary key:
    DuckDB would keep a primary key's index over every day of history, in memory when it
    writes -- a million rows a day for 30 days: 921 MiB against 211 MiB, and day 30's
    write 8.7x as long (make bench-keys, docs/benchmarks.md). This check reads only the rows written: the
    business date's partitions (the window a model rewrites, meta rewrites_days_back),
    every row in a full build. A repeated key fails the model before its write commits,
    so the rows built before stay as they were; the error names the key and how many
    repeat, never a value. Two empty values count as equal, as in `unique_key`.

    On DuckDB only: elsewhere the model's constraints_hold test checks the row keys. -#}
{% macro assert_row_keys() -%}
    {{ return(adapter.dispatch('assert_row_keys', 'kairos')()) }}
{%- endmacro %}

{% macro default__assert_row_keys() -%}
{%- endmacro %}

{% macro duckdb__assert_row_keys() -%}
    {%- set meta = config.get('meta') or {} -%}
    {%- set keys = meta.get('row_keys') or [] -%}
    {%- if keys and execute -%}
        {%- if is_incremental() and config.get('partition_by') == ['business_date'] -%}
            {%- set written = for_business_date_window('business_date', meta.get('rewrites_days_back', 0)) -%}
        {%- else -%}
            {%- set written = '1 = 1' -%}
        {%- endif %}
        select error(
            'row key (' || row_key || ') repeated: ' || repeated
            || case when repeated = 1 then ' key' else ' keys' end
        )
        from (
        {%- for key in keys %}
            select '{{ key | join(", ") }}' as row_key, count(*) as repeated
            from (
                select 1 from {{ this }}
                where {{ written }}
                group by {{ key | join(', ') }}
                having count(*) > 1
            ) as repeated_keys
            {{ 'union all' if not loop.last }}
        {%- endfor %}
        ) as checked
        where repeated > 0
    {%- endif -%}
{%- endmacro %}
