-- The three measurements side by side, linked through the service standard
-- (docs/domain.md#three-measurements): per customer group and standard item, what customers
-- feel about the item's indicator (the CSI survey: performance, shortfall, short board)
-- next to what the mystery shoppers (ms) or the process audits (pt) found (compliance, its
-- 95% interval, elapsed time). The item's channel or process says where it is checked, so a
-- city group reads as its stores and hotline (ms) and its processes (pt).
with

compliance as (

    select * from {{ ref('int_service_standard_compliance') }}

),

boards as (

    select * from {{ ref('rpt_satisfaction_short_boards') }}

),

final as (

    select
        compliance.as_of_date,
        compliance.group_type,
        compliance.group_value,
        compliance.indicator,
        boards.surveys,
        boards.performance as csi_performance,
        boards.shortfall as csi_shortfall,
        boards.pull_down_rank,
        coalesce(boards.is_short_board, false) as is_short_board,
        compliance.item_code,
        compliance.method,
        compliance.checked_in,
        case when compliance.method = 'ms' then compliance.checks end as ms_checks,
        case when compliance.method = 'ms' then compliance.compliance end as ms_compliance,
        case when compliance.method = 'pt' then compliance.checks end as pt_audits,
        case when compliance.method = 'pt' then compliance.compliance end as pt_compliance,
        compliance.compliance_lower,
        compliance.compliance_upper,
        compliance.time_limit_minutes,
        compliance.avg_elapsed_minutes,
        compliance.is_weak_item
    from compliance
    left join boards
        on compliance.group_type = boards.group_type
            and compliance.group_value = boards.group_value
            and compliance.indicator = boards.indicator

)

{{ select_bigint_counts('final', ['surveys']) }}
