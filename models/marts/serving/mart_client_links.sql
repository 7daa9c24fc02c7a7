-- Client ids merged into one person (int_client_persons), for the data quality page: one row
-- per client id that is the same person as an earlier client id, with the rule that linked
-- them and the loads each came from. No A-number, not even hashed: the rule names the evidence.
select
    p.client_id,
    p.exported_client_id as merged_client_id,
    p.link_rule,
    person.intake_date as client_intake_date,
    p.intake_date as merged_intake_date,
    person.load_id as client_load_id,
    p.load_id as merged_load_id,
    p.exported_client_ids
from {{ ref('int_client_persons') }} p
join {{ ref('int_client_persons') }} person on person.exported_client_id = p.client_id
where p.link_rule is not null
