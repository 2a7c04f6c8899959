-- The key includes the day (usage_date / balance_date must equal the business date), and
-- the raw table holds exactly one delivery per business_date: nothing to deduplicate.
with

source as (

    select * from {{ source('boss', 'boss_daily_balances') }}

),

renamed as (

    select
        subscriber_id,
        balance_date,
        balance_yuan,
        credit_limit_yuan,
        arrears_yuan,
        bill_due_date,
        business_date
    from source

)

select * from renamed
