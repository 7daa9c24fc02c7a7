{#-
Generic model test: every column rule of a model in one query, so dbt runs one node per model
(and per severity) instead of one per rule: each node costs dbt far more of its own Python
than the query costs DuckDB.

  columns: {column: [rule, ...]}, a rule being one of
      not_null | unique | non_negative
      {accepted_values: [value, ...]}            (NULL is accepted, as in dbt's accepted_values)
      {relationships: {to: ref('model'), field: column}}   (NULL refers to nothing, as in dbt's)
  unique_combinations: [[column, ...], ...]      (the model's grain)

Each rule fails exactly where dbt's own generic test of that name would. The query returns one
row per failing value of a rule: the column (or columns) and the rule that failed, the value,
and how many rows hold it, so a failing node says what failed.
expectations/inventory.py lists these rules as the assertions they are.
-#}
{% test model_checks(model, columns={}, unique_combinations=[]) %}
{%- set branches = [] -%}
{%- for column, rules in columns.items() -%}
{%- for rule in rules -%}
{%- if rule is string -%}
  {%- set kind, argument = rule, none -%}
{%- else -%}
  {%- set kind = (rule.keys() | list)[0] -%}
  {%- set argument = rule[kind] -%}
{%- endif -%}
{%- set head = "select '" ~ column ~ "' as failing_column, '" ~ kind ~ "' as failing_rule, cast(" ~ column ~ " as varchar) as failing_value, count(*) as failing_rows from (select * from " ~ model ~ ") as checked" -%}
{%- if kind == 'not_null' -%}
  {%- do branches.append(head ~ " where " ~ column ~ " is null group by 3") -%}
{%- elif kind == 'unique' -%}
  {%- do branches.append(head ~ " where " ~ column ~ " is not null group by 3 having count(*) > 1") -%}
{%- elif kind == 'non_negative' -%}
  {%- do branches.append(head ~ " where " ~ column ~ " < 0 group by 3") -%}
{%- elif kind == 'accepted_values' -%}
  {%- set listed = [] -%}
  {%- for value in argument -%}{%- do listed.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}{%- endfor -%}
  {%- do branches.append(head ~ " where " ~ column ~ " not in (" ~ listed | join(', ') ~ ") group by 3") -%}
{%- elif kind == 'relationships' -%}
  {%- do branches.append(head ~ " where " ~ column ~ " is not null and not exists (select 1 from " ~ argument['to'] ~ " as parent where parent." ~ argument['field'] ~ " = checked." ~ column ~ ") group by 3") -%}
{%- else -%}
  {{ exceptions.raise_compiler_error("model_checks on " ~ model ~ ": column " ~ column ~ " has an unknown rule '" ~ kind ~ "' (not_null, unique, non_negative, accepted_values, relationships)") }}
{%- endif -%}
{%- endfor -%}
{%- endfor -%}
{%- for grain in unique_combinations -%}
  {%- do branches.append("select '" ~ grain | join(', ') ~ "' as failing_column, 'unique_combination' as failing_rule, concat_ws(', ', " ~ grain | join(', ') ~ ") as failing_value, count(*) as failing_rows from (select * from " ~ model ~ ") as checked group by " ~ grain | join(', ') ~ " having count(*) > 1") -%}
{%- endfor -%}
{%- if not branches -%}
  {{ exceptions.raise_compiler_error("model_checks on " ~ model ~ " names no rule") }}
{%- endif -%}
{% for branch in branches %}
{{ 'union all ' if not loop.first }}({{ branch }})
{%- endfor %}
{% endtest %}
