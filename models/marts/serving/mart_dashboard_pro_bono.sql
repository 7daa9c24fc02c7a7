-- Pro bono time by partner firm and entry quarter, for the dashboards: they filter by firm and
-- by period (all time, a year or a quarter) and count distinct cases and attorneys, which at
-- query time meant hashing millions of time entries per page view. A distinct count does not
-- add up across rows, so each case (attorney) is counted on one row per period of each kind it
-- logged time in: *_quarter on every quarter, *_year on its first quarter of each year,
-- *_all_time on its first quarter. Summing the column of the period's kind over the period's
-- rows gives count(distinct ...) of fct_time_entries. cases_* and attorneys_* count within a
-- firm (for counts grouped or filtered by firm); program_cases_* and program_attorneys_* count
-- a case or an attorney once across firms (on the first firm by name of that first quarter), for
-- counts over all firms. mart_pro_bono is rolled up from this table.
with work as (
    select
        partner_firm, entry_quarter, left(entry_quarter, 4) as entry_year, case_id, attorney_id,
        sum(hours) as hours, sum(value_usd) as value_usd
    from {{ ref('fct_time_entries') }}
    group by partner_firm, entry_quarter, case_id, attorney_id
),

-- "First" = the previous row of the case, in the window's order, is another firm / year / quarter.
case_flags as (
    select
        partner_firm,
        entry_quarter,
        lag(case_id) over by_firm is null
            or (partner_firm, entry_year) is distinct from lag((partner_firm, entry_year)) over by_firm as is_firm_year_first,
        lag(case_id) over by_firm is null
            or partner_firm is distinct from lag(partner_firm) over by_firm as is_firm_first,
        lag(case_id) over by_quarter is null
            or entry_quarter is distinct from lag(entry_quarter) over by_quarter as is_program_quarter_first,
        lag(case_id) over by_quarter is null
            or entry_year is distinct from lag(entry_year) over by_quarter as is_program_year_first,
        lag(case_id) over by_quarter is null as is_program_first
    from (select distinct partner_firm, entry_year, entry_quarter, case_id from work where case_id is not null)
    window
        by_firm as (partition by case_id order by partner_firm, entry_quarter),
        by_quarter as (partition by case_id order by entry_quarter, partner_firm)
),

cases as (
    select
        partner_firm,
        entry_quarter,
        count(*) as cases_quarter,
        count(*) filter (where is_firm_year_first) as cases_year,
        count(*) filter (where is_firm_first) as cases_all_time,
        count(*) filter (where is_program_quarter_first) as program_cases_quarter,
        count(*) filter (where is_program_year_first) as program_cases_year,
        count(*) filter (where is_program_first) as program_cases_all_time
    from case_flags
    group by partner_firm, entry_quarter
),

attorney_flags as (
    select
        partner_firm,
        entry_quarter,
        lag(attorney_id) over by_attorney is null
            or entry_year is distinct from lag(entry_year) over by_attorney as is_year_first,
        lag(attorney_id) over by_attorney is null as is_first,
        lag(attorney_id) over by_program_attorney is null
            or entry_quarter is distinct from lag(entry_quarter) over by_program_attorney as is_program_quarter_first,
        lag(attorney_id) over by_program_attorney is null
            or entry_year is distinct from lag(entry_year) over by_program_attorney as is_program_year_first,
        lag(attorney_id) over by_program_attorney is null as is_program_first
    from (select distinct partner_firm, entry_year, entry_quarter, attorney_id from work where attorney_id is not null)
    window
        by_attorney as (partition by partner_firm, attorney_id order by entry_quarter),
        by_program_attorney as (partition by attorney_id order by entry_quarter, partner_firm)
),

attorneys as (
    select
        partner_firm,
        entry_quarter,
        count(*) as attorneys_quarter,
        count(*) filter (where is_year_first) as attorneys_year,
        count(*) filter (where is_first) as attorneys_all_time,
        count(*) filter (where is_program_quarter_first) as program_attorneys_quarter,
        count(*) filter (where is_program_year_first) as program_attorneys_year,
        count(*) filter (where is_program_first) as program_attorneys_all_time
    from attorney_flags
    group by partner_firm, entry_quarter
),

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
    coalesce(c.cases_quarter, 0) as cases_quarter,
    coalesce(c.cases_year, 0) as cases_year,
    coalesce(c.cases_all_time, 0) as cases_all_time,
    coalesce(c.program_cases_quarter, 0) as program_cases_quarter,
    coalesce(c.program_cases_year, 0) as program_cases_year,
    coalesce(c.program_cases_all_time, 0) as program_cases_all_time,
    coalesce(a.attorneys_quarter, 0) as attorneys_quarter,
    coalesce(a.attorneys_year, 0) as attorneys_year,
    coalesce(a.attorneys_all_time, 0) as attorneys_all_time,
    coalesce(a.program_attorneys_quarter, 0) as program_attorneys_quarter,
    coalesce(a.program_attorneys_year, 0) as program_attorneys_year,
    coalesce(a.program_attorneys_all_time, 0) as program_attorneys_all_time
from time_spent t
left join cases c
    on c.partner_firm is not distinct from t.partner_firm and c.entry_quarter is not distinct from t.entry_quarter
left join attorneys a
    on a.partner_firm is not distinct from t.partner_firm and a.entry_quarter is not distinct from t.entry_quarter
