-- Clients with removal exposure by removal-avoided status, overall and by status quarter,
-- county and partner firm (placement as in mart_removal_avoided). Counts clients.
{% set statuses = ['confirmed', 'projected', 'not_avoided', 'administrative_closure', 'partial_relief', 'none_yet', 'no_effective_relief'] %}
with placed as (
    {{ rows_per_dimension(ref('mart_removal_avoided'), ['client_id', 'removal_avoided_status'],
                          {'status_quarter': 'status_quarter', 'county': 'county', 'partner_firm': 'partner_firm'}) }}
)

select
    dimension,
    dimension_value,
    count(*) as clients_with_exposure,
    {% for s in statuses %}
    count(*) filter (where removal_avoided_status = '{{ s }}') as clients_{{ s }}{{ "," if not loop.last }}
    {% endfor %}
from placed
group by dimension, dimension_value
