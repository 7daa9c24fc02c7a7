select
    trim(conviction_id) as conviction_id,
    trim(case_id) as case_id,
    county,
    court_case_number_hash,
    nullif(trim(offense_code), '') as offense_code,
    offense_level,
    conviction_date,
    removal_ground,
    removal_ground_type,
    _load_id as load_id
from {{ source('raw', 'convictions') }}
where _is_current
