{#- Use the configured schema name as is (staging, intermediate, marts, reference) instead of
    dbt's default "<target schema>_<custom schema>", so consumers query marts.fct_motions. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
