-- One row: the date at which open work is censored / counted as pending.
-- var('as_of_date') wins; otherwise the latest date on which something was recorded as having
-- happened, never later than today (a mistyped future date must not stretch every open case).
-- Hearing dates are left out: they can be scheduled in the future.
{% set as_of = var('as_of_date') %}
{% if as_of %}
select cast('{{ as_of }}' as date) as as_of_date, 'var' as as_of_date_source
{% else %}
select least(max(d), current_date) as as_of_date, 'latest_date_in_data' as as_of_date_source
from (
    select intake_date as d from {{ ref('stg_clients') }}
    union all select intake_date from {{ ref('stg_cases') }}
    union all select eligibility_date from {{ ref('stg_cases') }}
    union all select referral_date from {{ ref('stg_cases') }}
    union all select closed_date from {{ ref('stg_cases') }}
    union all select filing_date from {{ ref('stg_motions') }}
    union all select decision_date from {{ ref('stg_motions') }}
    union all select event_date from {{ ref('stg_immigration_events') }}
    union all select entry_date from {{ ref('stg_time_entries') }}
) as recorded_dates
{% endif %}
