-- Customers with history (SCD type 2): one row per customer per period in which its
-- CRM record (tier, city, groups, opt-out) did not change. Name and birth date stay in
-- staging: they are PII and no mart needs them.
with

versions as (

    select * from {{ ref('int_customer_versions') }}

),

final as (

    select
        {{ dbt.hash(dbt.concat(['cast(customer_id as ' ~ dbt.type_string() ~ ')', "'|'",
            'cast(business_date as ' ~ dbt.type_string() ~ ')'])) }} as customer_version_key,
        customer_id,
        gender,
        city,
        star_level,
        is_vip,
        {{ customer_tier('is_vip', 'star_level') }} as customer_tier,
        family_group_id,
        enterprise_group_id,
        join_date,
        is_marketing_opt_out,
        business_date as valid_from,
        lead(business_date) over (partition by customer_id order by business_date)
            as valid_to,
        lead(business_date) over (partition by customer_id order by business_date) is null
            as is_current
    from versions

)

select * from final
