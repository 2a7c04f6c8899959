-- Per customer and preference of the taxonomy (seed preference_taxonomy), the score
-- derived from the customer's history as of the business date, with its evidence.
--
-- Evidence is weighted by recency: an event d days old counts 0.5^(d / half-life).
-- Response-type evidence (contact channel, promotion form, gift, timing, participation
-- mode) scores a smoothed response rate: (responses + k * p0) / (trials + k), k = 2 and
-- p0 = the population's rate for that kind of evidence, so one lucky response does not
-- make a preference. Use-type evidence (service products) scores the preference's share
-- of the customer's weighted uses. Rank 1 in a class is the customer's top preference.
--
-- Contact and service-product evidence comes summed and weighted from the running state
-- int_customer_preference_evidence_daily (a day added, not 180 summed). Campaign evidence
-- is summed over the window here, from each member's latest state: a participation
-- reported days after its reach counts with the reach date's weight while the reach is
-- in the window (the late-evidence rule), and nothing once it has left.
{%- set as_of = as_of_date(ref('stg_crm__customers')) %}
{%- set lookback_start = dbt.dateadd('day', -var('preference_lookback_days'), as_of) %}

with

customers as (

    select customer_id from {{ ref('stg_crm__customers') }}
    where business_date = {{ as_of }}

),

taxonomy as (

    select * from {{ ref('preference_taxonomy') }}

),

evidence as (

    select * from {{ ref('int_customer_preference_evidence_daily') }}
    where business_date = {{ as_of }}

),

members as (

    select * from {{ ref('int_campaign_members_latest') }}
    where
        member_group = 'target'
        and reached_at is not null
        and cast(reached_at as date)
        > {{ lookback_start }}
        and cast(reached_at as date) <= {{ as_of }}

),

campaigns as (

    select * from {{ ref('int_campaigns') }}

),

{%- set weight = preference_weight('{date}', as_of) %}

channel_evidence as (

    select
        customer_id,
        evidence_source,
        evidence_value,
        trials,
        positives,
        weighted_trials,
        weighted_positives,
        last_evidence_date
    from evidence
    where evidence_source = 'contact_channel'

),

campaign_outcomes as (

    select
        members.customer_id,
        cast(members.reached_at as date) as evidence_date,
        case when members.participated_at is not null then 1 else 0 end as participated,
        campaigns.promotion_form,
        campaigns.gift_type,
        campaigns.timing_type
    from members
    inner join campaigns
        on members.campaign_id = campaigns.campaign_id

),

campaign_evidence as (

    {%- for source, column in [('promotion_form', 'promotion_form'), ('gift_type', 'gift_type'),
        ('timing_type', 'timing_type'), ('participation_mode', "'one_off_signup'")] %}
        select
            customer_id,
            '{{ source }}' as evidence_source,
            {{ column }} as evidence_value,
            count(*) as trials,
            sum(participated) as positives,
            sum({{ weight.replace('{date}', 'evidence_date') }}) as weighted_trials,
            sum(participated * {{ weight.replace('{date}', 'evidence_date') }})
                as weighted_positives,
            max(evidence_date) as last_evidence_date
        from campaign_outcomes
        group by customer_id, {{ column }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

continuous_evidence as (

    -- continuous use: of the products a customer used, the share used on 3 days or more
    -- (a product's daily rows are its days of use)
    select
        customer_id,
        'participation_mode' as evidence_source,
        'continuous_use' as evidence_value,
        count(*) as trials,
        sum(case when source_rows >= 3 then 1 else 0 end) as positives,
        cast(count(*) as double) as weighted_trials,
        cast(sum(case when source_rows >= 3 then 1 else 0 end) as double) as weighted_positives,
        max(last_evidence_date) as last_evidence_date
    from evidence
    where evidence_source = 'service_product'
    group by customer_id

),

response_evidence as (

    select * from channel_evidence
    union all
    select * from campaign_evidence
    union all
    select * from continuous_evidence

),

population_rates as (

    select
        evidence_source,
        {{ safe_ratio('sum(weighted_positives)', 'sum(weighted_trials)') }} as population_rate
    from response_evidence
    group by evidence_source

),

response_scores as (

    select
        response_evidence.*,
        population_rates.population_rate,
        (response_evidence.weighted_positives + 2 * population_rates.population_rate)
        / (response_evidence.weighted_trials + 2) as score
    from response_evidence
    inner join population_rates
        on response_evidence.evidence_source = population_rates.evidence_source

),

use_evidence as (

    select
        customer_id,
        evidence_source,
        evidence_value,
        trials,
        positives,
        weighted_trials,
        weighted_positives,
        last_evidence_date
    from evidence
    where evidence_source in ('service_product_category', 'service_product')

),

use_totals as (

    -- every product's uses: each use is of one product
    select
        customer_id,
        sum(weighted_trials) as weighted_uses
    from evidence
    where evidence_source = 'service_product'
    group by customer_id

),

use_scores as (

    select
        use_evidence.*,
        cast(null as double) as population_rate,
        -- a share; least() absorbs the rounding of two float sums taken in different orders
        least({{ safe_ratio('use_evidence.weighted_positives', 'use_totals.weighted_uses') }}, 1.0)
            as score
    from use_evidence
    inner join use_totals
        on use_evidence.customer_id = use_totals.customer_id

),

scored as (

    select * from response_scores
    union all
    select * from use_scores

),

final as (

    select
        scored.customer_id,
        {{ as_of }} as as_of_date,
        taxonomy.preference_code,
        taxonomy.preference_class,
        scored.evidence_source,
        scored.trials as evidence_count,
        scored.positives as positive_count,
        scored.weighted_trials as weighted_evidence,
        scored.weighted_positives as weighted_positive,
        scored.population_rate,
        scored.score,
        row_number() over (
            partition by scored.customer_id, taxonomy.preference_class
            order by scored.score desc, scored.weighted_positives desc, taxonomy.preference_code asc
        ) as rank_in_class,
        scored.last_evidence_date
    from scored
    inner join taxonomy
        on scored.evidence_source = taxonomy.evidence_source
            and scored.evidence_value = taxonomy.evidence_value
    inner join customers
        on scored.customer_id = customers.customer_id

)

{{ select_bigint_counts('final', ['evidence_count', 'positive_count']) }}
