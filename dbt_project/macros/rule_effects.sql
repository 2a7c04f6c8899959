{#- The counts a rule's effect is computed from, over the goal-outcome rows of a group
    (fct_key_moment_goal_outcomes): members per group, goal met, guardrails, surveys.
    Shared by fct_key_moment_rule_effects (per week) and rpt_key_moment_rule_review
    (pooled), so the two always count the same way. -#}
{% macro rule_effect_counts() -%}
    sum(case when contact_group = 'target' then 1 else 0 end) as targets,
    sum(case when contact_group <> 'target' then 1 else 0 end) as holdouts,
    sum(case when contact_group = 'target' and is_executed then 1 else 0 end) as contacts_spent,
    sum(case when contact_group = 'target' and is_reached then 1 else 0 end) as reached,
    sum(case when contact_group = 'target' and is_goal_met then 1 else 0 end) as targets_goal_met,
    sum(case when contact_group <> 'target' and is_goal_met then 1 else 0 end)
        as holdouts_goal_met,
    sum(case when contact_group = 'target' and has_complaint then 1 else 0 end)
        as targets_complained,
    sum(case when contact_group <> 'target' and has_complaint then 1 else 0 end)
        as holdouts_complained,
    sum(case when contact_group = 'target' and has_opted_out then 1 else 0 end)
        as targets_opted_out,
    sum(case when contact_group <> 'target' and has_opted_out then 1 else 0 end)
        as holdouts_opted_out,
    sum(case when contact_group = 'target' and is_surveyed then 1 else 0 end) as targets_surveyed,
    sum(case when contact_group <> 'target' and is_surveyed then 1 else 0 end)
        as holdouts_surveyed,
    avg(case when contact_group = 'target' then survey_score end) as targets_survey_score,
    avg(case when contact_group <> 'target' then survey_score end) as holdouts_survey_score,
    var_samp(case when contact_group = 'target' then survey_score end) as targets_survey_var,
    var_samp(case when contact_group <> 'target' then survey_score end) as holdouts_survey_var,
    sum(case when is_goal_window_closed then 1 else 0 end) as members_window_closed,
    min(goal_days_observed) as min_goal_days_observed
{%- endmacro %}

{#- The Agresti-Caffo terms of a difference of proportions -- `x_t` of `targets` against
    `x_h` of `holdouts`, one success and one failure added to each group -- as SQL text:
    pt and ph, the smoothed rates, and v, the variance of their difference. Shared by the
    fixed interval and the anytime test, so both smooth alike. -#}
{% macro smoothed_difference(x_t, x_h) -%}
    {%- set pt = '((cast(' ~ x_t ~ ' as double) + 1) / (targets + 2))' -%}
    {%- set ph = '((cast(' ~ x_h ~ ' as double) + 1) / (holdouts + 2))' -%}
    {%- set v = '(' ~ pt ~ ' * (1 - ' ~ pt ~ ') / (targets + 2.0) + '
        ~ ph ~ ' * (1 - ' ~ ph ~ ') / (holdouts + 2.0))' -%}
    {{ return({'pt': pt, 'ph': ph, 'v': v}) }}
{%- endmacro %}

{#- The treated-minus-holdout difference of a proportion -- `x_t` of `targets` against
    `x_h` of `holdouts` -- as `<name>_uplift`, with its 95% interval by Agresti and Caffo
    (one success and one failure added to each group: honest coverage even when a group
    is small or a rate is 0), clipped to [-1, 1], as `<name>_uplift_ci_low` / `_ci_high`.
    In doubles throughout: Spark divides decimals (a literal like 1.0) to six places. -#}
{% macro uplift_columns(name, x_t, x_h) -%}
    {%- set terms = smoothed_difference(x_t, x_h) -%}
    {%- set pt, ph = terms.pt, terms.ph -%}
    {%- set se = 'sqrt' ~ terms.v -%}
    {{ safe_ratio(x_t, 'targets') }} - {{ safe_ratio(x_h, 'holdouts') }} as {{ name }}_uplift,
    greatest(-1.0, {{ pt }} - {{ ph }} - 1.96 * {{ se }}) as {{ name }}_uplift_ci_low,
    least(1.0, {{ pt }} - {{ ph }} + 1.96 * {{ se }}) as {{ name }}_uplift_ci_high
{%- endmacro %}

{#- The statistics over the counts of rule_effect_counts(): rates, the goal uplift and
    its interval, what it cost (contacts spent, uplift per 100 contacts: the goals gained
    per 100 executed tasks), the effect per reached customer, the guardrail uplifts and
    the survey-score difference (Welch interval; null with fewer than 2 surveys a side). -#}
{% macro rule_effect_statistics() -%}
    {{ safe_ratio('targets_goal_met', 'targets') }} as target_goal_rate,
    {{ safe_ratio('holdouts_goal_met', 'holdouts') }} as holdout_goal_rate,
    {{ uplift_columns('goal', 'targets_goal_met', 'holdouts_goal_met') }},
    {{ safe_ratio('reached', 'targets') }} as reached_share,
    100 * ({{ safe_ratio('targets_goal_met', 'targets') }}
        - {{ safe_ratio('holdouts_goal_met', 'holdouts') }})
        * {{ safe_ratio('targets', 'contacts_spent') }} as uplift_per_100_contacts,
    ({{ safe_ratio('targets_goal_met', 'targets') }}
        - {{ safe_ratio('holdouts_goal_met', 'holdouts') }})
        / nullif({{ safe_ratio('reached', 'targets') }}, 0) as goal_uplift_per_reached,
    {{ uplift_columns('complaint', 'targets_complained', 'holdouts_complained') }},
    {{ uplift_columns('opt_out', 'targets_opted_out', 'holdouts_opted_out') }},
    case
        when targets_surveyed >= 2 and holdouts_surveyed >= 2
            then targets_survey_score - holdouts_survey_score
    end as survey_score_difference,
    case
        when targets_surveyed >= 2 and holdouts_surveyed >= 2
            then 1.96 * sqrt(
                targets_survey_var / targets_surveyed + holdouts_survey_var / holdouts_surveyed
            )
    end as survey_score_ci_half_width
{%- endmacro %}

{#- The goal-outcome rows the rule effects are judged on: the list dates of the last
    rule_effect_lookback_days before the as-of date (the goal outcomes keep every list
    date). -#}
{% macro rule_effect_outcomes(outcomes, members) -%}
    select outcomes.*
    from {{ outcomes }} as outcomes
    where
        outcomes.business_date
        >= {{ dbt.dateadd('day', -var('rule_effect_lookback_days'), as_of_date(members)) }}
{%- endmacro %}

{#- Days before the business date whose list dates a daily build of
    fct_key_moment_goal_outcomes rewrites: the guardrail window, which holds every goal
    window, and rule_outcome_settle_days after it for events delivered late. -#}
{% macro goal_outcome_rewritten_days() -%}
    {{ return(var('rule_guardrail_window_days') + var('rule_outcome_settle_days')) }}
{%- endmacro %}

{#- The anytime-valid test of a proportion difference (a mixture sequential probability
    ratio test, Gaussian mixture of spread tau = rule_review_mixture_sd over the effect):
    for the Agresti-Caffo estimate `d` (one success and one failure added to each group)
    and its variance `v`, the log of the mixture likelihood ratio against `d = null` is
        ln L = 1/2 ln(v / (v + tau^2)) + tau^2 (d - null)^2 / (2 v (v + tau^2))
    and its p-value exp(-ln L), capped at 1, is valid at every look however often one
    looks: under the null, L ever reaching 1/alpha has chance at most alpha (Ville's
    inequality). `<name>_p` is that p-value; with `one_sided`, only an estimate above the
    null counts (harm: a rise beyond the tolerance). Computed in logs: no overflow. -#}
{% macro anytime_p(name, x_t, x_h, null=0, one_sided=false) -%}
    {%- set tau2 = var('rule_review_mixture_sd') ~ ' * ' ~ var('rule_review_mixture_sd') -%}
    {%- set terms = smoothed_difference(x_t, x_h) -%}
    {%- set pt, ph, v = terms.pt, terms.ph, terms.v -%}
    {%- set d = '(' ~ pt ~ ' - ' ~ ph ~ ' - ' ~ null ~ ')' -%}
    {%- set p = 'exp(-greatest(0.0, 0.5 * ln(' ~ v ~ ' / (' ~ v ~ ' + ' ~ tau2 ~ ')) + '
        ~ tau2 ~ ' * ' ~ d ~ ' * ' ~ d ~ ' / (2 * ' ~ v ~ ' * (' ~ v ~ ' + ' ~ tau2 ~ '))))' -%}
    {%- if one_sided %}
    case when {{ d }} <= 0 then 1.0 else {{ p }} end as {{ name }}_p
    {%- else %}
    {{ p }} as {{ name }}_p
    {%- endif %}
{%- endmacro %}

{#- The anytime-valid interval of the goal uplift at level `level` (the confidence
    sequence the test above inverts: 0 lies outside it exactly when the p-value is below
    `level`), as goal_uplift_cs_low / _cs_high, clipped to [-1, 1]. -#}
{% macro anytime_interval(level) -%}
    {%- set tau2 = var('rule_review_mixture_sd') ~ ' * ' ~ var('rule_review_mixture_sd') -%}
    {%- set terms = smoothed_difference('targets_goal_met', 'holdouts_goal_met') -%}
    {%- set pt, ph, v = terms.pt, terms.ph, terms.v -%}
    {%- set half = 'sqrt(' ~ v ~ ' * (' ~ v ~ ' + ' ~ tau2 ~ ') / (' ~ tau2 ~ ') * (2 * ln(1 / ('
        ~ level ~ ')) + ln((' ~ v ~ ' + ' ~ tau2 ~ ') / ' ~ v ~ ')))' -%}
    greatest(-1.0, {{ pt }} - {{ ph }} - {{ half }}) as goal_uplift_cs_low,
    least(1.0, {{ pt }} - {{ ph }} + {{ half }}) as goal_uplift_cs_high
{%- endmacro %}
