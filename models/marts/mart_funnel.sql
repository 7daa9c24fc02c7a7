-- The case funnel: screened -> eligible -> referred -> filed -> decided -> granted ->
-- immigration outcome. Each step counts cases (and, beside them, distinct clients) that reached
-- it and every step before it, so conversion never exceeds 100%. By intake-year cohort and 'all'.
with motions as (
    select
        case_id,
        bool_or(is_filed) as has_filed,
        bool_or(is_decided) as has_decided,
        bool_or(is_granted) as has_granted,
        min(decision_date) filter (where is_granted) as first_granted_date
    from {{ ref('int_motion_relief') }}
    group by 1
),

outcome_events as (
    select e.client_id, e.event_date
    from {{ ref('stg_immigration_events') }} e
    join {{ ref('immigration_event_types') }} t using (event_type)
    where t.is_final_outcome
),

cases as (
    select
        cs.case_id,
        cs.client_id,
        cast(year(cs.intake_date) as varchar) as intake_cohort,
        cs.eligibility = 'eligible' as is_eligible,
        cs.referral_date is not null as is_referred,
        coalesce(m.has_filed, false) as has_filed,
        coalesce(m.has_decided, false) as has_decided,
        coalesce(m.has_granted, false) as has_granted,
        exists (
            select 1 from outcome_events o
            where o.client_id = cs.client_id and o.event_date >= m.first_granted_date
        ) as has_immigration_outcome
    from {{ ref('stg_cases') }} cs
    left join motions m using (case_id)
),

steps as (
    select case_id, client_id, intake_cohort, 1 as step_order, 'screened' as step from cases
    union all select case_id, client_id, intake_cohort, 2, 'eligible' from cases where is_eligible
    union all select case_id, client_id, intake_cohort, 3, 'referred' from cases where is_eligible and is_referred
    union all select case_id, client_id, intake_cohort, 4, 'filed' from cases where is_eligible and is_referred and has_filed
    union all select case_id, client_id, intake_cohort, 5, 'decided' from cases where is_eligible and is_referred and has_filed and has_decided
    union all select case_id, client_id, intake_cohort, 6, 'granted' from cases where is_eligible and is_referred and has_filed and has_decided and has_granted
    union all select case_id, client_id, intake_cohort, 7, 'immigration_outcome' from cases where is_eligible and is_referred and has_filed and has_decided and has_granted and has_immigration_outcome
),

all_steps as (
    select cohort.intake_cohort, s.step_order, s.step
    from (select distinct intake_cohort from cases union all select 'all') cohort
    cross join (values (1, 'screened'), (2, 'eligible'), (3, 'referred'), (4, 'filed'), (5, 'decided'), (6, 'granted'), (7, 'immigration_outcome')) s(step_order, step)
),

counted as (
    select
        a.intake_cohort,
        a.step_order,
        a.step,
        count(distinct s.case_id) as cases,
        count(distinct s.client_id) as clients
    from all_steps a
    left join steps s
        on s.step_order = a.step_order and (a.intake_cohort = 'all' or s.intake_cohort = a.intake_cohort)
    group by all
)

select
    *,
    cases / nullif(lag(cases) over (partition by intake_cohort order by step_order), 0) as conversion_from_previous,
    cases / nullif(first_value(cases) over (partition by intake_cohort order by step_order), 0) as conversion_from_screened
from counted
