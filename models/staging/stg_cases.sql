select
    case_id,
    client_id,
    intake_date,
    eligibility,
    eligibility_date,
    referral_date,
    partner_firm,
    attorney_id,
    case_status,
    closed_date,
    _load_id as load_id
from {{ source('raw', 'cases') }}
where _is_current
