{#- None of `columns` is ever null, checked in one scan of the model: a not_null test per
    column scanned it once per column, and those tests were half of a daily build's nodes.
    Fails with one row giving, for each column, how many of its rows are null. -#}
{% test not_null_columns(model, columns) %}
    select
    {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ model }}
    having
    {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) > 0{{ ' or' if not loop.last }}
    {%- endfor %}
{% endtest %}
