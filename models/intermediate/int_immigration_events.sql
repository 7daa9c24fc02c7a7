-- Immigration events with their client as a person (int_client_persons): an outcome recorded
-- under either client id of one person is that person's outcome.
select
    e.event_id,
    coalesce(p.client_id, e.client_id) as client_id,
    e.client_id as exported_client_id,
    e.event_type,
    e.event_date,
    e.load_id
from {{ ref('stg_immigration_events') }} e
left join {{ ref('int_client_persons') }} p on p.exported_client_id = e.client_id
