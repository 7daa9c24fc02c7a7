-- Cases with their client as a person (int_client_persons): a case filed under a client id
-- merged into an earlier one belongs to that person. A case whose client id is not among the
-- client records keeps it (stg_cases' relationships test reports such cases). The case's other
-- columns as staged.
select
    cs.case_id,
    coalesce(p.client_id, cs.client_id) as client_id,
    cs.client_id as exported_client_id,
    {{ star_except(ref('stg_cases'), 'cs', ['case_id', 'client_id']) }}
from {{ ref('stg_cases') }} cs
left join {{ ref('int_client_persons') }} p on p.exported_client_id = cs.client_id
