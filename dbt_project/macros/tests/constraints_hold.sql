{#- The model's declared constraints hold, checked in one scan where the engine did not
    enforce them when the rows were written.

    Every model declares its checks once, as contract constraints in its YAML: not_null,
    check (an accepted set, a range, a mask), unique and primary_key. On DuckDB the
    intermediate models and the marts enforce their contract, so a row that breaks one
    fails the model's own write and this test is disabled there: the build runs one node
    per model. Where nothing enforces them -- the staging views on DuckDB and a table whose
    contract is not enforced (`unenforced`), every model on Spark, whose Parquet tables
    enforce no constraint -- this test checks them all at once.

    Fails with one row of counts, a column per constraint: `<column>__not_null` (rows
    null), `<column>__check_<n>` (rows breaking the column's n-th check),
    `<column>__unique`, `primary_key__duplicates` and `row_key_<n>__repeated` (keys held
    by more than one row; a row key, config meta row_keys, counts empty values as equal:
    see macros/row_keys.sql).
    Only counts: no value of the data reaches the message. -#}
{% test constraints_hold(model, unenforced=false) %}
    {{ config(enabled=(unenforced or target.type != 'duckdb')) }}
    {%- set node = kairos.constrained_node(model) -%}
    {%- set counts = [] -%}
    {%- set keys = [] -%}
    {%- for column in (node.columns.values() if node else []) -%}
        {%- set checks = [] -%}
        {%- for constraint in column.constraints -%}
            {%- if constraint.type == 'not_null' -%}
                {%- do counts.append((column.name ~ '__not_null', column.name ~ ' is null')) -%}
            {%- elif constraint.type == 'check' -%}
                {%- do checks.append(constraint.expression) -%}
                {%- do counts.append((column.name ~ '__check_' ~ (checks | length),
                                      'not (' ~ constraint.expression ~ ')')) -%}
            {%- elif constraint.type in ('unique', 'primary_key') -%}
                {%- do keys.append((column.name ~ '__unique', [column.name])) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for constraint in (node.constraints if node else []) -%}
        {%- if constraint.type == 'primary_key' -%}
            {%- for name in constraint.columns
                  if name ~ '__not_null' not in counts | map(attribute=0) | list -%}
                {%- do counts.append((name ~ '__not_null', name ~ ' is null')) -%}
            {%- endfor -%}
            {%- do keys.append(('primary_key__duplicates', constraint.columns)) -%}
        {%- elif constraint.type == 'unique' -%}
            {%- do keys.append((constraint.columns | join('__') ~ '__unique', constraint.columns)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set row_keys = [] -%}
    {%- for columns in ((node.config.meta or {}).get('row_keys') or [] if node else []) -%}
        {%- do row_keys.append(('row_key_' ~ loop.index ~ '__repeated', columns)) -%}
    {%- endfor %}

    with

    checked as (
        select * from {{ model }}
    ),

    counts as (
        select
            count(*) as rows_checked
        {%- for name, condition in counts %},
            sum(case when {{ condition }} then 1 else 0 end) as {{ name }}
        {%- endfor %}
        from checked
    )
    {%- for name, columns in keys + row_keys %},

    {{ name }} as (
        select count(*) as {{ name }}
        from (
            select {{ columns | join(', ') }}
            from checked
            {%- if (name, columns) in keys %}
            where {{ columns | join(' is not null and ') }} is not null
            {%- endif %}
            group by {{ columns | join(', ') }}
            having count(*) > 1
        ) as repeated
    )
    {%- endfor %}

    select *
    from counts
    {%- for name, columns in keys + row_keys %}
        cross join {{ name }}
    {%- endfor %}
    where
        1 = 0
    {%- for name, condition in counts %}
        or {{ name }} > 0
    {%- endfor %}
    {%- for name, columns in keys + row_keys %}
        or {{ name }} > 0
    {%- endfor %}
{% endtest %}

{#- The model node a generic test's `model` argument stands for: the relation, or the
    day's subquery of it (get_where_subquery), names it. The longest relation name found
    in it wins (`marts.fct_x` is also inside `marts.fct_x_daily`). None while parsing. -#}
{% macro constrained_node(model) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = model | string -%}
    {%- set found = namespace(node=none, length=0) -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model' and node.relation_name
              and node.relation_name in text and node.relation_name | length > found.length -%}
            {%- set found.node = node -%}
            {%- set found.length = node.relation_name | length -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if found.node is none -%}
        {{ exceptions.raise_compiler_error("constraints_hold: no model is named in " ~ text) }}
    {%- endif -%}
    {{ return(found.node) }}
{%- endmacro %}
