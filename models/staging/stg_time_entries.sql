select
    trim(entry_id) as entry_id,
    trim(case_id) as case_id,
    nullif(trim(partner_firm), '') as partner_firm,
    trim(attorney_id) as attorney_id,
    entry_date,
    hours,
    _load_id as load_id
from {{ source('raw', 'time_entries') }}
where _is_current
