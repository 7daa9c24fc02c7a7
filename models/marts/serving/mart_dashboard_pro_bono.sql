-- Pro bono time by partner firm and entry quarter, for the dashboards: they filter by firm and
-- by period (all time, a year or a quarter) and count distinct cases and attorneys without
-- reading the time entries at each page view. A distinct count does not add up across rows, so
-- each case (attorney) is counted on one row per period of each kind it logged time in:
-- *_quarter on every quarter, *_year on its first quarter of each year, *_all_time on its first
-- quarter. Summing the column of the period's kind over the period's rows gives
-- count(distinct ...) of fct_time_entries. cases_* and attorneys_* count within a firm (for
-- counts grouped or filtered by firm); program_cases_* and program_attorneys_* count a case or
-- an attorney once across firms (on the first firm by name of that first quarter), for counts
-- over all firms. mart_pro_bono is rolled up from this table.
with work as (
    select
        partner_firm, entry_quarter, left(entry_quarter, 4) as entry_year, case_id, attorney_id,
        sum(hours) as hours, sum(value_usd) as value_usd
    from {{ ref('fct_time_entries') }}
    group by partner_firm, entry_quarter, case_id, attorney_id
),

-- Per firm and quarter, each case (attorney) counted on the rows described above. "First" =
-- the previous row of the same case (attorney), in the window's order, is in another year
-- (quarter), or there is none: within a firm for *_year and *_all_time, across firms for program_*.
{% for id, counted in {'case_id': 'cases', 'attorney_id': 'attorneys'}.items() %}
{{ counted }} as (
    select
        partner_firm,
        entry_quarter,
        count(*) as {{ counted }}_quarter,
        count(*) filter (where is_year_first) as {{ counted }}_year,
        count(*) filter (where is_first) as {{ counted }}_all_time,
        count(*) filter (where is_program_quarter_first) as program_{{ counted }}_quarter,
        count(*) filter (where is_program_year_first) as program_{{ counted }}_year,
        count(*) filter (where is_program_first) as program_{{ counted }}_all_time
    from (
        select
            partner_firm,
            entry_quarter,
            lag({{ id }}) over in_firm is null
                or entry_year is distinct from lag(entry_year) over in_firm as is_year_first,
            lag({{ id }}) over in_firm is null as is_first,
            lag({{ id }}) over in_program is null
                or entry_quarter is distinct from lag(entry_quarter) over in_program as is_program_quarter_first,
            lag({{ id }}) over in_program is null
                or entry_year is distinct from lag(entry_year) over in_program as is_program_year_first,
            lag({{ id }}) over in_program is null as is_program_first
        from (select distinct partner_firm, entry_year, entry_quarter, {{ id }} from work where {{ id }} is not null) as logged
        window
            in_firm as (partition by partner_firm, {{ id }} order by entry_quarter),
            in_program as (partition by {{ id }} order by entry_quarter, partner_firm)
    ) as firsts
    group by partner_firm, entry_quarter
),
{% endfor %}

time_spent as (
    select partner_firm, entry_quarter, sum(hours) as hours, sum(value_usd) as value_usd
    from work
    group by partner_firm, entry_quarter
)

select
    t.partner_firm,
    t.entry_quarter,
    t.hours,
    t.value_usd,
    {{- counts_or_zero('c', ['cases_quarter', 'cases_year', 'cases_all_time',
                             'program_cases_quarter', 'program_cases_year', 'program_cases_all_time']) }},
    {{- counts_or_zero('a', ['attorneys_quarter', 'attorneys_year', 'attorneys_all_time',
                             'program_attorneys_quarter', 'program_attorneys_year', 'program_attorneys_all_time']) }}
from time_spent t
left join cases c
    on c.partner_firm is not distinct from t.partner_firm and c.entry_quarter is not distinct from t.entry_quarter
left join attorneys a
    on a.partner_firm is not distinct from t.partner_firm and a.entry_quarter is not distinct from t.entry_quarter
