-- Each care-activity member with the satisfaction interview before the activity (the
-- latest in the 7 days before it starts) and after it (the first in the 10 days after it
-- ends), and the group the member is in: participant, target non-participant, control.
with

campaigns as (

    select * from {{ ref('int_campaigns') }}
    where campaign_type = 'care'

),

members as (

    select * from {{ ref('int_campaign_members_latest') }}

),

surveys as (

    select * from {{ ref('stg_bi__satisfaction_surveys') }}

),

profiles as (

    select * from {{ ref('int_subscriber_profiles') }}

),

member_surveys as (

    select
        members.campaign_id,
        members.customer_id,
        members.subscriber_id,
        members.member_group,
        members.reached_at,
        members.participated_at,
        campaigns.start_date,
        campaigns.end_date,
        surveys.survey_date,
        surveys.survey_id,
        surveys.overall_score,
        case
            when surveys.survey_date < campaigns.start_date then 'before'
            else 'after'
        end as wave
    from members
    inner join campaigns on members.campaign_id = campaigns.campaign_id
    inner join surveys
        on members.customer_id = surveys.customer_id
            and (
                (
                    surveys.survey_date >= {{ dbt.dateadd('day', -7, 'campaigns.start_date') }}
                    and campaigns.start_date > surveys.survey_date
                )
                or (
                    campaigns.end_date < surveys.survey_date
                    and surveys.survey_date <= {{ dbt.dateadd('day', 10, 'campaigns.end_date') }}
                )
            )

),

ranked as (

    select
        member_surveys.*,
        row_number() over (
            partition by campaign_id, customer_id, wave
            order by
                case when wave = 'before' then survey_date end desc,
                case when wave = 'after' then survey_date end asc,
                survey_id
        ) as wave_rank
    from member_surveys

),

paired as (

    select
        campaign_id,
        customer_id,
        max(subscriber_id) as subscriber_id,
        max(member_group) as member_group,
        max(reached_at) as reached_at,
        max(participated_at) as participated_at,
        max(start_date) as start_date,
        max(case when wave = 'before' then overall_score end) as score_before,
        max(case when wave = 'after' then overall_score end) as score_after
    from ranked
    where wave_rank = 1
    group by campaign_id, customer_id

),

final as (

    select
        paired.campaign_id,
        paired.customer_id,
        paired.subscriber_id,
        paired.member_group,
        case
            when paired.member_group = 'control' then 'control'
            when paired.participated_at is not null then 'participant'
            else 'target_non_participant'
        end as lift_group,
        coalesce(profiles.brand_code, 'unknown') as brand_code,
        paired.score_before,
        paired.score_after,
        paired.score_after - paired.score_before as score_change
    from paired
    left join profiles
        on paired.subscriber_id = profiles.subscriber_id
            and paired.start_date = profiles.business_date
    where paired.score_before is not null and paired.score_after is not null

)

select * from final
