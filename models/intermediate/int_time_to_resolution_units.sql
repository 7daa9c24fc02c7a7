-- Survival-analysis units, one row per (measure, unit): how long from the start date until
-- the event, or until censoring for work still open at the as-of date (docs/glossary.md,
-- "Time to resolution"). Withdrawn motions leave observation without a decision: censored at
-- their withdrawal date.
with as_of as (
    select as_of_date from {{ ref('int_as_of_date') }}
),

motions as (
    select
        *,
        {{ year_of('case_intake_date') }} as intake_cohort,
        case when is_decided then decision_date end as decided_on,
        case when outcome = 'withdrawn' then decision_date end as withdrawn_on
    from {{ ref('int_motion_relief') }}
),

relief_outcomes as (
    select
        r.client_id,
        r.deciding_motion_id,
        r.relief_date,
        r.deciding_event_date
    from {{ ref('int_removal_avoided') }} r
    where r.relief_date is not null
),

starts as (
    -- A re-filing chain, from the case's referral / intake to the decision of its latest motion.
    select
        'referral_to_decision' as measure, 'motion_chain' as unit_type, chain_root_motion_id as unit_id,
        referral_date as start_date, decided_on as event_on, withdrawn_on as censored_on,
        vehicle, county, partner_firm, intake_cohort
    from motions
    where is_chain_final and referral_date is not null
    union all
    select
        'intake_to_decision', 'motion_chain', chain_root_motion_id,
        case_intake_date, decided_on, withdrawn_on,
        vehicle, county, partner_firm, intake_cohort
    from motions
    where is_chain_final
    union all
    -- Every filed motion on its own, re-filed ones included.
    select
        'filing_to_decision', 'motion', motion_id,
        filing_date, decided_on, withdrawn_on,
        vehicle, county, partner_firm, intake_cohort
    from motions
    where is_filed
    union all
    -- A client's first immigration-effective relief to the immigration outcome that decided
    -- their removal-avoided status.
    select
        'decision_to_immigration_outcome', 'client', ro.client_id,
        ro.relief_date, ro.deciding_event_date, null,
        m.vehicle, m.county, m.partner_firm, m.intake_cohort
    from relief_outcomes ro
    join motions m on m.motion_id = ro.deciding_motion_id
)

select
    *,
    {{ dbt.datediff('start_date', 'end_date', 'day') }} as duration_days
from (
    select
        s.measure,
        s.unit_type,
        s.unit_id,
        s.vehicle,
        s.county,
        s.partner_firm,
        s.intake_cohort,
        s.start_date,
        coalesce(s.event_on <= a.as_of_date, false) as is_event,
        case
            when s.event_on <= a.as_of_date then s.event_on
            else least(coalesce(s.censored_on, a.as_of_date), a.as_of_date)
        end as end_date
    from starts s
    cross join as_of a
    where s.start_date <= a.as_of_date
) as units
