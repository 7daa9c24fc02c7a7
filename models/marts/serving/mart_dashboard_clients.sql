-- fct_cases for the dashboards' "clients served": clients with a case open at some time in a
-- period, by case status, for a firm or all firms, without a distinct count over every case at
-- each page view. Most clients have one case: those cases are pre-counted in `clients`, by
-- firm, status and the quarters of intake and closing, with no client_id; the cases of clients
-- with several cases stay one row each, with their client_id and clients = 0.
-- Clients in any selection of rows = count(distinct client_id) + sum(clients).
-- Dates are moved to the first day of the intake quarter and the last day of the closing
-- quarter: a period made of whole quarters selects the same cases as with the exact dates.
with cases as (
    select
        *,
        client_id is not null and count(*) over (partition by client_id) = 1 as is_clients_only_case
    from {{ ref('fct_cases') }}
)

select
    partner_firm,
    case_status,
    cast(date_trunc('quarter', cast(intake_date as timestamp)) as date) as intake_quarter_start,
    cast(date_trunc('quarter', cast(closed_date as timestamp)) + interval '3 month' - interval '1 day' as date) as closed_quarter_end,
    involves_confidential_survivor_vehicle,
    case when not is_clients_only_case then client_id end as client_id,
    count(*) filter (where is_clients_only_case) as clients
from cases
group by 1, 2, 3, 4, 5, 6
