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

),

-- An event re-sent in a later delivery keeps only its latest version.
deduplicated as (

    {{ latest_delivery('renamed', ['subscriber_id', 'balance_date'], ['subscriber_id', 'balance_date', 'balance_yuan', 'credit_limit_yuan', 'arrears_yuan', 'bill_due_date', 'business_date']) }}

)

select * from deduplicated
