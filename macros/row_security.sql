{#- Database roles and row-level security on PostgreSQL, applied at the end of every build
    (on-run-end, dbt_project.yml): a table dbt builds again is a new table, without the grants
    and policies of the one it replaces, so they are made again each time, in the build's own
    marts schema, before a run publishes it (pcr/publish_postgres.py).

    - pcr_dashboard: reads every mart, the reference seeds, the as-of date, the units of time
      to resolution (the grant report's own Kaplan-Meier estimate) and the raw schema (the
      grant report's exports and its rebuild of a closed period): what the dashboards' and
      reports' copy of a publish holds (pcr/postgres_mirror.py); the access layer scopes.
    - pcr_partner: the group of the partner firms' login roles. It reads only the marts that
      carry a partner_firm column, and of those only the rows of the firm its login role is
      mapped to in pcr_security.partner_firm_roles (row-level security), never a row flagged as
      a PC 236.14/236.15 survivor case (below the aggregate level those are for program managers
      only, as in access/queries.py): a defence beside the access layer, should a partner's
      connection ever reach the database directly.
    The two group roles are made when missing (the build's user then needs CREATEROLE; an
    administrator may make them once instead). A partner's login role is made by an
    administrator and mapped with pcr.publish_postgres.map_partner_role. DuckDB has no roles:
    nothing is done there. -#}
{% macro apply_row_security() %}
    {{ return(adapter.dispatch('apply_row_security', 'pcr')()) }}
{% endmacro %}

{% macro duckdb__apply_row_security() %}{% endmacro %}

{% macro default__apply_row_security() %}
do $pcr_security$
declare
    marts_schema text := '{{ generate_schema_name("marts", none) }}';
    reference_schema text := '{{ generate_schema_name("reference", none) }}';
    intermediate_schema text := '{{ generate_schema_name("intermediate", none) }}';
    raw_schema text := '{{ generate_schema_name("raw", none) }}';
    mart record;
    survivor_rows_hidden text;
begin
    if not exists (select from pg_roles where rolname = 'pcr_dashboard') then
        create role pcr_dashboard nologin;
    end if;
    if not exists (select from pg_roles where rolname = 'pcr_partner') then
        create role pcr_partner nologin;
    end if;
    create schema if not exists pcr_security;
    create table if not exists pcr_security.partner_firm_roles (
        role_name name primary key,
        partner_firm text not null
    );
    -- A partner's role reads its own mapping only: other firms' names stay out of its reach.
    alter table pcr_security.partner_firm_roles enable row level security;
    if not exists (select from pg_policies where schemaname = 'pcr_security'
                   and tablename = 'partner_firm_roles' and policyname = 'own_mapping') then
        create policy own_mapping on pcr_security.partner_firm_roles for select to pcr_partner
            using (role_name = current_user);
    end if;
    grant usage on schema pcr_security to pcr_partner;
    grant select on pcr_security.partner_firm_roles to pcr_partner;

    if not exists (select from pg_namespace where nspname = marts_schema) then
        return;  -- the build failed before the marts: nothing to protect
    end if;
    execute format('grant usage on schema %I to pcr_dashboard, pcr_partner', marts_schema);
    if exists (select from pg_namespace where nspname = reference_schema) then
        execute format('grant usage on schema %I to pcr_dashboard', reference_schema);
        execute format('grant select on all tables in schema %I to pcr_dashboard', reference_schema);
    end if;
    if to_regclass(format('%I.int_as_of_date', intermediate_schema)) is not null then
        execute format('grant usage on schema %I to pcr_dashboard', intermediate_schema);
        execute format('grant select on %I.int_as_of_date to pcr_dashboard', intermediate_schema);
    end if;
    if to_regclass(format('%I.int_time_to_resolution_units', intermediate_schema)) is not null then
        execute format('grant select on %I.int_time_to_resolution_units to pcr_dashboard', intermediate_schema);
    end if;
    if exists (select from pg_namespace where nspname = raw_schema) then
        execute format('grant usage on schema %I to pcr_dashboard', raw_schema);
        execute format('grant select on all tables in schema %I to pcr_dashboard', raw_schema);
    end if;
    for mart in
        select t.table_name,
               exists (select from information_schema.columns c where c.table_schema = t.table_schema
                       and c.table_name = t.table_name and c.column_name = 'partner_firm') as per_firm
        from information_schema.tables t
        where t.table_schema = marts_schema and t.table_type = 'BASE TABLE'
    loop
        execute format('grant select on %I.%I to pcr_dashboard', marts_schema, mart.table_name);
        if mart.per_firm then
            execute format('alter table %I.%I enable row level security', marts_schema, mart.table_name);
            execute format('drop policy if exists program_wide on %I.%I', marts_schema, mart.table_name);
            execute format('create policy program_wide on %I.%I for select to pcr_dashboard using (true)',
                           marts_schema, mart.table_name);
            select coalesce(string_agg(format(' and not coalesce(%I, false)', c.column_name), ''), '')
                into survivor_rows_hidden
                from information_schema.columns c
                where c.table_schema = marts_schema and c.table_name = mart.table_name
                  and c.column_name in ('is_confidential_survivor_vehicle', 'involves_confidential_survivor_vehicle');
            execute format('drop policy if exists own_firm on %I.%I', marts_schema, mart.table_name);
            execute format('create policy own_firm on %I.%I for select to pcr_partner using (partner_firm in '
                           '(select m.partner_firm from pcr_security.partner_firm_roles m '
                           'where m.role_name = current_user)%s)', marts_schema, mart.table_name, survivor_rows_hidden);
            execute format('grant select on %I.%I to pcr_partner', marts_schema, mart.table_name);
        end if;
    end loop;
end
$pcr_security$;
{% endmacro %}
