-- Kaplan-Meier (product-limit) survival curves, one row per (measure, group, time point), by the
-- database macro the grant report uses too (macros/kaplan_meier.sql).
with units as (
    select measure, dimension, dimension_value, duration_days, is_event
    from {{ ref('int_time_to_resolution_groups') }}
)

{{ kaplan_meier_curve('units') }}
