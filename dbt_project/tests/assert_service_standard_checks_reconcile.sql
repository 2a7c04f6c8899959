-- Each audited case's item counts once in each kind of customer group (brand x tier x
-- ARPU band, family, enterprise, city): the four partitions hold the same number of
-- audits. No group has more compliant checks than checks.
with

compliance as (

    select * from {{ ref('int_service_standard_compliance') }}

),

audit_totals as (

    select
        group_type,
        sum(checks) as checks
    from compliance
    where method = 'pt'
    group by group_type

),

unequal as (

    select 'audits counted unequally across the group kinds' as problem
    from audit_totals
    having count(distinct checks) > 1

),

overcounted as (

    select 'more compliant checks than checks' as problem
    from compliance
    where compliant_checks > checks or compliant_checks < 0

)

select * from unequal
union all
select * from overcounted
