-- Per business date, customer and piece of evidence (contact channel, service-product
-- category, service product): the evidence of the preference lookback window that closes
-- on the date -- its daily rows, counts and last date, and its counts weighted by recency
-- as of the date (fct_customer_preference_scores scores them).
--
-- A running state. A date's state is the day before's, its weighted counts decayed by one
-- day, plus the date's evidence, minus the evidence of the date leaving the window (with
-- the weight it has reached). Evidence whose last daily row left the window has no row.
-- Without the day before's state (the first build, a full refresh, a date after a gap,
-- a rebuild of an older date) the date's state is summed over the window instead; the
-- two agree to rounding (tests/test_warehouse.py).
--
-- Only the last two dates' states are kept (the day before is what a rebuild of the
-- date reads): older ones are deleted after each build.
{%- set as_of = as_of_date(ref('stg_crm__customers')) %}
{%- set lookback = var('preference_lookback_days') %}
{%- set leaving = dbt.dateadd('day', -lookback, as_of) %}
{%- set day_before = dbt.dateadd('day', -1, as_of) %}
{{ config(
    materialized='incremental',
    incremental_strategy=partition_strategy(),
    unique_key='business_date',
    partition_by=['business_date'],
    on_schema_change='fail',
    post_hook="{{ keep_recent_states(2) }}",
    meta={'rewrites_days_back': 2}
) }}
{%- set stepped = false %}
{%- if is_incremental() and business_date() and execute %}
    {%- set found = run_query(
        'select count(*) from ' ~ this ~ ' where business_date = ' ~ day_before) %}
    {%- set stepped = found.columns[0].values()[0] > 0 %}
{%- endif %}

with

responses as (

    select * from {{ ref('int_customer_contact_responses_daily') }}

),

uses as (

    select * from {{ ref('int_customer_product_uses_daily') }}

),

evidence as (
    {%- if stepped %}

    select
        customer_id,
        evidence_source,
        evidence_value,
        source_rows,
        trials,
        positives,
        weighted_trials * {{ preference_decay(1) }} as weighted_trials,
        weighted_positives * {{ preference_decay(1) }} as weighted_positives,
        last_evidence_date
    from {{ this }}
    where business_date = {{ day_before }}

    union all

    {{ preference_evidence_rows('responses', 'uses', 'business_date = ' ~ as_of, 'cast(1 as double)') }}

    union all

    {{ preference_evidence_rows(
        'responses', 'uses', 'business_date = ' ~ leaving,
        preference_decay(lookback), sign=-1, last='cast(null as date)') }}

    {%- else %}

    {{ preference_evidence_rows(
        'responses', 'uses',
        'business_date > ' ~ leaving ~ ' and business_date <= ' ~ as_of,
        preference_weight('business_date', as_of)) }}

    {%- endif %}

),

states as (

    select
        customer_id,
        {{ as_of }} as business_date,
        evidence_source,
        evidence_value,
        sum(source_rows) as source_rows,
        sum(trials) as trials,
        sum(positives) as positives,
        sum(weighted_trials) as weighted_trials,
        -- no response left: none weighted either (not what the subtraction rounds to)
        case
            when sum(positives) = 0 then 0.0 else sum(weighted_positives)
        end as weighted_positives,
        max(last_evidence_date) as last_evidence_date
    from evidence
    group by customer_id, evidence_source, evidence_value
    having sum(source_rows) > 0

)

{{ select_bigint_counts('states', ['source_rows', 'trials', 'positives']) }}
