{#- Reporting period of a date: calendar quarter, e.g. '2024-Q3'. NULL date -> NULL. -#}
{% macro quarter_label(date_expr) -%}
    (cast(year({{ date_expr }}) as varchar) || '-Q' || cast(quarter({{ date_expr }}) as varchar))
{%- endmacro %}
