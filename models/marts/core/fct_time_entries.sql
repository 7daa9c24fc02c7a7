-- One row per pro bono time entry, valued at var('pro_bono_hourly_rate').
select
    t.entry_id,
    t.case_id,
    cs.client_id,
    t.partner_firm,
    t.attorney_id,
    t.entry_date,
    {{ quarter_label('t.entry_date') }} as entry_quarter,
    t.hours,
    t.hours * {{ var('pro_bono_hourly_rate') }} as value_usd
from {{ ref('stg_time_entries') }} t
join {{ ref('int_cases') }} cs using (case_id)
