-- Each survival unit once per reporting group: overall, and by vehicle, county, partner firm
-- and intake-year cohort.
select measure, unit_id, dimension, dimension_value, duration_days, is_event
from (
    {{ rows_per_dimension(
        ref('int_time_to_resolution_units'),
        ['measure', 'unit_id', 'duration_days', 'is_event'],
        {'vehicle': "coalesce(vehicle, '(none)')",
         'county': "coalesce(county, '(none)')",
         'partner_firm': "coalesce(partner_firm, '(none)')",
         'intake_cohort': "coalesce(cast(intake_cohort as varchar), '(none)')"}
    ) }}
) as grouped
