-- One row per immigration event, placed against the client's first immigration-effective relief.
select
    e.event_id,
    e.client_id,
    e.event_type,
    e.event_date,
    {{ quarter_label('e.event_date') }} as event_quarter,
    t.outcome_class,
    t.is_final_outcome,
    r.first_effective_relief_date,
    coalesce(e.event_date >= r.first_effective_relief_date, false) as is_after_effective_relief,
    coalesce(ra.deciding_event_id = e.event_id, false) as decides_removal_avoided_status
from {{ ref('int_immigration_events') }} e
join {{ ref('immigration_event_types') }} t using (event_type)
join {{ ref('int_client_relief') }} r using (client_id)
left join {{ ref('int_removal_avoided') }} ra using (client_id)
