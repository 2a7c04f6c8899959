-- A KANO class is named only on its evidence (rpt_satisfaction_kano): enough surveys and
-- the contrast's whole 95% interval inside the class's region; a one-dimensional need also
-- has both slopes above zero. Any row returned is a class named without it.
{%- set margin = var('kano_margin') %}
select *
from {{ ref('rpt_satisfaction_kano') }}
where
    kano_class != 'undetermined'
    and (
        surveys < {{ var('kano_min_surveys') }}
        or evidence != 'interval_within_class'
        or kano_class != leaning_class
        or (kano_class = 'must_be' and not contrast_low > {{ margin }})
        or (kano_class = 'attractive' and not contrast_high < -{{ margin }})
        or (
            kano_class = 'one_dimensional'
            and not (
                contrast_low >= -{{ margin }}
                and contrast_high <= {{ margin }}
                and penalty - 1.96 * penalty_se > 0
                and reward - 1.96 * reward_se > 0
            )
        )
    )
