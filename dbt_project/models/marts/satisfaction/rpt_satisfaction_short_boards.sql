-- Short-board (weakest-link) analysis (docs/domain.md#short-boards): per customer group and
-- satisfaction indicator, over the surveys of the last 90 days, the indicator's performance
-- (mean score) against its importance (its correlation with the overall score, as a share
-- of the group's total). An indicator pulls the group down when it lags the group's best
-- indicator *and* matters: pull_down = relative_importance * shortfall. The top indicator
-- of a group with enough surveys and a shortfall of 3 points or more is its short board.
-- Groups: brand x tier x ARPU band; family members or not; enterprise-group members or not;
-- city. Each group also shows the channel most of its customers prefer, so an improvement
-- (a reminder by SMS or by the customer manager's call) fits the group. Phone interviews
-- over phone_survey_max_seconds (15 minutes, docs/domain.md#three-measurements) degrade the
-- answers: they are kept out of the statistics and shown apart (long_phone_*). Each
-- indicator names the weak item of the service standard behind it, if the mystery shoppers
-- or the process audits found one in the group (int_service_standard_compliance).
with

grouped as (

    select * from {{ ref('int_satisfaction_surveys_profiled') }}
    where {{ in_survey_window() }}

),

profiles as (

    select * from {{ ref('int_subscriber_profiles') }}

),

preferences as (

    select * from {{ ref('dim_customer_preference_profiles') }}

),

by_group as (

    {{ customer_groups('grouped', 'grouped.*') }}

),

indicators as (

    {%- for ind in satisfaction_indicators() %}
        select
            group_type,
            group_value,
            brand_code,
            customer_tier,
            arpu_band,
            customer_id,
            is_long_phone_survey,
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
        sum(case when is_long_phone_survey then 0 else 1 end) as surveys,
        avg(case when not is_long_phone_survey then indicator_score end) as performance,
        avg(case when not is_long_phone_survey then overall_score end) as overall_score,
        -- A correlation needs variation on both sides: DuckDB returns NaN and Spark NULL
        -- for a group of one survey or of identical scores, so neither engine is asked.
        -- Rounded to 12 places: a perfectly correlated small group comes out of the
        -- floating-point sums as 1.0000000000000002, and a NaN stays a NaN for the tests.
        case
            when
                var_samp(case when not is_long_phone_survey then indicator_score end) > 0
                and var_samp(case when not is_long_phone_survey then overall_score end) > 0
                then round(
                        corr(
                            case when not is_long_phone_survey then indicator_score end,
                            case when not is_long_phone_survey then overall_score end
                        ),
                        12
                    )
            else 0
        end as importance,
        sum(case when is_long_phone_survey then 1 else 0 end) as long_phone_surveys,
        avg(case when is_long_phone_survey then indicator_score end) as long_phone_performance
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
    {{ customer_groups('current_profiles', 'customer_id', distinct=true) }}

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

weak_items as (

    select * from {{ ref('int_service_standard_compliance') }}
    where is_weak_item

),

kano as (

    select * from {{ ref('rpt_satisfaction_kano') }}

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
            as group_preferred_channel_share,
        ranked.long_phone_surveys,
        ranked.long_phone_performance,
        weak_items.item_code as weak_standard_item,
        weak_items.method as weak_item_method,
        weak_items.checked_in as weak_item_checked_in,
        weak_items.compliance as weak_item_compliance,
        -- the indicator's KANO class in the group, else in the group's brand (docs/domain.md#kano)
        case
            when own_kano.kano_class != 'undetermined' then own_kano.kano_class
            when brand_kano.kano_class != 'undetermined' then brand_kano.kano_class
            else 'undetermined'
        end as kano_class,
        case
            when own_kano.kano_class != 'undetermined' then 'group'
            when brand_kano.kano_class != 'undetermined' then 'brand'
        end as kano_class_from
    from ranked
    left join group_channels
        on ranked.group_type = group_channels.group_type
            and ranked.group_value = group_channels.group_value
            and group_channels.channel_rank = 1
    left join weak_items
        on ranked.group_type = weak_items.group_type
            and ranked.group_value = weak_items.group_value
            and ranked.indicator = weak_items.indicator
    left join kano as own_kano
        on ranked.group_type = own_kano.group_type
            and ranked.group_value = own_kano.group_value
            and ranked.indicator = own_kano.indicator
    left join kano as brand_kano
        on brand_kano.group_type = 'brand'
            and ranked.brand_code = brand_kano.group_value
            and ranked.indicator = brand_kano.indicator

),

tiered as (

    -- docs/domain.md#kano: commitments tiered by the need's KANO class, so that expectations are
    -- not pushed up needlessly
    select
        *,
        case kano_class
            when 'must_be' then 1
            when 'attractive' then 3
            else 2
        end as recommendation_tier,
        case kano_class
            when 'must_be' then 'fix first: a shortfall costs satisfaction'
            when 'one_dimensional' then 'improve in proportion to the shortfall'
            when 'attractive' then 'do not over-invest or promise: offer it unannounced'
            else 'improve; KANO class not determined yet'
        end as recommendation
    from final

)

{{ select_bigint_counts('tiered', ['surveys', 'long_phone_surveys']) }}
