-- Granted motions at the grain the overview and vacaturs pages group and filter them on
-- (vehicle, recognition class, relief kind, quarter of the decision, county, firm), so a page
-- groups this instead of every motion.
select
    vehicle,
    is_confidential_survivor_vehicle,
    effective_recognition_class,
    relief_kind,
    decision_quarter,
    county,
    partner_firm,
    count(*) as motions
from {{ ref('fct_motions') }}
where is_granted
group by 1, 2, 3, 4, 5, 6, 7
