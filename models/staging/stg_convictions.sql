select
    conviction_id,
    case_id,
    county,
    court_case_number_hash,
    offense_code,
    offense_level,
    conviction_date,
    removal_ground,
    removal_ground_type,
    _load_id as load_id
from {{ source('raw', 'convictions') }}
where _is_current
