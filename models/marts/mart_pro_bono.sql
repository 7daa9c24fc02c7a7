-- Pro bono time by partner firm and entry-date quarter, with 'all' rows for every firm and
-- every period (distinct attorney and case counts cannot be summed across rows).
-- Attorneys participating = distinct attorneys who logged time; the share of a firm's
-- attorneys needs its head count, which the exports do not carry.
with totals as (
    select
        case when grouping(entry_quarter) = 1 then 'all' else entry_quarter end as period,
        case when grouping(partner_firm) = 1 then 'all' else partner_firm end as partner_firm,
        sum(hours) as hours,
        count(distinct attorney_id) as attorneys_participating,
        count(distinct case_id) as cases_with_time,
        sum(value_usd) as value_usd
    from {{ ref('fct_time_entries') }}
    group by grouping sets ((entry_quarter, partner_firm), (partner_firm), (entry_quarter), ())
)

select
    *,
    hours / nullif(cases_with_time, 0) as hours_per_case,
    hours / nullif(attorneys_participating, 0) as hours_per_attorney,
    {{ var('pro_bono_hourly_rate') }} as hourly_rate_usd
from totals
