-- Granted motions by decision quarter, vehicle, county and partner firm, split by what the
-- relief is. Vacaturs are split by effective recognition class; offense reductions, sentence
-- modifications and rehabilitative relief (expungements, Prop 64, PC 1385 alone) sit beside
-- them in their own columns and are never part of "vacaturs". Every count is of motions.
select
    m.decision_quarter,
    m.vehicle,
    m.county,
    coalesce(m.partner_firm, '(none)') as partner_firm,
    -- One taxonomy row per vehicle, so each group holds one value of these.
    min(tx.recognition_class) as vehicle_recognition_class,
    bool_and(tx.is_confidential_survivor_vehicle) as is_confidential_survivor_vehicle,
    count(*) as motions_granted,
    count(*) filter (where is_vacatur_granted) as vacaturs_granted,
    count(*) filter (where is_vacatur_granted and effective_recognition_class = 'vacatur_recognized') as vacaturs_recognized,
    count(*) filter (where is_vacatur_granted and effective_recognition_class = 'uncertain') as vacaturs_uncertain,
    count(*) filter (where is_vacatur_granted and effective_recognition_class = 'not_recognized') as vacaturs_not_recognized,
    count(*) filter (where is_offense_reduction_granted) as offense_reductions_granted,
    count(*) filter (where is_sentence_modification_granted) as sentence_modifications_granted,
    count(*) filter (where is_sentence_modification_granted and is_sentence_modification_honoured) as sentence_modifications_honoured,
    count(*) filter (where is_sentence_modification_granted and not is_sentence_modification_honoured) as sentence_modifications_not_honoured,
    count(*) filter (where is_rehabilitative_granted) as rehabilitative_granted,
    count(*) filter (where is_immigration_effective) as immigration_effective_granted,
    count(*) filter (where is_order_at_risk) as orders_at_risk
from {{ ref('fct_motions') }} m
join {{ ref('vehicle_taxonomy') }} tx using (vehicle)
where m.is_granted
group by m.decision_quarter, m.vehicle, m.county, coalesce(m.partner_firm, '(none)')
