-- Each motion with its conviction, case and vehicle classification. Joins only; the legal
-- rules are applied in int_motion_relief.
select
    m.motion_id,
    m.conviction_id,
    cv.case_id,
    cs.client_id,
    m.vehicle,
    tx.statute,
    tx.subsection,
    -- A (vehicle, result_type) override re-classifies what a granted order actually did,
    -- e.g. habeas (PC 1473) granted with a sentence-only result is a sentence modification.
    coalesce(ov.relief_kind, tx.relief_kind) as relief_kind,
    coalesce(ov.recognition_class, tx.recognition_class) as vehicle_recognition_class,
    ov.vehicle is not null as is_result_override_applied,
    tx.requires_defect_ground,
    tx.is_confidential_survivor_vehicle,
    cv.county,
    cs.partner_firm,
    cs.attorney_id,
    cs.intake_date as case_intake_date,
    cs.referral_date,
    cv.conviction_date,
    cv.removal_ground as conviction_is_removal_ground,
    -- The motion's own recorded columns as staged, filing_date to disposition_after_vacatur.
    {{ star_except(ref('stg_motions'), 'm', ['motion_id', 'conviction_id', 'vehicle', 'load_id']) }},
    -- Its place in its re-filing chain (int_motion_chains).
    {{ star_except(ref('int_motion_chains'), 'ch', ['motion_id']) }}
from {{ ref('stg_motions') }} m
join {{ ref('stg_convictions') }} cv using (conviction_id)
join {{ ref('int_cases') }} cs on cs.case_id = cv.case_id
left join {{ ref('vehicle_taxonomy') }} tx on tx.vehicle = m.vehicle
left join {{ ref('relief_result_overrides') }} ov
    on ov.vehicle = m.vehicle and ov.result_type = m.result_type
    and m.outcome in ('granted', 'granted_in_part')
left join {{ ref('int_motion_chains') }} ch using (motion_id)
