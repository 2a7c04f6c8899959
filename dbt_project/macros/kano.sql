{#- The KANO fits (rpt_satisfaction_kano) from sufficient statistics.

    For each customer group and indicator, the overall score `y` is regressed on
    [1, o, l, h]: o is the respondent's mean of the other indicators (it absorbs how
    satisfied the respondent is overall, the halo every score shares); l and h are the
    indicator's score relative to o, centred on the usual gap in the group (the hinge),
    split at zero: l = least(u, 0), h = greatest(u, 0). The two slopes are the penalty (how
    much a score below the usual lowers `y`) and the reward (how much one above raises
    it). The fit is solved in closed form with the covariances partialled on o
    (Frisch-Waugh-Lovell), and within strata of city x customer tier (stratum fixed
    effects: each variable is taken as its deviation from its stratum's mean).

    Every such covariance over the window is a sum over days and strata: per stratum,
    sum(a * b) - sum(a) * sum(b) / n. So a day's surveys are reduced once, when the day
    is built, to their sums and cross-products per group and stratum
    (int_satisfaction_kano_moments_daily), and the mart adds 90 days of those rows and
    solves: its cost follows the number of groups, not of surveys. For that each survey's
    l and h must not change once written: a survey's hinge is the mean gap of its group
    and stratum over the window that closes on the survey's own date
    (int_satisfaction_kano_cells_daily), not the mart's window. The second round, fitted
    on y less the first-round contributions of the other indicators, needs the
    cross-products of every indicator's l and h with every other's, and with each o: the
    moments carry them all (kano_moment_pairs). -#}

{#- The stratum of a survey row: city x customer tier, or one stratum for all when the fit
    is not adjusted for segment (kano_adjust_for_segment: false). -#}
{% macro kano_stratum() -%}
    {%- if var('kano_adjust_for_segment') -%}
        concat_ws(' / ', coalesce(city, '?'), coalesce(customer_tier, '?'))
    {%- else -%}
        'all'
    {%- endif -%}
{%- endmacro %}

{#- The surveys a fit reads, one row per survey and group (customer_groups, with the
    brand), with its stratum and the sum of its indicator scores: the surveys of
    `relation` that are not long phone interviews and score every indicator. A gap in
    fifths, 6 * score - total, is the indicator's distance from the mean of the other
    five times five: an integer, so its sums do not depend on the order they are added
    in. -#}
{% macro kano_survey_rows(relation) -%}
    {%- set indicators = satisfaction_indicators() %}
    select
        by_group.*,
        {{ kano_stratum() }} as stratum,
        {%- for ind in indicators %}
            score_{{ ind }}{{ ' +' if not loop.last else ' as total' }}
        {%- endfor %}
    from (
        {{ customer_groups(relation, relation ~ '.*', with_brand=true) }}
    ) as by_group
{%- endmacro %}

{% macro kano_complete_survey() -%}
    not is_long_phone_survey
    {%- for ind in satisfaction_indicators() %}
        and score_{{ ind }} is not null
    {%- endfor %}
{%- endmacro %}

{#- The variables of the fits: y, and per indicator o_, l_ and h_. -#}
{% macro kano_features() -%}
    {%- set features = ['y'] -%}
    {%- for kind in ['o', 'l', 'h'] -%}
        {%- for ind in satisfaction_indicators() -%}
            {%- do features.append(kind ~ '_' ~ ind) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(features) }}
{%- endmacro %}

{#- The column of the cross-product of two variables, in one order whichever is named
    first: p_<a>__<b>. -#}
{% macro kano_pair(a, b) -%}
    {%- set features = kano_features() -%}
    {%- set first, second = (a, b) if features.index(a) <= features.index(b) else (b, a) -%}
    {{ return('p_' ~ first ~ '__' ~ second) }}
{%- endmacro %}

{#- The column of a covariance over the window, within strata: c_<a>__<b>. -#}
{% macro kano_cov(a, b) -%}
    {{ return('c' ~ kano_pair(a, b)[1:]) }}
{%- endmacro %}

{#- The cross-products the two rounds need (175 with six indicators): y with itself and
    with every variable; each o with itself; every l and h with every l and h and with
    every o. -#}
{% macro kano_moment_pairs() -%}
    {%- set indicators = satisfaction_indicators() -%}
    {%- set pairs = [('y', 'y')] -%}
    {%- set pieces = [] -%}
    {%- for ind in indicators -%}
        {%- do pieces.extend(['l_' ~ ind, 'h_' ~ ind]) -%}
        {%- do pairs.extend([('y', 'o_' ~ ind), ('o_' ~ ind, 'o_' ~ ind)]) -%}
    {%- endfor -%}
    {%- for piece in pieces -%}
        {%- do pairs.append(('y', piece)) -%}
        {%- for ind in indicators -%}
            {%- do pairs.append((piece, 'o_' ~ ind)) -%}
        {%- endfor -%}
        {%- for other in pieces[loop.index0:] -%}
            {%- do pairs.append((piece, other)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(pairs) }}
{%- endmacro %}

{#- One round's six covariances per indicator, partialled on its o and scaled by the
    surveys (covariances of the population): syy, sym, syp of the response with itself, l
    and h; smm, spp, smp of l and h. `relation` has the covariances (kano_cov); the
    response is y in the first round, the adjusted score in the second (its covariances
    adjusted_y_<indicator>, adjusted_<variable>). -#}
{% macro kano_partialled(relation, round) -%}
    {%- for ind in satisfaction_indicators() %}
        {%- set o, l, h = 'o_' ~ ind, 'l_' ~ ind, 'h_' ~ ind %}
        {%- if round == 'first' %}
            {%- set yy, yl, yh, yo = kano_cov('y', 'y'), kano_cov('y', l), kano_cov('y', h),
                kano_cov('y', o) %}
        {%- else %}
            {%- set yy, yl, yh, yo = 'adjusted_y_' ~ ind, 'adjusted_' ~ l, 'adjusted_' ~ h,
                'adjusted_' ~ o %}
        {%- endif %}
        {#- (name, covariance of a and b, a's with o, b's with o) -#}
        {%- set terms = [
            ('syy', yy, yo, yo),
            ('sym', yl, yo, kano_cov(l, o)),
            ('syp', yh, yo, kano_cov(h, o)),
            ('smm', kano_cov(l, l), kano_cov(l, o), kano_cov(l, o)),
            ('spp', kano_cov(h, h), kano_cov(h, o), kano_cov(h, o)),
            ('smp', kano_cov(l, h), kano_cov(l, o), kano_cov(h, o)),
        ] %}
        select
            group_type,
            group_value,
            '{{ ind }}' as indicator,
            surveys,
            strata,
            {%- for name, ab, ao, bo in terms %}
            ({{ ab }} - {{ ao }} * {{ bo }} / nullif({{ kano_cov(o, o) }}, 0)) / surveys
                as {{ name }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ relation }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- The second round's response for `indicator`: y less the other indicators'
    first-round contributions, the sum of slope x piece (`slopes`: a relation with
    slope_l_<indicator> and slope_h_<indicator>, 0 where the fit was not determined). Its
    covariances with itself (adjusted_y_<indicator>) and with the indicator's o, l and h
    (adjusted_<variable>) are the same combinations of the covariances of y and the
    pieces. -#}
{% macro kano_adjusted(indicator, slopes) -%}
    {%- set others = [] %}
    {%- for other in satisfaction_indicators() if other != indicator %}
        {%- do others.extend([
            (slopes ~ '.slope_l_' ~ other, 'l_' ~ other),
            (slopes ~ '.slope_h_' ~ other, 'h_' ~ other),
        ]) %}
    {%- endfor %}
    {%- for target in ['o_' ~ indicator, 'l_' ~ indicator, 'h_' ~ indicator] %}
        {{ kano_cov('y', target) }}
        {%- for slope, piece in others %}
            - {{ slope }} * {{ kano_cov(piece, target) }}
        {%- endfor %} as adjusted_{{ target }},
    {%- endfor %}
        {{ kano_cov('y', 'y') }}
        {%- for slope, piece in others %}
            - 2 * {{ slope }} * {{ kano_cov('y', piece) }}
            {%- for slope2, piece2 in others %}
            + {{ slope }} * {{ slope2 }} * {{ kano_cov(piece, piece2) }}
            {%- endfor %}
        {%- endfor %} as adjusted_y_{{ indicator }}
{%- endmacro %}

{#- One fit per row of `relation` (group_type, group_value, indicator, surveys, strata and
    the covariances partialled on o, population-scaled: syy, sym, syp of y with itself,
    l and h; smm, spp, smp of l and h).

    A fit is made only when it is determined: more surveys than the four coefficients and
    the strata, and l and h not collinear once partialled (det above 1e-9 of smm * spp).
    Below that the system is singular in exact arithmetic and the slopes are rounding
    noise, which differs by engine (DuckDB and Spark sum in different orders). The
    residual degrees of freedom lose one per stratum. -#}
{% macro kano_solve(relation) -%}
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
            from {{ relation }}
        ) as determined
    ) as solved
) as fitted
{%- endmacro %}
