-- Whether the exports carry each contract column, for the metrics that need it: one row per
-- column of a contract table that some current load made. A load is current for a table while
-- it holds the current version of at least one of its records: a newer export of the same
-- records in another layout takes the older load's place, so what an older layout carried no
-- longer counts. A column is available when a current load gave it (a source column, a
-- constant, a key or cases over columns) or when a current load predates the record of how
-- columns were given (its data may hold the column: nothing says otherwise).
{%- set load_columns = source('raw', 'load_columns') %}
{#- A database written before ingest recorded this has no such table until the next ingest
    creates it: no row then, and every metric shows its numbers as before. (In a dbt unit test
    the source is a fixture, not a relation of the database.) #}
{%- if execute and load_columns.schema %}
    {%- set recorded = adapter.get_relation(database=load_columns.database, schema=load_columns.schema,
                                            identifier=load_columns.identifier) is not none %}
{%- else %}
    {%- set recorded = true %}
{%- endif %}
{%- set tables = ['clients', 'cases', 'convictions', 'motions', 'immigration_events', 'time_entries'] %}

with current_loads as (
    {% for t in tables %}
    select distinct '{{ t }}' as table_name, load_id from {{ ref('stg_' ~ t) }}
    {{ "union all" if not loop.last }}
    {% endfor %}
),

given as (
    {% if recorded %}
    -- A workbook's sheets are one load: it gave a column if any of its sheets did.
    select
        table_name,
        column_name,
        load_id,
        bool_or(source not in ('not_available', 'absent')) as gave_it,
        bool_or(source = 'not_available') as marked_not_available
    from {{ load_columns }}
    group by table_name, column_name, load_id
    {% else %}
    select null::varchar as table_name, null::varchar as column_name, null::integer as load_id,
           null::boolean as gave_it, null::boolean as marked_not_available
    where false
    {% endif %}
),

contract_columns as (
    select distinct g.table_name, g.column_name
    from given g
    join current_loads l using (table_name, load_id)
),

per_load as (
    select c.table_name, c.column_name, l.load_id, g.gave_it, g.marked_not_available
    from contract_columns c
    join current_loads l using (table_name)
    left join given g using (table_name, column_name, load_id)
),

counted as (
    select
        table_name,
        column_name,
        count(*) filter (where gave_it) as loads_with,
        count(*) filter (where not gave_it) as loads_without,
        count(*) filter (where not gave_it and marked_not_available) as loads_marked_not_available,
        count(*) filter (where gave_it is null) as loads_unrecorded
    from per_load
    group by table_name, column_name
)

select
    table_name,
    column_name,
    loads_with + loads_unrecorded > 0 as available,
    -- Every current load without it says so in its layout ({not_available: true}), rather than
    -- leaving it out of the mapping: a statement about the exports, not a column lost.
    loads_with + loads_unrecorded = 0 and loads_marked_not_available = loads_without as marked_not_available,
    loads_with,
    loads_without,
    loads_marked_not_available,
    loads_unrecorded
from counted
