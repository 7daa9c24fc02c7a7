-- Re-filing chains. A motion that re-files an earlier one (refiled_from_motion_id) supersedes
-- it; the chain's latest motion decides the conviction's final state, while every motion still
-- counts as a motion. Chains are walked from their roots; a cycle in the data leaves its
-- motions without a chain (the not_null test on chain_root_motion_id then fails).
with recursive walk as (
    select
        motion_id,
        motion_id as chain_root_motion_id,
        1 as chain_position
    from {{ ref('stg_motions') }}
    where refiled_from_motion_id is null

    union all

    select
        m.motion_id,
        w.chain_root_motion_id,
        w.chain_position + 1
    from {{ ref('stg_motions') }} m
    join walk w on m.refiled_from_motion_id = w.motion_id
    where w.chain_position < 100
),

successors as (
    select refiled_from_motion_id as motion_id, min(motion_id) as superseded_by_motion_id
    from {{ ref('stg_motions') }}
    where refiled_from_motion_id is not null
    group by 1
)

select
    m.motion_id,
    w.chain_root_motion_id,
    w.chain_position,
    s.superseded_by_motion_id,
    s.superseded_by_motion_id is not null as is_superseded,
    -- Branching chains (two motions re-filing the same one) are resolved by taking the deepest,
    -- then the latest filed: exactly one final motion per chain.
    row_number() over (
        partition by w.chain_root_motion_id
        order by w.chain_position desc, m.filing_date desc nulls last, m.motion_id desc
    ) = 1 as is_chain_final
from {{ ref('stg_motions') }} m
left join walk w using (motion_id)
left join successors s using (motion_id)
