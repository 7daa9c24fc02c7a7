-- Each survival unit once per reporting group: overall, and by vehicle, county, partner firm
-- and intake-year cohort.
{% set groups = {'vehicle': 'vehicle', 'county': 'county', 'partner_firm': 'partner_firm', 'intake_cohort': 'cast(intake_cohort as varchar)'} %}
select measure, unit_id, 'all' as dimension, 'all' as dimension_value, duration_days, is_event
from {{ ref('int_time_to_resolution_units') }}
{% for name, expr in groups.items() %}
union all
select measure, unit_id, '{{ name }}', coalesce({{ expr }}, '(none)'), duration_days, is_event
from {{ ref('int_time_to_resolution_units') }}
{% endfor %}
