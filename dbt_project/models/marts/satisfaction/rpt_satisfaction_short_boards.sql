-- Short-board (weakest-link) analysis (domain §5): per customer group and satisfaction
-- indicator, over the surveys of the last 90 days, the indicator's performance (mean
-- score) against its importance (its correlation with the overall score, as a share of
-- the group's total). An indicator pulls the group down when it lags the group's best
-- indicator *and* matters: pull_down = relative_importance * shortfall. The top
-- indicator of a group with enough surveys and a shortfall of 3 points or more is its
-- short board. Groups: brand x tier x ARPU band; family members or not; enterprise-group
-- members or not. Each group also shows the channel most of its customers prefer, so an
-- improvement (a reminder by SMS or by the customer manager's call) fits the group.
with

surveys as (

    select * from {{ ref('stg_bi__satisfaction_surveys') }}
    where
        business_date
        > {{ dbt.dateadd('day', -90, as_of_date(ref('stg_bi__satisfaction_surveys'))) }}
        and business_date <= {{ as_of_date(ref('stg_bi__satisfaction_surveys')) }}

),

profiles as (

    select * from {{ ref('int_subscriber_profiles') }}

),

preferences as (

    select * from {{ ref('dim_customer_preference_profiles') }}

),

grouped as (

    select
        surveys.survey_id,
        surveys.customer_id,
        surveys.overall_score,
        {%- for ind in ['network', 'tariff', 'billing', 'hotline', 'store', 'reminders'] %}
            surveys.score_{{ ind }},
        {%- endfor %}
        profiles.brand_code,
        profiles.customer_tier,
        profiles.arpu_band,
        profiles.is_family_member,
        profiles.is_enterprise_member
    from surveys
    inner join profiles
        on surveys.subscriber_id = profiles.subscriber_id
            and surveys.business_date = profiles.business_date

),

by_group as (

    select
        'brand_tier_arpu' as group_type,
        concat_ws(' / ', brand_code, customer_tier, arpu_band) as group_value,
        grouped.*
    from grouped
    union all
    select
        'family_membership' as group_type,
        case when is_family_member then 'family_member' else 'not_family_member' end
            as group_value,
        grouped.*
    from grouped
    union all
    select
        'enterprise_membership' as group_type,
        case when is_enterprise_member then 'enterprise_member' else 'not_enterprise_member' end
            as group_value,
        grouped.*
    from grouped

),

indicators as (

    {%- for ind in ['network', 'tariff', 'billing', 'hotline', 'store', 'reminders'] %}
        select
            group_type,
            group_value,
            brand_code,
            customer_tier,
            arpu_band,
            customer_id,
            '{{ ind }}' as indicator,
            cast(score_{{ ind }} as double) as indicator_score,
            cast(overall_score as double) as overall_score
        from by_group
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

stats as (

    select
        group_type,
        group_value,
        indicator,
        case when group_type = 'brand_tier_arpu' then max(brand_code) end as brand_code,
        case when group_type = 'brand_tier_arpu' then max(customer_tier) end as customer_tier,
        case when group_type = 'brand_tier_arpu' then max(arpu_band) end as arpu_band,
        count(*) as surveys,
        avg(indicator_score) as performance,
        avg(overall_score) as overall_score,
        coalesce(corr(indicator_score, overall_score), 0) as importance
    from indicators
    group by group_type, group_value, indicator

),

relative as (

    select
        *,
        {{ safe_ratio('greatest(importance, 0)',
            'sum(greatest(importance, 0)) over (partition by group_type, group_value)') }}
            as relative_importance,
        max(performance) over (partition by group_type, group_value) - performance
            as shortfall
    from stats

),

ranked as (

    select
        *,
        coalesce(relative_importance, 0) * shortfall as pull_down,
        row_number() over (
            partition by group_type, group_value
            order by coalesce(relative_importance, 0) * shortfall desc, indicator
        ) as pull_down_rank
    from relative

),

current_profiles as (

    select * from profiles
    where business_date = {{ as_of_date(ref('stg_bi__satisfaction_surveys')) }}

),

group_customers as (

    -- every current customer of the group, surveyed or not: the remedy reaches them all
    select distinct
        'brand_tier_arpu' as group_type,
        concat_ws(' / ', brand_code, customer_tier, arpu_band) as group_value,
        customer_id
    from current_profiles
    union all
    select distinct
        'family_membership' as group_type,
        case when is_family_member then 'family_member' else 'not_family_member' end
            as group_value,
        customer_id
    from current_profiles
    union all
    select distinct
        'enterprise_membership' as group_type,
        case when is_enterprise_member then 'enterprise_member' else 'not_enterprise_member' end
            as group_value,
        customer_id
    from current_profiles

),

group_channels as (

    select
        group_customers.group_type,
        group_customers.group_value,
        preferences.top_channel,
        count(*) as customers,
        row_number() over (
            partition by group_customers.group_type, group_customers.group_value
            order by count(*) desc, preferences.top_channel
        ) as channel_rank,
        sum(count(*)) over (
            partition by group_customers.group_type, group_customers.group_value
        ) as customers_with_preference
    from group_customers
    inner join preferences
        on group_customers.customer_id = preferences.customer_id
    where preferences.channel_evidence in ('strong', 'weak')
    group by group_customers.group_type, group_customers.group_value, preferences.top_channel

),

final as (

    select
        {{ as_of_date(ref('stg_bi__satisfaction_surveys')) }} as as_of_date,
        ranked.group_type,
        ranked.group_value,
        ranked.brand_code,
        ranked.customer_tier,
        ranked.arpu_band,
        ranked.indicator,
        ranked.surveys,
        ranked.performance,
        ranked.overall_score,
        ranked.importance,
        ranked.relative_importance,
        ranked.shortfall,
        ranked.pull_down,
        ranked.pull_down_rank,
        ranked.pull_down_rank = 1
        and ranked.surveys >= {{ var('short_board_min_surveys') }}
        and ranked.shortfall >= 3 as is_short_board,
        group_channels.top_channel as group_preferred_channel,
        {{ safe_ratio('group_channels.customers', 'group_channels.customers_with_preference') }}
            as group_preferred_channel_share
    from ranked
    left join group_channels
        on ranked.group_type = group_channels.group_type
            and ranked.group_value = group_channels.group_value
            and group_channels.channel_rank = 1

)

select * from final
