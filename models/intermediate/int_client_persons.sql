-- One row per client id of the exports, with the person it belongs to. The same A-number
-- (compared by its keyed hash: ingest/privacy.py normalises every spelling before hashing)
-- under two client ids is one person: two exports of the same people under different ids, or
-- a re-intake under a new id. The person is known by the client id of its earliest intake
-- (ties: the smallest id), so the key does not depend on the order the exports were loaded.
-- A client id without an A-number is a person of its own: nothing else can tell who it is.
with ranked as (
    select
        client_id as exported_client_id,
        a_number_hash,
        intake_date,
        load_id,
        first_value(client_id) over same_a_number as earliest_client_id,
        count(*) over same_a_number as client_ids_of_a_number
    from {{ ref('stg_clients') }}
    window same_a_number as (partition by a_number_hash order by intake_date, client_id
                             rows between unbounded preceding and unbounded following)
)

select
    exported_client_id,
    case when a_number_hash is null then exported_client_id else earliest_client_id end as client_id,
    case when a_number_hash is null then 1 else client_ids_of_a_number end as exported_client_ids,
    case when a_number_hash is not null and exported_client_id <> earliest_client_id
        then 'same_a_number' end as link_rule,
    intake_date,
    load_id
from ranked
