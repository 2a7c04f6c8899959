{#- Every non-null value lies in [min_value, max_value] (either bound may be omitted): a
    sanity check on a derived figure -- a days-to-date that goes negative or past a year,
    a count that explodes. The rows returned are the ones outside. -#}
{% test value_between(model, column_name, min_value=none, max_value=none) %}
    select {{ column_name }}
    from {{ model }}
    where
        {{ column_name }} is not null
        and (
            1 = 0
            {%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
            {%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
        )
{% endtest %}
