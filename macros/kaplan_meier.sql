{#- Kaplan-Meier (product-limit) estimate, installed in the database as two DuckDB table macros
    (on-run-start, dbt_project.yml) so the marts and the grant report, which estimates it over
    one grant's units at report time (reports/scoped.py), run the same SQL.

    intermediate.kaplan_meier_curve(units): one row per (measure, dimension, dimension_value,
    distinct duration) of a relation with those columns, duration_days and is_event.
    S(t) = product over event times t_i <= t of (1 - d_i / n_i), with d_i events at t_i and n_i
    units still at risk (duration >= t_i): units censored at t_i count as at risk at t_i.
    The 95% confidence band is Greenwood's variance on the log(-log S) scale (Kalbfleisch and
    Prentice's "exponential Greenwood", the interval lifelines gives, which stays in [0, 1]):
    G(t) = sum over t_i <= t of d_i / (n_i (n_i - d_i)), c = log(-log S), se(c) = sqrt(G) / |log S|,
    bounds exp(-exp(c -/+ 1.96 se)). Where S is still 1 (no event yet) the band is 1; where
    S reaches 0 (the last units all resolved) the variance is undefined and the band is 0.

    intermediate.kaplan_meier_quantiles(curve): per group, the smallest t with S(t) <= 0.5 (the
    median) and <= 0.25 (the 75th percentile), NULL when the curve never gets there. The 1e-9
    tolerance keeps S(t) = 0.5 exactly from missing by a rounding error. The median's 95%
    interval is read off the band the same way (Brookmeyer-Crowley style, as lifelines'
    median_survival_times of the confidence interval): lower = first t where the lower band
    reaches 0.5, upper = first t where the upper band does (NULL: not reached yet). -#}
{% macro create_kaplan_meier_macros() %}
    {{ return(adapter.dispatch('create_kaplan_meier_macros', 'pcr')()) }}
{% endmacro %}

{% macro duckdb__create_kaplan_meier_macros() %}
create schema if not exists intermediate;
create or replace macro intermediate.kaplan_meier_curve(units) as table
    {{ kaplan_meier_curve_sql('query_table(units)') }};
create or replace macro intermediate.kaplan_meier_quantiles(curve) as table
    {{ kaplan_meier_quantiles_sql('query_table(curve)') }};
{% endmacro %}

{#- PostgreSQL has no table macros: the marts run the same SQL inline (kaplan_meier_curve() and
    kaplan_meier_quantiles() below); the build needs only the product aggregate it lacks. -#}
{% macro default__create_kaplan_meier_macros() %}
create schema if not exists {{ generate_schema_name('intermediate', none) }};
{{ create_product_aggregate() }}
{% endmacro %}

{#- The curve / the quantiles of a relation (a model's CTE), as a query. -#}
{% macro kaplan_meier_curve(units) %}
    {{ return(adapter.dispatch('kaplan_meier_curve', 'pcr')(units)) }}
{% endmacro %}

{% macro duckdb__kaplan_meier_curve(units) %}select * from intermediate.kaplan_meier_curve({{ units }}){% endmacro %}

{% macro default__kaplan_meier_curve(units) %}select * from ({{ kaplan_meier_curve_sql(units) }}) as curve{% endmacro %}

{% macro kaplan_meier_quantiles(curve) %}
    {{ return(adapter.dispatch('kaplan_meier_quantiles', 'pcr')(curve)) }}
{% endmacro %}

{% macro duckdb__kaplan_meier_quantiles(curve) %}select * from intermediate.kaplan_meier_quantiles({{ curve }}){% endmacro %}

{% macro default__kaplan_meier_quantiles(curve) %}select * from ({{ kaplan_meier_quantiles_sql(curve) }}) as quantiles{% endmacro %}

{% macro kaplan_meier_curve_sql(units) %}
    with time_points as (
        select
            measure, dimension, dimension_value,
            duration_days as t_days,
            count(*) filter (where is_event) as events,
            count(*) filter (where not is_event) as censored
        from {{ units }}
        group by measure, dimension, dimension_value, duration_days
    ),

    at_risk as (
        select
            *,
            sum(events + censored) over (
                partition by measure, dimension, dimension_value order by t_days desc
                rows between unbounded preceding and current row
            ) as at_risk
        from time_points
    ),

    estimate as (
        select
            measure,
            dimension,
            dimension_value,
            t_days,
            at_risk,
            events,
            censored,
            {{ product_aggregate() }}(1 - {{ as_double('events') }} / at_risk) over cumulative as survival,
            -- d = n makes the term infinite; S is 0 from there on and the band is set to 0 below.
            sum(case when events < at_risk then {{ as_double('events') }} / (at_risk * (at_risk - events)) else 0 end) over cumulative
                as greenwood,
            bool_or(events >= at_risk and events > 0) over cumulative as reached_zero
        from at_risk
        window cumulative as (
            partition by measure, dimension, dimension_value order by t_days
            rows between unbounded preceding and current row
        )
    )

    select
        measure, dimension, dimension_value, t_days, at_risk, events, censored, survival,
        case
            when reached_zero or survival <= 0 then 0.0
            when survival >= 1 then 1.0
            else exp(-exp(ln(-ln(survival)) + 1.959963984540054 * sqrt(greenwood) / abs(ln(survival))))
        end as survival_lower,
        case
            when reached_zero or survival <= 0 then 0.0
            when survival >= 1 then 1.0
            else exp(-exp(ln(-ln(survival)) - 1.959963984540054 * sqrt(greenwood) / abs(ln(survival))))
        end as survival_upper
    from estimate
{% endmacro %}

{% macro kaplan_meier_quantiles_sql(curve) %}
    select
        measure, dimension, dimension_value,
        min(t_days) filter (where survival <= 0.5 + 1e-9) as km_median_days,
        min(t_days) filter (where survival <= 0.25 + 1e-9) as km_p75_days,
        min(t_days) filter (where survival_lower <= 0.5 + 1e-9) as km_median_lower_days,
        min(t_days) filter (where survival_upper <= 0.5 + 1e-9) as km_median_upper_days
    from {{ curve }}
    group by measure, dimension, dimension_value
{% endmacro %}
