-- Subscribers with history (SCD type 2): one row per subscriber per period in which
-- its profile (brand, plan, status, tier, city, ARPU band, groups) did not change.
with

versions as (

    select * from {{ ref('int_subscriber_versions') }}

),

final as (

    select
        {{ dbt.hash(dbt.concat(['cast(subscriber_id as ' ~ dbt.type_string() ~ ')', "'|'",
            'cast(business_date as ' ~ dbt.type_string() ~ ')'])) }} as subscriber_version_key,
        subscriber_id,
        customer_id,
        brand_code,
        pay_type,
        price_plan_id,
        status,
        star_level,
        is_vip,
        customer_tier,
        city,
        arpu_band,
        is_family_member,
        is_enterprise_member,
        business_date as valid_from,
        lead(business_date) over (partition by subscriber_id order by business_date)
            as valid_to,
        lead(business_date) over (partition by subscriber_id order by business_date) is null
            as is_current
    from versions

)

select * from final
