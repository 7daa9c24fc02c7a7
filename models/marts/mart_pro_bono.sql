-- Pro bono time by partner firm and entry-date quarter, with 'all' rows for every firm and
-- every period (distinct attorney and case counts cannot be summed across rows).
-- Attorneys participating = distinct attorneys who logged time; the share of a firm's
-- attorneys needs its head count, which the exports do not carry.
-- The distinct counts are taken over the distinct (quarter, firm, attorney) and (quarter, firm,
-- case) combinations (2.4M of the 6M time entries at 1M motions): counting distinct values over
-- all entries for each of the four groupings made DuckDB hash the entries eight times.
{% set groupings = "grouping sets ((entry_quarter, partner_firm), (partner_firm), (entry_quarter), ())" %}
with time_spent as (
    select
        grouping(entry_quarter) as all_periods,
        grouping(partner_firm) as all_firms,
        entry_quarter,
        partner_firm,
        sum(hours) as hours,
        sum(value_usd) as value_usd
    from {{ ref('fct_time_entries') }}
    group by {{ groupings }}
),

attorneys as (
    select
        grouping(entry_quarter) as all_periods,
        grouping(partner_firm) as all_firms,
        entry_quarter,
        partner_firm,
        count(distinct attorney_id) as attorneys_participating
    from (select distinct entry_quarter, partner_firm, attorney_id from {{ ref('fct_time_entries') }})
    group by {{ groupings }}
),

cases as (
    select
        grouping(entry_quarter) as all_periods,
        grouping(partner_firm) as all_firms,
        entry_quarter,
        partner_firm,
        count(distinct case_id) as cases_with_time
    from (select distinct entry_quarter, partner_firm, case_id from {{ ref('fct_time_entries') }})
    group by {{ groupings }}
),

totals as (
    select
        case when t.all_periods = 1 then 'all' else t.entry_quarter end as period,
        case when t.all_firms = 1 then 'all' else t.partner_firm end as partner_firm,
        t.hours,
        a.attorneys_participating,
        c.cases_with_time,
        t.value_usd
    from time_spent t
    join attorneys a
        on a.all_periods = t.all_periods and a.all_firms = t.all_firms
        and a.entry_quarter is not distinct from t.entry_quarter and a.partner_firm is not distinct from t.partner_firm
    join cases c
        on c.all_periods = t.all_periods and c.all_firms = t.all_firms
        and c.entry_quarter is not distinct from t.entry_quarter and c.partner_firm is not distinct from t.partner_firm
)

select
    *,
    hours / nullif(cases_with_time, 0) as hours_per_case,
    hours / nullif(attorneys_participating, 0) as hours_per_attorney,
    {{ var('pro_bono_hourly_rate') }} as hourly_rate_usd
from totals
