select
    trim(case_id) as case_id,
    trim(client_id) as client_id,
    intake_date,
    eligibility,
    eligibility_date,
    referral_date,
    nullif(trim(partner_firm), '') as partner_firm,
    nullif(trim(attorney_id), '') as attorney_id,
    case_status,
    closed_date,
    _load_id as load_id
from {{ source('raw', 'cases') }}
where _is_current
