-- The values the dashboards' sidebar filters offer (every page view reads them), per partner
-- firm so that a partner is offered its own firm's values: one small table instead of grouping
-- fct_motions by each filter column at every page view.
{% set filter_columns = ['filing_quarter', 'decision_quarter', 'county', 'partner_firm', 'vehicle'] %}
{% for column in filter_columns %}
select partner_firm, '{{ column }}' as filter_column, {{ column }} as filter_value, count(*) as motions
from {{ ref('fct_motions') }}
group by partner_firm, {{ column }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
