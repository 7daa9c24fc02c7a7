-- Pro bono time by partner firm and entry-date quarter, with 'all' rows for every firm and
-- every period. Attorneys participating = distinct attorneys who logged time; the share of a
-- firm's attorneys needs its head count, which the exports do not carry.
-- Rolled up from mart_dashboard_pro_bono, whose count columns sum to the distinct counts of
-- fct_time_entries for each kind of row here, so the time entries are counted once, there.
with by_firm_quarter as (
    select * from {{ ref('mart_dashboard_pro_bono') }}
),

totals as (
    select
        entry_quarter as period, partner_firm, hours,
        attorneys_quarter as attorneys_participating, cases_quarter as cases_with_time, value_usd
    from by_firm_quarter
    union all
    select
        'all', partner_firm, sum(hours),
        sum(attorneys_all_time), sum(cases_all_time), sum(value_usd)
    from by_firm_quarter
    group by partner_firm
    union all
    select
        entry_quarter, 'all', sum(hours),
        sum(program_attorneys_quarter), sum(program_cases_quarter), sum(value_usd)
    from by_firm_quarter
    group by entry_quarter
    union all
    select
        'all', 'all', sum(hours),
        coalesce(sum(program_attorneys_all_time), 0), coalesce(sum(program_cases_all_time), 0), sum(value_usd)
    from by_firm_quarter  -- one row even without time entries, counting 0 (as count(distinct) did)
)

select
    period,
    partner_firm,
    hours,
    attorneys_participating::bigint as attorneys_participating,
    cases_with_time::bigint as cases_with_time,
    value_usd,
    {{ as_double('hours') }} / nullif(cases_with_time, 0) as hours_per_case,
    {{ as_double('hours') }} / nullif(attorneys_participating, 0) as hours_per_attorney,
    {{ var('pro_bono_hourly_rate') }} as hourly_rate_usd
from totals
