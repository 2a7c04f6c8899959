{#- dbt-spark's column comment (persist_docs on a view), overridden: a Hive metastore
    keeps at most 256 characters of a column comment (COLUMNS_V2.COMMENT), and a longer
    one makes Spark fail over to its own format after a logged error -- for the view and
    for every table selecting from it, comments propagating. The comment is cut to 256
    characters (the full text stays in the dbt docs site) and escaped for a Spark string
    literal, backslashes as well as quotes. Only dbt-spark calls this macro. -#}
{% macro get_column_comment_sql(column_name, column_dict) -%}
    {%- set description = column_dict[column_name]["description"] if column_name in column_dict else none -%}
    {{ adapter.quote(column_name) }}
    {%- if description %} comment {{ spark_comment_literal(description) }}{% endif -%}
{%- endmacro %}

{% macro spark_comment_literal(text, limit=256) -%}
    {%- set cut = text if text | length <= limit else text[:limit - 1] ~ '…' -%}
    {{- spark_string_literal(cut) -}}
{%- endmacro %}
