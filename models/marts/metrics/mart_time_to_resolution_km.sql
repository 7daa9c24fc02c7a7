-- Kaplan-Meier (product-limit) survival curves, one row per (measure, group, time point).
-- S(t) = product over event times t_i <= t of (1 - d_i / n_i), with d_i events at t_i and n_i
-- units still at risk (duration >= t_i). Units censored at t_i count as at risk at t_i.
with time_points as (
    select
        measure, dimension, dimension_value,
        duration_days as t_days,
        count(*) filter (where is_event) as events,
        count(*) filter (where not is_event) as censored
    from {{ ref('int_time_to_resolution_groups') }}
    group by all
),

at_risk as (
    select
        *,
        sum(events + censored) over (
            partition by measure, dimension, dimension_value order by t_days desc
            rows between unbounded preceding and current row
        ) as at_risk
    from time_points
)

select
    measure,
    dimension,
    dimension_value,
    t_days,
    at_risk,
    events,
    censored,
    product(1 - events / at_risk) over (
        partition by measure, dimension, dimension_value order by t_days
        rows between unbounded preceding and current row
    ) as survival
from at_risk
