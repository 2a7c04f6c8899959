{#- Dates from `days_back` days before the business date to the business date: the
    window a daily model reads; every date in a full build. -#}
{% macro for_business_date_window(column, days_back) -%}
    {%- if business_date() -%}
        {{ column }} between {{ dbt.dateadd('day', -days_back, business_date_literal()) }}
            and {{ business_date_literal() }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- The date a snapshot model describes: the var's date, else the latest date in `relation`. -#}
{% macro as_of_date(relation, column='business_date') -%}
    {%- if business_date() -%}
        {{ business_date_literal() }}
    {%- else -%}
        (select max({{ column }}) from {{ relation }})
    {%- endif -%}
{%- endmacro %}

{#- A stable bucket 0..n-1 from an md5 of the expression: the same customer and rule land
    in the same bucket on every day, every engine and every version (unlike hash()). -#}
{% macro stable_bucket(expr, n) -%}
    {{ return(adapter.dispatch('stable_bucket', 'kairos')(expr, n)) }}
{%- endmacro %}

{% macro default__stable_bucket(expr, n) -%}
    cast(('0x' || substr({{ dbt.hash(expr) }}, 1, 8)) as bigint) % {{ n }}
{%- endmacro %}

{% macro spark__stable_bucket(expr, n) -%}
    cast(conv(substr(md5({{ expr }}), 1, 8), 16, 10) as bigint) % {{ n }}
{%- endmacro %}

{#- Days from `day` to the next anniversary (on or after it) of `origin`; 29 February
    falls on 28 February in other years. The intervals are bracketed here: dbt-spark's
    dateadd multiplies its interval unbracketed, so `a - b` would become `a - b * 12`. -#}
{% macro days_to_anniversary(origin, day) -%}
    {%- set years = '(' ~ dbt.datediff(origin, day, 'year') ~ ')' -%}
    case
        when {{ dbt.dateadd('year', years, origin) }} >= {{ day }}
            then {{ dbt.datediff(day, dbt.dateadd('year', years, origin), 'day') }}
        else {{ dbt.datediff(day, dbt.dateadd('year', '(' ~ years ~ ' + 1)', origin), 'day') }}
    end
{%- endmacro %}
