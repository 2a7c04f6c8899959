{#- The contact tier (docs/domain.md#tiers-and-phone-managers): VIP and four stars and
    above get a phone manager, below four stars get SMS. -#}
{% macro customer_tier(is_vip, star_level) -%}
    case
        when {{ is_vip }} then 'vip'
        when {{ star_level }} >= 4 then 'four_star_plus'
        else 'below_four_star'
    end
{%- endmacro %}

{% macro brand_code(brand) -%}
    case {{ brand }}
        when '全球通' then 'gotone'
        when '动感地带' then 'mzone'
        when '神州行' then 'easyown'
    end
{%- endmacro %}
