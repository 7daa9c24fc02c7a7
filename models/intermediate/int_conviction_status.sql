-- One row per conviction: its motions counted, and its final state, read from the latest motion
-- of each re-filing chain (a denied motion that was re-filed no longer decides anything).
-- fct_cases adds these up per case.
with per_conviction as (
    select
        conviction_id,
        count(*) as motions,
        count(*) filter (where is_superseded) as superseded_motions,
        count(*) filter (where is_chain_final) as chains,
        count(*) filter (where is_filed) as motions_filed,
        count(*) filter (where is_decided) as motions_decided,
        count(*) filter (where is_granted) as motions_granted,
        count(*) filter (where is_chain_final and not is_decided) as standing_motions_undecided,
        max(decision_date) filter (where is_chain_final and is_decided) as last_decision_date,
        bool_or(is_confidential_survivor_vehicle) as involves_confidential_survivor_vehicle,
        bool_or(is_immigration_effective) filter (where is_chain_final) as is_cleared,
        min(case when is_immigration_effective then decision_date end) filter (where is_chain_final) as cleared_date,
        bool_or(is_vacatur_granted) filter (where is_chain_final) as is_vacated,
        bool_or(is_granted) filter (where is_chain_final) as has_granted_relief,
        bool_or(outcome = 'pending') filter (where is_chain_final) as has_pending_motion,
        bool_or(outcome = 'denied') filter (where is_chain_final) as has_denied_final_motion,
        bool_or(outcome = 'withdrawn') filter (where is_chain_final) as has_withdrawn_final_motion
    from {{ ref('int_motion_relief') }}
    group by 1
)

select
    cv.conviction_id,
    cv.case_id,
    {{- counts_or_zero('pc', ['motions', 'superseded_motions', 'chains', 'motions_filed', 'motions_decided',
                              'motions_granted', 'standing_motions_undecided']) }},
    pc.last_decision_date,
    coalesce(pc.involves_confidential_survivor_vehicle, false) as involves_confidential_survivor_vehicle,
    coalesce(pc.is_cleared, false) as is_cleared,
    pc.cleared_date,
    coalesce(pc.is_vacated, false) as is_vacated,
    -- Precedence when chains disagree: cleared > pending > granted (no effect) > denied > withdrawn.
    case
        when pc.is_cleared then 'cleared'
        when pc.has_pending_motion then 'pending'
        when pc.has_granted_relief then 'granted_not_effective'
        when pc.has_denied_final_motion then 'denied'
        when pc.has_withdrawn_final_motion then 'withdrawn'
        else 'no_motion'
    end as relief_status
from {{ ref('stg_convictions') }} cv
left join per_conviction pc using (conviction_id)
