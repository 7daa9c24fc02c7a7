-- One row per case. Durations run to the state-court decision of the case's last standing
-- motion (latest of each re-filing chain); NULL while any of them is undecided.
with convictions as (
    select
        case_id,
        count(*) as convictions,
        {%- for counted in ['motions', 'motions_filed', 'motions_decided', 'motions_granted', 'standing_motions_undecided'] %}
        cast(sum({{ counted }}) as bigint) as {{ counted }},
        {%- endfor %}
        case when sum(motions_decided) > 0 and sum(standing_motions_undecided) = 0 then max(last_decision_date) end
            as state_court_resolution_date,
        bool_or(involves_confidential_survivor_vehicle) as involves_confidential_survivor_vehicle
    from {{ ref('int_conviction_status') }}
    group by 1
),

-- The immigration outcome that decided the client's removal-avoided status, on the case whose
-- motion gave the relief.
immigration_outcome as (
    select m.case_id, ra.relief_date, ra.deciding_event_date
    from {{ ref('int_removal_avoided') }} ra
    join {{ ref('int_motion_relief') }} m on m.motion_id = ra.deciding_motion_id
    where ra.deciding_event_date is not null
)

select
    cs.case_id,
    cs.client_id,
    cs.exported_client_id,
    cs.intake_date,
    {{ year_of('cs.intake_date') }} as intake_cohort,
    {{ quarter_label('cs.intake_date') }} as intake_quarter,
    cs.eligibility,
    cs.eligibility_date,
    cs.referral_date,
    cs.partner_firm,
    cs.attorney_id,
    cs.case_status,
    cs.closed_date,
    {{- counts_or_zero('cv', ['convictions', 'motions', 'motions_filed', 'motions_decided', 'motions_granted']) }},
    cv.state_court_resolution_date,
    {{ dbt.datediff('cs.referral_date', 'cv.state_court_resolution_date', 'day') }} as days_referral_to_decision,
    {{ dbt.datediff('cs.intake_date', 'cv.state_court_resolution_date', 'day') }} as days_intake_to_decision,
    {{ dbt.datediff('io.relief_date', 'io.deciding_event_date', 'day') }} as days_decision_to_immigration_outcome,
    coalesce(cv.involves_confidential_survivor_vehicle, false) as involves_confidential_survivor_vehicle
from {{ ref('int_cases') }} cs
left join convictions cv using (case_id)
left join immigration_outcome io using (case_id)
