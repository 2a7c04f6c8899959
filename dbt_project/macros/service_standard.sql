{#- The Wilson score interval's bound (95%) of a share p observed over n checks: sign -1
    the lower bound, +1 the upper. Sound for small n and for p near 0 or 1, where the
    normal approximation is not; clamped to [0, 1] against rounding at p = 0 or 1. The
    constants are double literals (e0): Spark divides decimals to six places. -#}
{% macro wilson_bound(p, n, sign) -%}
    least(1.0, greatest(0.0, (
        ({{ p }}) + 1.9208e0 / ({{ n }})
        + ({{ sign }}) * 1.96 * sqrt(
            ({{ p }}) * (1 - ({{ p }})) / ({{ n }}) + 0.9604e0 / (({{ n }}) * ({{ n }}))
        )
    ) / (1 + 3.8416e0 / ({{ n }}))))
{%- endmacro %}

{#- The satisfaction window: the `survey_window_days` (90) business dates up to the
    surveys' as-of date, or, with `to`, up to that date (a column: the window each row
    of a daily table closes). -#}
{% macro in_survey_window(column='business_date', to=none) -%}
    {%- set last = to or as_of_date(ref('stg_bi__satisfaction_surveys')) -%}
    {{ column }}
    > {{ dbt.dateadd('day', -var('survey_window_days'), last) }}
    and {{ column }} <= {{ last }}
{%- endmacro %}

{#- The customer groups of the short boards, one union branch per kind of group: brand x
    tier x ARPU band, family membership, enterprise membership and city. `relation` needs
    brand_code, customer_tier, arpu_band, is_family_member, is_enterprise_member and city;
    `columns` are carried through, if any (`distinct`: one row per group and columns).
    `with_brand` adds the brand alone, for analyses that need more surveys per group. -#}
{% macro customer_groups(relation, columns=none, distinct=false, with_brand=false) -%}
    {%- set groups = [] if not with_brand else [('brand', 'brand_code')] -%}
    {%- set groups = groups + [
        ('brand_tier_arpu', "concat_ws(' / ', brand_code, customer_tier, arpu_band)"),
        ('family_membership',
            "case when is_family_member then 'family_member' else 'not_family_member' end"),
        ('enterprise_membership',
            "case when is_enterprise_member then 'enterprise_member'"
            ~ " else 'not_enterprise_member' end"),
        ('city', 'city'),
    ] -%}
    {%- for group_type, group_value in groups %}
        select{% if distinct %} distinct{% endif %}
            '{{ group_type }}' as group_type,
            {{ group_value }} as group_value{% if columns %},
            {{ columns }}{% endif %}
        from {{ relation }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- A phone interview longer than phone_survey_max_seconds: its answers degrade
    (docs/domain.md#three-measurements). -#}
{% macro is_long_phone_survey(channel='survey_channel', seconds='duration_seconds') -%}
    coalesce({{ channel }} = 'phone' and {{ seconds }} > {{ var('phone_survey_max_seconds') }}, false)
{%- endmacro %}

{#- The satisfaction indicators a survey scores (score_<indicator> columns). -#}
{% macro satisfaction_indicators() -%}
    {{ return(['network', 'tariff', 'billing', 'hotline', 'store', 'reminders']) }}
{%- endmacro %}
