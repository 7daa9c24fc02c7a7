-- Whether the exports carry each contract column, for the metrics that need it: one row per
-- column of a contract table that some current load made. A load is current for a table while
-- it holds the current version of at least one of its records.
--
-- A column is available when a current load gave it (a source column, a constant, a key or
-- cases over columns) and its current records hold a value of it, or when every current load
-- gave it (then a blank column is the export's own answer). A record that a newer export
-- repeats unchanged keeps its older version current: when the newer export does not carry a
-- column, such a record holds no value of it (or it would have changed), so an older load
-- whose current records hold no value does not make the column available. A load made before
-- ingest recorded how columns were given counts as giving every column it holds values of.
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

with current_values as (
    -- Values of each stored column in the current records of each load; staging names a hashed
    -- identifier <column>_hash and keeps the age at intake for the date of birth.
    {% for t in tables %}
    select
        '{{ t }}' as table_name,
        load_id,
        case
            when stored = 'age_at_intake' then 'date_of_birth'
            else regexp_replace(stored, '_hash$', '')
        end as column_name,
        n as current_values
    from ({{ values_per_load_column(ref('stg_' ~ t)) }}) as counted_values
    {{ "union all" if not loop.last }}
    {% endfor %}
),

current_loads as (
    select distinct table_name, load_id from current_values
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
    select
        c.table_name,
        c.column_name,
        l.load_id,
        g.gave_it,
        g.marked_not_available,
        -- Unknown for a column that is not stored (a name, dropped at the door): taken as held.
        coalesce(v.current_values > 0, true) as holds_values
    from contract_columns c
    join current_loads l using (table_name)
    left join given g using (table_name, column_name, load_id)
    left join current_values v using (table_name, column_name, load_id)
),

counted as (
    select
        table_name,
        column_name,
        count(*) filter (where gave_it and holds_values) as loads_with,
        count(*) filter (where gave_it and not holds_values) as loads_with_no_value,
        count(*) filter (where not gave_it) as loads_without,
        count(*) filter (where not gave_it and marked_not_available) as loads_marked_not_available,
        count(*) filter (where gave_it is null and holds_values) as loads_unrecorded
    from per_load
    group by table_name, column_name
)

select
    table_name as contract_table,
    column_name as contract_column,
    loads_with + loads_unrecorded > 0 or loads_without = 0 as available,
    -- Not available, and every current load without it says so in its layout
    -- ({not_available: true}) rather than leaving it out of the mapping: a statement about the
    -- exports, not a column lost.
    not (loads_with + loads_unrecorded > 0 or loads_without = 0)
        and loads_marked_not_available = loads_without as marked_not_available,
    loads_with,
    loads_with_no_value,
    loads_without,
    loads_marked_not_available,
    loads_unrecorded
from counted
