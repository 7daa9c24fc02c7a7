select
    trim(client_id) as client_id,
    a_number_hash,
    intake_date,
    age_at_intake,
    nullif(trim(country_of_birth), '') as country_of_birth,
    nullif(trim(primary_language), '') as primary_language,
    county_of_residence,
    immigration_status,
    in_removal_proceedings,
    final_removal_order,
    detained_at_intake,
    _load_id as load_id
from {{ source('raw', 'clients') }}
where _is_current
