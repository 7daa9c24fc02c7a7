-- One row per client as a person (int_client_persons): the client records of one A-number
-- merged. What was true at intake comes from the earliest intake that recorded it (two exports
-- of one intake agree, and one may leave a column blank); the removal-exposure flags are yes
-- when any intake said yes, since exposure at a re-intake is exposure the program worked on.
{% set earliest_recorded = ['age_at_intake', 'country_of_birth', 'primary_language', 'county_of_residence', 'immigration_status'] %}
select
    p.client_id,
    count(*) as exported_client_ids,
    min(c.intake_date) as intake_date,
    {% for column in earliest_recorded %}
    {{ first_recorded('c.' ~ column, 'c.intake_date, c.client_id') }} as {{ column }},
    {% endfor %}
    bool_or(c.in_removal_proceedings) as in_removal_proceedings,
    bool_or(c.final_removal_order) as final_removal_order,
    bool_or(c.detained_at_intake) as detained_at_intake
from {{ ref('stg_clients') }} c
join {{ ref('int_client_persons') }} p on p.exported_client_id = c.client_id
group by p.client_id
