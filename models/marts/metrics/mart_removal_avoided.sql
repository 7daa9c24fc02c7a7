-- Removal avoided, one row per client with removal exposure at intake, with the evidence that
-- decided the status. County and firm come from the deciding relief motion, or, for clients
-- without effective relief, from their latest standing motion ('(none)' when they have none),
-- so every client sits in exactly one county and one firm.
select
    ra.client_id,
    ra.removal_avoided_status,
    ra.exposure_in_proceedings,
    ra.exposure_final_order,
    ra.exposure_detained,
    ra.exposure_removal_ground_conviction,
    ra.removal_ground_convictions,
    ra.removal_ground_convictions_cleared,
    ra.deciding_motion_id,
    ra.relief_date,
    ra.deciding_event_id,
    ra.deciding_event_type,
    ra.deciding_event_date,
    ra.status_date,
    coalesce({{ quarter_label('ra.status_date') }}, 'none') as status_quarter,
    coalesce(m.county, '(none)') as county,
    coalesce(m.partner_firm, '(none)') as partner_firm,
    coalesce(m.is_confidential_survivor_vehicle, false) as is_confidential_survivor_vehicle
from {{ ref('int_removal_avoided') }} ra
left join {{ ref('int_motion_relief') }} m on m.motion_id = ra.attribution_motion_id
