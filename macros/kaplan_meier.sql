{#- Kaplan-Meier (product-limit) estimate, installed in the database as two DuckDB table macros
    (on-run-start, dbt_project.yml) so the marts and the grant report, which estimates it over
    one grant's units at report time (reports/scoped.py), run the same SQL.

    intermediate.kaplan_meier_curve(units): one row per (measure, dimension, dimension_value,
    distinct duration) of a relation with those columns, duration_days and is_event.
    S(t) = product over event times t_i <= t of (1 - d_i / n_i), with d_i events at t_i and n_i
    units still at risk (duration >= t_i): units censored at t_i count as at risk at t_i.

    intermediate.kaplan_meier_quantiles(curve): per group, the smallest t with S(t) <= 0.5 (the
    median) and <= 0.25 (the 75th percentile), NULL when the curve never gets there. The 1e-9
    tolerance keeps S(t) = 0.5 exactly from missing by a rounding error. -#}
{% macro create_kaplan_meier_macros() %}
create schema if not exists intermediate;
create or replace macro intermediate.kaplan_meier_curve(units) as table
    with time_points as (
        select
            measure, dimension, dimension_value,
            duration_days as t_days,
            count(*) filter (where is_event) as events,
            count(*) filter (where not is_event) as censored
        from query_table(units)
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
    from at_risk;
create or replace macro intermediate.kaplan_meier_quantiles(curve) as table
    select
        measure, dimension, dimension_value,
        min(t_days) filter (where survival <= 0.5 + 1e-9) as km_median_days,
        min(t_days) filter (where survival <= 0.25 + 1e-9) as km_p75_days
    from query_table(curve)
    group by all;
{% endmacro %}
