{#- Use the configured schema name as is (staging, intermediate, marts, reference) instead of
    dbt's default "<target schema>_<custom schema>", so consumers query marts.fct_motions.
    A run on PostgreSQL builds into a set of schemas of its own, each name followed by the var
    build_schema_suffix (pcr/publish_postgres.py), and publishes them by renaming. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}{{ var('build_schema_suffix', '') }}
{%- endmacro %}
