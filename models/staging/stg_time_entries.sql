select
    entry_id,
    case_id,
    partner_firm,
    attorney_id,
    entry_date,
    hours,
    _load_id as load_id
from {{ source('raw', 'time_entries') }}
where _is_current
