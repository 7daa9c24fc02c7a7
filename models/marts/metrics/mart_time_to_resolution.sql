-- Median and 75th percentile time to resolution per measure and group, read off the
-- Kaplan-Meier curve: the smallest t with S(t) <= 0.5 (0.25), NULL when the curve never gets
-- there (macros/kaplan_meier.sql). The closed-only median is shown beside it for comparison: it
-- ignores still-open work and is biased low.
with counts as (
    select
        measure, dimension, dimension_value,
        count(*) as units,
        count(*) filter (where is_event) as events,
        count(*) filter (where not is_event) as censored,
        {{ median_where('duration_days', 'is_event') }} as closed_only_median_days
    from {{ ref('int_time_to_resolution_groups') }}
    group by measure, dimension, dimension_value
),

km as (
    select * from {{ ref('mart_time_to_resolution_km') }}
),

curve as (
    {{ kaplan_meier_quantiles('km') }}
)

select
    c.*,
    k.km_median_days,
    k.km_p75_days,
    k.km_median_lower_days,
    k.km_median_upper_days,
    (select as_of_date from {{ ref('int_as_of_date') }}) as as_of_date
from counts c
join curve k using (measure, dimension, dimension_value)
