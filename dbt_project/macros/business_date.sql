{#- The business date a daily build processes, as a SQL date literal; none without the var. -#}
{% macro business_date_literal() -%}
    {%- if var('business_date') -%}
        cast('{{ var("business_date") }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- Filter for date-partitioned incremental models: the var's date when given, otherwise
    every date (a full build). -#}
{% macro for_business_date(column='business_date') -%}
    {%- if var('business_date') -%}
        {{ column }} = {{ business_date_literal() }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}
