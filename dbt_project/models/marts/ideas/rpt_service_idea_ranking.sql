-- TIE idea evaluation (docs/domain.md#tie-idea-evaluation): the candidate ideas ranked. Per
-- idea the weighted total (0-100: each indicator's score 1-5 mapped to 0-100, weighted by
-- tie_indicators.weight), the subtotal of each of the four groups (0-100 within the group),
-- and the share of the weight the warehouse measured rather than judged.
{{ config(materialized='table') }}

with

indicators as (

    select * from {{ ref('fct_service_idea_indicators') }}

),

ideas as (

    select * from {{ ref('service_ideas') }}

),

totals as (

    select
        idea_code,
        max(as_of_date) as as_of_date,
        100 * sum(weight * (score - 1) / 4) / sum(weight) as total_score,
        {% for group in ['economy', 'competition', 'service', 'support'] %}
            100 * sum(case when indicator_group = '{{ group }}' then weight * (score - 1) / 4 end)
            / sum(case when indicator_group = '{{ group }}' then weight end)
                as {{ group }}_score,
        {% endfor %}
        sum(case when score_source = 'measured' then weight else 0 end) / sum(weight)
            as measured_weight_share,
        count(*) filter (where score_source = 'measured') as measured_indicators
    from indicators
    group by idea_code

),

final as (

    select
        totals.as_of_date,
        rank() over (order by totals.total_score desc) as idea_rank,
        ideas.idea_code,
        ideas.idea_name,
        ideas.idea_name_en,
        ideas.need_class,
        {{ round_half_up('totals.total_score', 2) }} as total_score,
        {{ round_half_up('totals.economy_score', 2) }} as economy_score,
        {{ round_half_up('totals.competition_score', 2) }} as competition_score,
        {{ round_half_up('totals.service_score', 2) }} as service_score,
        {{ round_half_up('totals.support_score', 2) }} as support_score,
        {{ round_half_up('totals.measured_weight_share', 3) }} as measured_weight_share,
        totals.measured_indicators
    from totals
    inner join ideas
        on totals.idea_code = ideas.idea_code

)

select * from final
