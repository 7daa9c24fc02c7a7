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

-- A client has an outcome on or after a date exactly when their latest outcome is on or after it.
latest_outcome as (
    select e.client_id, max(e.event_date) as latest_outcome_date
    from {{ ref('int_immigration_events') }} e
    join {{ ref('immigration_event_types') }} t using (event_type)
    where t.is_final_outcome
    group by 1
),

cases as (
    select
        cs.case_id,
        cs.client_id,
        cast({{ year_of('cs.intake_date') }} as varchar) as intake_cohort,
        cs.eligibility = 'eligible' as is_eligible,
        cs.referral_date is not null as is_referred,
        coalesce(m.has_filed, false) as has_filed,
        coalesce(m.has_decided, false) as has_decided,
        coalesce(m.has_granted, false) as has_granted,
        coalesce(o.latest_outcome_date >= m.first_granted_date, false) as has_immigration_outcome
    from {{ ref('int_cases') }} cs
    left join motions m using (case_id)
    left join latest_outcome o using (client_id)
),

-- Steps are nested, so a case is counted at every step up to the last one it reached.
reached as (
    select
        case_id,
        client_id,
        intake_cohort,
        case
            when not coalesce(is_eligible, false) then 1
            when not is_referred then 2
            when not has_filed then 3
            when not has_decided then 4
            when not has_granted then 5
            when not has_immigration_outcome then 6
            else 7
        end as last_step
    from cases
),

{% set units = {'case': 'cases', 'client': 'clients'} %}
-- Per cohort (and 'all'), how many cases / clients got no further than each step. A case or
-- client counts once, at the furthest step any of its rows reached. Materialized: PostgreSQL
-- would otherwise inline it into the correlated subquery below and aggregate every case again
-- for each of the cohort's steps (128 s of a 170 s build at 100,000 motions).
{% for unit, counted in units.items() %}
{{ unit }}_last_steps as materialized (
    select cohort, last_step, count(*) as {{ counted }}
    from (
        select
            {{ all_when_rolled_up('intake_cohort') }} as cohort,
            max(last_step) as last_step
        from reached
        where {{ unit }}_id is not null
        group by grouping sets ((intake_cohort, {{ unit }}_id), ({{ unit }}_id))
    ) as furthest
    group by cohort, last_step
),
{% endfor %}

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
        {%- for unit, counted in units.items() %}
        cast(coalesce((select sum(c.{{ counted }}) from {{ unit }}_last_steps c
                       where c.cohort = a.intake_cohort and c.last_step >= a.step_order), 0) as bigint) as {{ counted }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from all_steps a
)

select
    *,
    {{ as_double('cases') }} / nullif(lag(cases) over (partition by intake_cohort order by step_order), 0) as conversion_from_previous,
    {{ as_double('cases') }} / nullif(first_value(cases) over (partition by intake_cohort order by step_order), 0) as conversion_from_screened
from counted
