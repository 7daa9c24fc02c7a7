{#- Reporting period of a date: calendar quarter, e.g. '2024-Q3'. NULL date -> NULL. -#}
{% macro quarter_label(date_expr) -%}
    (cast({{ year_of(date_expr) }} as varchar) || '-Q'
     || cast(cast(extract(quarter from {{ date_expr }}) as {{ dbt.type_bigint() }}) as varchar))
{%- endmacro %}
