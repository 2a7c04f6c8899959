{#- The business date a daily build processes, 'YYYY-MM-DD', or none in a full build.

    Given by the var business_date (dbt run by hand: --vars '{business_date: ...}'), else
    by the environment variable KAIROS_BUSINESS_DATE, which Kairos sets around each of its
    dbt runs. The variable is read only when executing, never while parsing: dbt's
    partial parsing keys on the vars and on the environment variables read at parse time,
    so a date passed with --vars, changing every day, made each day's first run parse the
    whole project again (5 s). Every model therefore parses as a full build would, and
    anything that depends on the date is decided when the node runs. -#}
{% macro business_date() -%}
    {%- set given = var('business_date', none) -%}
    {%- if not given and execute -%}
        {%- set given = env_var('KAIROS_BUSINESS_DATE', '') -%}
    {%- endif -%}
    {%- if not given -%}
        {{ return(none) }}
    {%- endif -%}
    {#- a date and nothing else reaches the SQL (fromisoformat refuses anything else) -#}
    {{ return(modules.datetime.date.fromisoformat(given | string).isoformat()) }}
{%- endmacro %}

{#- The business date as a SQL date literal; none without one. -#}
{% macro business_date_literal() -%}
    {%- if business_date() -%}
        cast('{{ business_date() }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- Filter for date-partitioned incremental models: the business date when given,
    otherwise every date (a full build). -#}
{% macro for_business_date(column='business_date') -%}
    {%- if business_date() -%}
        {{ column }} = {{ business_date_literal() }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- The filters of the tests that check only what a daily build wrote. The YAML names one
    (config where: "kairos_filter: <name>") and it is written here when the test runs:
    a filter using the date in the YAML itself would be rendered at parse time.

    - business date: the rows of the business date.
    - rewritten outcome dates: the list dates fct_key_moment_goal_outcomes rewrites.
    Each is every row in a full build. -#}
{% macro dated_test_filter(name) -%}
    {%- set day = business_date() -%}
    {%- if not day -%}
        {{ return('1 = 1') }}
    {%- elif name == 'business date' -%}
        {{ return('business_date = ' ~ business_date_literal()) }}
    {%- elif name == 'rewritten outcome dates' -%}
        {%- set first = modules.datetime.date.fromisoformat(day)
                - modules.datetime.timedelta(days=goal_outcome_rewritten_days()) -%}
        {{ return("business_date >= cast('" ~ first.isoformat() ~ "' as date)") }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error("unknown test filter " ~ name) }}
{%- endmacro %}

{#- dbt's own macro, with the named filters above: a test's where of
    "kairos_filter: <name>" becomes that filter; any other where is kept as written. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and where.startswith('kairos_filter:') -%}
        {%- set where = dated_test_filter(where.split(':', 1)[1] | trim) -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
