-- Motions by outcome for the vacaturs page, at the grain it groups and filters on: decided
-- motions count in the quarter of the decision, pending ones in the quarter of filing
-- (outcome_quarter), so a page groups this instead of every motion.
select
    vehicle_recognition_class,
    vehicle,
    is_confidential_survivor_vehicle,
    outcome,
    county,
    partner_firm,
    case when outcome = 'pending' then filing_quarter else decision_quarter end as outcome_quarter,
    count(*) as motions
from {{ ref('fct_motions') }}
where (outcome <> 'pending' and decision_date is not null) or (outcome = 'pending' and is_filed)
group by 1, 2, 3, 4, 5, 6, 7
