{#- Generic test: the column is never negative (e.g. dates recorded out of order). -#}
{% test non_negative(model, column_name) %}
select * from {{ model }} where {{ column_name }} < 0
{% endtest %}
