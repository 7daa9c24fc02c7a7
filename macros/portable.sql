{#- Where DuckDB and PostgreSQL differ, one macro per concept, dispatched on the adapter
    (docs/postgres.md). The DuckDB form is the one the project was written in; the PostgreSQL
    form gives the same values. Everything else in the models is SQL both engines read alike,
    or one of dbt's own cross-database macros (dbt.datediff, dbt.type_*). -#}

{#- A floating-point value, so that `/` divides as real numbers on both engines: PostgreSQL
    divides integers as integers (13 / 17 = 0), DuckDB never does. DOUBLE on both. -#}
{% macro as_double(expr) -%}
    cast({{ expr }} as double precision)
{%- endmacro %}

{#- Calendar year of a date as a BIGINT (DuckDB's year(); PostgreSQL's extract gives numeric). -#}
{% macro year_of(date_expr) -%}
    cast(extract(year from {{ date_expr }}) as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- Every column of `relation` (read as `alias`) but those in `excluded`, as `alias.column`. -#}
{% macro star_except(relation, alias, excluded) -%}
    {{ return(adapter.dispatch('star_except', 'pcr')(relation, alias, excluded)) }}
{%- endmacro %}

{% macro default__star_except(relation, alias, excluded) -%}
    {%- if execute -%}
        {%- set kept = [] -%}
        {%- for column in adapter.get_columns_in_relation(relation) if column.name | lower not in excluded -%}
            {%- do kept.append(alias ~ '.' ~ adapter.quote(column.name)) -%}
        {%- endfor -%}
        {{ kept | join(', ') }}
    {%- else -%}
        {{ alias }}.*
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__star_except(relation, alias, excluded) -%}
    {{ alias }}.* exclude ({{ excluded | join(', ') }})
{%- endmacro %}

{#- The first non-null value of `column` in the order `order_by`, as an aggregate. -#}
{% macro first_recorded(column, order_by) -%}
    {{ return(adapter.dispatch('first_recorded', 'pcr')(column, order_by)) }}
{%- endmacro %}

{% macro default__first_recorded(column, order_by) -%}
    (array_agg({{ column }} order by {{ order_by }}) filter (where {{ column }} is not null))[1]
{%- endmacro %}

{% macro duckdb__first_recorded(column, order_by) -%}
    first({{ column }} order by {{ order_by }}) filter (where {{ column }} is not null)
{%- endmacro %}

{#- Median of `expr` over the rows where `condition` holds: the mean of the two middle values
    when their count is even, as DuckDB's median. -#}
{% macro median_where(expr, condition) -%}
    {{ return(adapter.dispatch('median_where', 'pcr')(expr, condition)) }}
{%- endmacro %}

{% macro default__median_where(expr, condition) -%}
    percentile_cont(0.5) within group (order by {{ expr }}) filter (where {{ condition }})
{%- endmacro %}

{% macro duckdb__median_where(expr, condition) -%}
    median({{ expr }}) filter (where {{ condition }})
{%- endmacro %}

{#- Rows (load_id, stored, n): for each load of `relation` and each of its other columns, how
    many of the load's rows hold a value of it. Read from the rows themselves, not the catalog,
    so it also works on a unit test's fixture. -#}
{% macro values_per_load_column(relation) -%}
    {{ return(adapter.dispatch('values_per_load_column', 'pcr')(relation)) }}
{%- endmacro %}

{% macro default__values_per_load_column(relation) -%}
    select r.load_id, v.key as stored, count(*) filter (where v.value <> 'null'::jsonb) as n
    from {{ relation }} as r
    cross join lateral jsonb_each(to_jsonb(r) - 'load_id') as v
    group by r.load_id, v.key
{%- endmacro %}

{% macro duckdb__values_per_load_column(relation) -%}
    unpivot (select load_id, count(columns(* exclude (load_id))) from {{ relation }} group by load_id)
    on columns(* exclude (load_id)) into name stored value n
{%- endmacro %}

{#- The product of a column, as an aggregate or window function: DuckDB's product(); on
    PostgreSQL an aggregate of the same name created in the intermediate schema at the start of
    each build (on-run-start, via create_kaplan_meier_macros). -#}
{% macro product_aggregate() -%}
    {{ return(adapter.dispatch('product_aggregate', 'pcr')()) }}
{%- endmacro %}

{% macro default__product_aggregate() -%}{{ generate_schema_name('intermediate', none) }}.product{%- endmacro %}

{% macro duckdb__product_aggregate() -%}product{%- endmacro %}

{% macro create_product_aggregate() -%}
create or replace aggregate {{ generate_schema_name('intermediate', none) }}.product(double precision) (sfunc = float8mul, stype = double precision);
{%- endmacro %}
