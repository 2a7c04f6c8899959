{#- The preference scores' recency weight of evidence dated `date` as of `as_of`: an event
    d days old counts 0.5^(d / half-life). In doubles: Spark divides by a decimal literal
    (90.0) to six places. -#}
{% macro preference_weight(date, as_of) -%}
    power(0.5, cast({{ dbt.datediff(date, as_of, 'day') }} as double)
        / {{ var('preference_half_life_days') }})
{%- endmacro %}

{#- The weight `days` days of decay multiply a weighted sum by. -#}
{% macro preference_decay(days) -%}
    power(0.5, cast({{ days }} as double) / {{ var('preference_half_life_days') }})
{%- endmacro %}

{#- The evidence of the daily rows of `responses` (int_customer_contact_responses_daily)
    and `uses` (int_customer_product_uses_daily) the `dates` filter keeps, one row per
    daily row and piece of evidence: its counts times `sign`, its weighted counts times
    `weight` (a SQL expression of business_date) and, as its last date, `last`. -#}
{% macro preference_evidence_rows(responses, uses, dates, weight, sign=1, last='business_date') -%}
    select
        customer_id,
        'contact_channel' as evidence_source,
        channel as evidence_value,
        {{ sign }} as source_rows,
        {{ sign }} * contacts as trials,
        {{ sign }} * responses as positives,
        {{ sign }} * contacts * {{ weight }} as weighted_trials,
        {{ sign }} * responses * {{ weight }} as weighted_positives,
        {{ last }} as last_evidence_date
    from {{ responses }}
    where {{ dates }}
    {%- for source, column in [('service_product_category', 'category_code'),
        ('service_product', 'service_product_code')] %}
        union all
        select
            customer_id,
            '{{ source }}' as evidence_source,
            {{ column }} as evidence_value,
            {{ sign }} as source_rows,
            {{ sign }} * events as trials,
            {{ sign }} * events as positives,
            {{ sign }} * events * {{ weight }} as weighted_trials,
            {{ sign }} * events * {{ weight }} as weighted_positives,
            {{ last }} as last_evidence_date
        from {{ uses }}
        where {{ dates }} and {{ column }} is not null
    {%- endfor %}
{%- endmacro %}

{#- Post-hook of a running state: delete its states older than the `keep` dates that end
    on the business date. Does nothing on a full build (one date is built), and on Spark,
    whose Parquet tables cannot delete rows: there the states stay. -#}
{% macro keep_recent_states(keep) -%}
    {{ return(adapter.dispatch('keep_recent_states', 'kairos')(keep)) }}
{%- endmacro %}

{% macro default__keep_recent_states(keep) -%}
    {%- if business_date() -%}
        delete from {{ this }}
        where business_date <= {{ dbt.dateadd('day', -keep, business_date_literal()) }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__keep_recent_states(keep) -%}
{%- endmacro %}
