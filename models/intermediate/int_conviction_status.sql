{{ config(materialized="table") }}
-- One row per conviction: its final state, read from the latest motion of each re-filing chain
-- (a denied motion that was re-filed no longer decides anything).
with finals as (
    select * from {{ ref('int_motion_relief') }} where is_chain_final
),

per_conviction as (
    select
        conviction_id,
        count(*) as chains,
        bool_or(is_immigration_effective) as is_cleared,
        min(case when is_immigration_effective then decision_date end) as cleared_date,
        bool_or(is_vacatur_granted) as is_vacated,
        bool_or(is_granted) as has_granted_relief,
        bool_or(outcome = 'pending') as has_pending_motion,
        bool_or(outcome = 'denied') as has_denied_final_motion,
        bool_or(outcome = 'withdrawn') as has_withdrawn_final_motion
    from finals
    group by 1
),

all_motions as (
    select conviction_id, count(*) as motions, count(*) filter (where is_superseded) as superseded_motions
    from {{ ref('int_motion_relief') }}
    group by 1
)

select
    cv.conviction_id,
    cv.case_id,
    coalesce(am.motions, 0) as motions,
    coalesce(am.superseded_motions, 0) as superseded_motions,
    coalesce(pc.chains, 0) as chains,
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
left join all_motions am using (conviction_id)
