{#- Layers are schemas of their own (staging, intermediate, marts, reference), not
    "<target schema>_<layer>", so analysts see the same names in every environment. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
