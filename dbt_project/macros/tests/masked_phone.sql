{#- Every value is a masked mobile number (three digits, four stars, four digits): the
    rows returned are the ones that are not, or that could be a whole number. -#}
{% test masked_phone(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where
        {{ column_name }} is not null
        and (
            length({{ column_name }}) != 11
            or {{ column_name }} not like '1__****____'
        )
{% endtest %}
