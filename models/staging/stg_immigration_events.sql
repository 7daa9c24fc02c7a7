select
    event_id,
    client_id,
    event_type,
    event_date,
    _load_id as load_id
from {{ source('raw', 'immigration_events') }}
where _is_current
