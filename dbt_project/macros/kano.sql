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
    which differs by engine (DuckDB and Spark sum in different orders). -#}
{% macro kano_fit(relation, y) -%}
select
    group_type,
    group_value,
    indicator,
    surveys,
    penalty,
    reward,
    case when solvable then
        greatest(syy - penalty * sym - reward * syp, 0) * surveys / (surveys - 4)
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
            coalesce(surveys > 4 and det > 1e-9 * smm * spp, false) as solvable
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
                    {%- for name, a, b in [
                        ('syy', y, y), ('sym', y, 'x_low'), ('syp', y, 'x_high'),
                        ('smm', 'x_low', 'x_low'), ('spp', 'x_high', 'x_high'),
                        ('smp', 'x_low', 'x_high'),
                    ] %}
                    covar_pop({{ a }}, {{ b }})
                    - covar_pop({{ a }}, others_mean) * covar_pop({{ b }}, others_mean)
                    / nullif(var_pop(others_mean), 0) as {{ name }}{{ ',' if not loop.last }}
                    {%- endfor %}
                from (
                    select
                        *,
                        least(u, 0) as x_low,
                        greatest(u, 0) as x_high
                    from {{ relation }}
                ) as pieces
                group by group_type, group_value, indicator
            ) as partialled
        ) as determined
    ) as solved
) as fitted
{%- endmacro %}
