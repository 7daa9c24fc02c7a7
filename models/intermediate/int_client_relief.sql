-- One row per client (a person, int_persons): removal exposure at intake and where their relief stands.
with convictions as (
    select cs.client_id, cv.conviction_id, cv.removal_ground, st.is_cleared
    from {{ ref('stg_convictions') }} cv
    join {{ ref('int_cases') }} cs using (case_id)
    join {{ ref('int_conviction_status') }} st using (conviction_id)
),

conviction_summary as (
    select
        client_id,
        count(*) filter (where removal_ground) as removal_ground_convictions,
        count(*) filter (where removal_ground and is_cleared) as removal_ground_convictions_cleared
    from convictions
    group by 1
),

-- Earliest granted, immigration-effective relief that still stands (latest motion of its chain).
first_relief as (
    select client_id, motion_id, decision_date
    from (
        select
            client_id, motion_id, decision_date,
            row_number() over (partition by client_id order by decision_date, motion_id) as relief_rank
        from {{ ref('int_motion_relief') }}
        where is_chain_final and is_immigration_effective
    ) as ranked
    where relief_rank = 1
),

-- Latest motion still standing, used to place a client without relief in a county and firm.
latest_motion as (
    select client_id, motion_id
    from (
        select
            client_id, motion_id,
            row_number() over (
                partition by client_id
                order by coalesce(decision_date, filing_date) desc nulls last, motion_id desc
            ) as motion_rank
        from {{ ref('int_motion_relief') }}
        where is_chain_final
    ) as ranked
    where motion_rank = 1
),

open_work as (
    select cs.client_id, bool_or(cs.case_status = 'open') as has_open_case
    from {{ ref('int_cases') }} cs
    group by 1
),

pending as (
    select client_id, bool_or(outcome = 'pending') as has_pending_motion
    from {{ ref('int_motion_relief') }}
    where is_chain_final
    group by 1
)

select
    c.client_id,
    coalesce(c.in_removal_proceedings, false) as exposure_in_proceedings,
    coalesce(c.final_removal_order, false) as exposure_final_order,
    coalesce(c.detained_at_intake, false) as exposure_detained,
    coalesce(s.removal_ground_convictions, 0) > 0 as exposure_removal_ground_conviction,
    coalesce(c.in_removal_proceedings, false)
        or coalesce(c.final_removal_order, false)
        or coalesce(c.detained_at_intake, false)
        or coalesce(s.removal_ground_convictions, 0) > 0 as has_removal_exposure,
    coalesce(s.removal_ground_convictions, 0) as removal_ground_convictions,
    coalesce(s.removal_ground_convictions_cleared, 0) as removal_ground_convictions_cleared,
    fr.motion_id as first_effective_relief_motion_id,
    fr.decision_date as first_effective_relief_date,
    lm.motion_id as latest_motion_id,
    coalesce(p.has_pending_motion, false) as has_pending_motion,
    coalesce(o.has_open_case, false) as has_open_case
from {{ ref('int_persons') }} c
left join conviction_summary s using (client_id)
left join first_relief fr using (client_id)
left join latest_motion lm using (client_id)
left join open_work o using (client_id)
left join pending p using (client_id)
