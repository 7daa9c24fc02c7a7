-- One row per case. Durations run to the state-court decision of the case's last standing
-- motion (latest of each re-filing chain); NULL while any of them is undecided.
with motions as (
    select
        case_id,
        count(*) as motions,
        count(*) filter (where is_filed) as motions_filed,
        count(*) filter (where is_decided) as motions_decided,
        count(*) filter (where is_granted) as motions_granted,
        count(*) filter (where is_chain_final and not is_decided) as standing_motions_undecided,
        max(decision_date) filter (where is_chain_final and is_decided) as last_decision_date,
        bool_or(is_confidential_survivor_vehicle) as involves_confidential_survivor_vehicle
    from {{ ref('int_motion_relief') }}
    group by 1
),

-- The immigration outcome that decided the client's removal-avoided status, on the case whose
-- motion gave the relief.
immigration_outcome as (
    select m.case_id, ra.relief_date, ra.deciding_event_date
    from {{ ref('int_removal_avoided') }} ra
    join {{ ref('int_motion_relief') }} m on m.motion_id = ra.deciding_motion_id
    where ra.deciding_event_date is not null
),

convictions as (
    select case_id, count(*) as convictions
    from {{ ref('stg_convictions') }}
    group by 1
)

select
    cs.case_id,
    cs.client_id,
    cs.exported_client_id,
    cs.intake_date,
    year(cs.intake_date) as intake_cohort,
    {{ quarter_label('cs.intake_date') }} as intake_quarter,
    cs.eligibility,
    cs.eligibility_date,
    cs.referral_date,
    cs.partner_firm,
    cs.attorney_id,
    cs.case_status,
    cs.closed_date,
    coalesce(cv.convictions, 0) as convictions,
    coalesce(m.motions, 0) as motions,
    coalesce(m.motions_filed, 0) as motions_filed,
    coalesce(m.motions_decided, 0) as motions_decided,
    coalesce(m.motions_granted, 0) as motions_granted,
    case when m.motions_decided > 0 and m.standing_motions_undecided = 0 then m.last_decision_date end
        as state_court_resolution_date,
    date_diff('day', cs.referral_date, state_court_resolution_date) as days_referral_to_decision,
    date_diff('day', cs.intake_date, state_court_resolution_date) as days_intake_to_decision,
    date_diff('day', io.relief_date, io.deciding_event_date) as days_decision_to_immigration_outcome,
    coalesce(m.involves_confidential_survivor_vehicle, false) as involves_confidential_survivor_vehicle
from {{ ref('int_cases') }} cs
left join convictions cv using (case_id)
left join motions m using (case_id)
left join immigration_outcome io using (case_id)
