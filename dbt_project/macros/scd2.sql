{#- Versions of a daily snapshot: one row each time an entity's tracked attributes change.

    A daily build (var business_date set) compares that day's rows with the entity's
    latest version before the day in this model itself, so its cost follows the number of
    entities, not the number of days kept. A full build derives every version from all
    days with lag(). Dates must be built in order: rebuilding an earlier date means
    rebuilding every later date after it, in order (build_warehouse and `kairos build
    --date` do that), or a --full-refresh. -#}
{% macro scd2_versions(daily_relation, key, attributes) -%}
    {%- set fingerprint = dbt.hash(dbt.concat(attributes_as_text(attributes))) -%}
    with

    daily as (

        select
            {{ key }},
            business_date,
            {{ attributes | join(',\n            ') }},
            {{ fingerprint }} as attributes_hash
        from {{ daily_relation }}
        where {{ for_business_date() }}

    ),

    {% if is_incremental() and business_date() %}

    previous as (

        select {{ key }}, attributes_hash
        from (
            select
                {{ key }},
                attributes_hash,
                row_number() over (partition by {{ key }} order by business_date desc) as version_rank
            from {{ this }}
            where business_date < {{ business_date_literal() }}
        ) as ranked
        where version_rank = 1

    ),

    changed as (

        select daily.*
        from daily
        left join previous on daily.{{ key }} = previous.{{ key }}
        where previous.attributes_hash is null
            or previous.attributes_hash != daily.attributes_hash

    )

    {% else %}

    changed as (

        select *
        from (
            select
                daily.*,
                lag(attributes_hash) over (partition by {{ key }} order by business_date) as previous_hash
            from daily
        ) as compared
        where previous_hash is null or previous_hash != attributes_hash

    )

    {% endif %}

    select
        {{ key }},
        business_date,
        {{ attributes | join(',\n        ') }},
        attributes_hash
    from changed
{%- endmacro %}

{% macro attributes_as_text(attributes) -%}
    {%- set parts = [] -%}
    {%- for a in attributes -%}
        {%- do parts.append("coalesce(cast(" ~ a ~ " as " ~ dbt.type_string() ~ "), '~')") -%}
        {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
    {%- endfor -%}
    {{ return(parts) }}
{%- endmacro %}
