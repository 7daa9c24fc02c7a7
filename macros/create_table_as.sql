{#- Tables store their id columns (VARCHAR named *_id) with ZSTD. DuckDB's default string
    compression (dictionary + FSST) spends more time choosing and building its encoding for
    nearly unique values than the rest of the write, and ZSTD stores them smaller: writing the
    6 M entry_id values of fct_time_entries at a million motions took 2.1 s (32 MB) that way
    and 0.7 s (12 MB) with ZSTD. DuckDB can only set a column's compression when the table is
    created, so the table is declared from the query's own column types, then filled. Anything
    else (temporary tables, contracts, partitioning, Python models) goes to dbt-duckdb's macro. -#}
{% macro duckdb__create_table_as(temporary, relation, compiled_code, language='sql', partitioned_by=none, sorted_by=none) -%}
  {%- if language != 'sql' or temporary or config.get('contract').enforced or partitioned_by or sorted_by
        or config.get('sql_header') -%}
    {{ dbt.duckdb__create_table_as(temporary, relation, compiled_code, language, partitioned_by, sorted_by) }}
  {%- else -%}
    {%- set columns = run_query("describe select * from (\n" ~ compiled_code ~ "\n) as model_subq") -%}
    create table {{ relation }} (
      {%- for column in columns %}
      {{ adapter.quote(column['column_name']) }} {{ column['column_type'] }}
      {%- if column['column_type'] == 'VARCHAR' and column['column_name'].endswith('_id') %} using compression zstd{% endif %}
      {{- ',' if not loop.last }}
      {%- endfor %}
    );
    insert into {{ relation }} select * from (
      {{ compiled_code }}
    ) as model_subq;
  {%- endif -%}
{%- endmacro %}
