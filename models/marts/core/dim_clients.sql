-- One row per client, a person: client ids of one A-number merged (int_persons). No name, A-number (not even hashed) or date of birth.
select
    c.client_id,
    c.exported_client_ids,
    c.intake_date,
    {{ year_of('c.intake_date') }} as intake_cohort,
    c.age_at_intake,
    -- Bands rather than single years for anything published by age: a single year of age
    -- beside county and language narrows a group quickly (CHHS de-identification guidelines).
    case
        when c.age_at_intake is null then null
        when c.age_at_intake < 18 then 'Under 18'
        when c.age_at_intake < 25 then '18-24'
        when c.age_at_intake < 35 then '25-34'
        when c.age_at_intake < 45 then '35-44'
        when c.age_at_intake < 55 then '45-54'
        when c.age_at_intake < 65 then '55-64'
        else '65 and over'
    end as age_band_at_intake,
    c.country_of_birth,
    c.primary_language,
    c.county_of_residence,
    c.immigration_status,
    c.in_removal_proceedings,
    c.final_removal_order,
    c.detained_at_intake,
    r.has_removal_exposure,
    r.removal_ground_convictions,
    r.removal_ground_convictions_cleared,
    coalesce(ra.removal_avoided_status, 'no_exposure') as removal_avoided_status,
    coalesce(sv.involves_confidential_survivor_vehicle, false) as involves_confidential_survivor_vehicle
from {{ ref('int_persons') }} c
join {{ ref('int_client_relief') }} r using (client_id)
left join {{ ref('int_removal_avoided') }} ra using (client_id)
left join (
    select client_id, bool_or(is_confidential_survivor_vehicle) as involves_confidential_survivor_vehicle
    from {{ ref('int_motion_relief') }}
    group by 1
) sv using (client_id)
