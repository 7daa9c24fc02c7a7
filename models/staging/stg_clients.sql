select
    client_id,
    a_number_hash,
    intake_date,
    age_at_intake,
    country_of_birth,
    primary_language,
    county_of_residence,
    immigration_status,
    in_removal_proceedings,
    final_removal_order,
    detained_at_intake,
    _load_id as load_id
from {{ source('raw', 'clients') }}
where _is_current
