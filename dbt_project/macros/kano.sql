{#- One KANO fit per customer group and indicator (rpt_satisfaction_kano): ordinary least
    squares of `y` on [1, others_mean, least(u, 0), greatest(u, 0)], where u is the
    indicator's score relative to the respondent's mean of the other indicators, centred
    on the group's mean. others_mean absorbs how satisfied the respondent is overall (the
    halo every score shares); the two slopes are the penalty (how much a score below the
    usual lowers `y`) and the reward (how much one above raises it). The fit is solved in
    closed form with the covariances partialled on others_mean (Frisch-Waugh-Lovell), so
    it needs only aggregates both engines have. `relation` has group_type, group_value,
    indicator, others_mean, u and `y`.

    A fit is made only when it is determined: more surveys than the four coefficients, and
    x_low and x_high not collinear once partialled (det above 1e-9 of smm * spp). Below
    that the system is singular in exact arithmetic and the slopes are rounding noise,
    which differs by engine (DuckDB and Spark sum in different orders).

    With `stratum` (a column of `relation`), the fit is adjusted for it: every variable
    is taken as its deviation from its stratum's mean (stratum fixed effects), so the
    slopes compare respondents only with others of their own stratum, pooled over the
    strata by their variation; a trait of a stratum -- rural customers whose network is
    their short board, lower and weighing more -- no longer reads as a shape of the
    indicator. The residual degrees of freedom lose one per stratum. -#}
{% macro kano_fit(relation, y, stratum=none) -%}
select
    group_type,
    group_value,
    indicator,
    surveys,
    strata,
    penalty,
    reward,
    case when solvable then
        greatest(syy - penalty * sym - reward * syp, 0) * surveys / (surveys - 3 - strata)
    end as residual_variance,
    case when solvable then spp / det end as penalty_factor,
    case when solvable then smm / det end as reward_factor,
    case when solvable then (spp + smm + 2 * smp) / det end as contrast_factor
from (
    select
        *,
        case when solvable then (spp * sym - smp * syp) / det end as penalty,
        case when solvable then (smm * syp - smp * sym) / det end as reward
    from (
        select
            *,
            coalesce(surveys > 3 + strata and det > 1e-9 * smm * spp, false) as solvable
        from (
            select
                *,
                smm * spp - smp * smp as det
            from (
                select
                    group_type,
                    group_value,
                    indicator,
                    count(*) as surveys,
                    {% if stratum -%}
                    count(distinct {{ stratum }}) as strata,
                    {%- else -%}
                    cast(1 as {{ dbt.type_bigint() }}) as strata,
                    {%- endif %}
                    {%- for name, a, b in [
                        ('syy', 'fit_y', 'fit_y'), ('sym', 'fit_y', 'fit_low'),
                        ('syp', 'fit_y', 'fit_high'), ('smm', 'fit_low', 'fit_low'),
                        ('spp', 'fit_high', 'fit_high'), ('smp', 'fit_low', 'fit_high'),
                    ] %}
                    covar_pop({{ a }}, {{ b }})
                    - covar_pop({{ a }}, fit_others) * covar_pop({{ b }}, fit_others)
                    / nullif(var_pop(fit_others), 0) as {{ name }}{{ ',' if not loop.last }}
                    {%- endfor %}
                from (
                    select
                        *,
                        {%- for name, column in [
                            ('fit_y', y), ('fit_low', 'x_low'), ('fit_high', 'x_high'),
                            ('fit_others', 'others_mean'),
                        ] %}
                        {{ column }}
                        {%- if stratum %}
                        - avg({{ column }}) over (
                            partition by group_type, group_value, indicator, {{ stratum }}
                        )
                        {%- endif %} as {{ name }}{{ ',' if not loop.last }}
                        {%- endfor %}
                    from (
                        select
                            *,
                            least(u, 0) as x_low,
                            greatest(u, 0) as x_high
                        from {{ relation }}
                    ) as pieces
                ) as within_strata
                group by group_type, group_value, indicator
            ) as partialled
        ) as determined
    ) as solved
) as fitted
{%- endmacro %}
