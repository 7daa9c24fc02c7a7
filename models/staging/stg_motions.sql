select
    motion_id,
    conviction_id,
    vehicle,
    filing_date,
    hearing_date,
    decision_date,
    outcome,
    result_type,
    grant_ground,
    order_states_ground,
    order_cites_subsection,
    relied_on_relief,
    refiled_from_motion_id,
    disposition_after_vacatur,
    _load_id as load_id
from {{ source('raw', 'motions') }}
where _is_current
