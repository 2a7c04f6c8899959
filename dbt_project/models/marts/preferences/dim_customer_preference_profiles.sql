-- One row per customer: the top preference of each class, the top marketing channel with
-- how strong the evidence for it is, and the best contact window. This is what routing
-- (fct_key_moment_tasks) and the target lists read.
--
-- Channel evidence is 'strong' when the top channel drew at least two responses and its
-- score leads the runner-up by 0.1 or more; 'weak' with at least one response; otherwise
-- 'none' and no top channel is named. Only strong preferences may change a task's channel.
{%- set as_of = as_of_date(ref('stg_crm__customers')) %}
{%- set lookback_start = dbt.dateadd('day', -var('preference_lookback_days'), as_of) %}

with

customers as (

    select customer_id from {{ ref('stg_crm__customers') }}
    where business_date = {{ as_of }}

),

scores as (

    select * from {{ ref('fct_customer_preference_scores') }}

),

responses as (

    select * from {{ ref('int_customer_contact_responses_daily') }}
    where
        contact_window <> 'outside_windows'
        and business_date
        > {{ lookback_start }}
        and business_date <= {{ as_of }}

),

top_by_class as (

    select
        customer_id,
        {%- set classes = [
            'business', 'participation_mode', 'promotion_form', 'marketing_timing', 'gift'
        ] %}
        {%- for cls in classes %}
            max(case when preference_class = '{{ cls }}' then preference_code end)
                as top_{{ cls }}_preference{% if not loop.last %},{% endif %}
        {%- endfor %}
    from scores
    where rank_in_class = 1 and positive_count > 0
    group by customer_id

),

channels as (

    select
        customer_id,
        max(case when rank_in_class = 1 then preference_code end) as top_channel_code,
        max(case when rank_in_class = 1 then score end) as top_channel_score,
        max(case when rank_in_class = 1 then positive_count end) as top_channel_responses,
        max(case when rank_in_class = 2 then score end) as runner_up_channel_score,
        sum(evidence_count) as channel_contacts,
        sum(positive_count) as channel_responses
    from scores
    where preference_class = 'marketing_channel'
    group by customer_id

),

window_rates as (

    select
        customer_id,
        contact_window,
        sum(responses) as responses,
        (sum(responses) + 0.5) / (sum(contacts) + 2.0) as score
    from responses
    group by customer_id, contact_window

),

best_windows as (

    select
        customer_id,
        contact_window,
        row_number() over (
            partition by customer_id order by score desc, responses desc, contact_window asc
        ) as window_rank
    from window_rates
    where responses > 0

),

final as (

    select
        customers.customer_id,
        {{ as_of }} as as_of_date,
        case
            when channels.top_channel_responses > 0
                then substr(channels.top_channel_code, 9)
        end as top_channel,
        channels.top_channel_score,
        coalesce(
            channels.top_channel_score - channels.runner_up_channel_score,
            channels.top_channel_score
        ) as top_channel_lead,
        case
            when channels.top_channel_responses >= 2
                and coalesce(channels.top_channel_score - channels.runner_up_channel_score, 1)
                >= 0.1
                then 'strong'
            when channels.top_channel_responses >= 1 then 'weak'
            else 'none'
        end as channel_evidence,
        coalesce(channels.channel_contacts, 0) as channel_contacts,
        coalesce(channels.channel_responses, 0) as channel_responses,
        best_windows.contact_window as best_contact_window,
        top_by_class.top_business_preference,
        top_by_class.top_participation_mode_preference,
        top_by_class.top_promotion_form_preference,
        top_by_class.top_marketing_timing_preference,
        top_by_class.top_gift_preference
    from customers
    left join channels
        on customers.customer_id = channels.customer_id
    left join best_windows
        on customers.customer_id = best_windows.customer_id
            and best_windows.window_rank = 1
    left join top_by_class
        on customers.customer_id = top_by_class.customer_id

)

{{ select_bigint_counts('final', ['channel_contacts', 'channel_responses']) }}
