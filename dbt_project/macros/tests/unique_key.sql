{#- A (possibly compound) primary key is unique: the rows returned are the duplicates. -#}
{% test unique_key(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as n_rows
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
