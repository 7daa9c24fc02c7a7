{#- Each row of `relation` once overall (dimension and dimension_value 'all') and once per
    dimension, with that dimension's value: grouped by (dimension, dimension_value), the overall
    figure comes out beside every breakdown from the same rows. `dimensions` maps a dimension's
    name to the SQL of its value (the caller decides how a missing value is shown). -#}
{% macro rows_per_dimension(relation, columns, dimensions) -%}
    select {{ columns | join(', ') }}, 'all' as dimension, 'all' as dimension_value from {{ relation }}
    {%- for name, value in dimensions.items() %}
    union all
    select {{ columns | join(', ') }}, '{{ name }}', {{ value }} from {{ relation }}
    {%- endfor %}
{%- endmacro %}

{#- A grouping-sets key: its value, or 'all' on the rows that roll it up. -#}
{% macro all_when_rolled_up(column) -%}
    case when grouping({{ column }}) = 1 then 'all' else {{ column }} end
{%- endmacro %}

{#- `alias.column as column` for each count column of a left-joined aggregate: 0 where the join
    found no row, since nothing was counted there. -#}
{% macro counts_or_zero(alias, columns) -%}
    {%- for column in columns %}
    coalesce({{ alias }}.{{ column }}, 0) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}
