"""Atomic publish on PostgreSQL: a run builds into schemas of its own and renames them over the
published ones in one transaction.

The published schemas are raw, reference, staging, intermediate, marts and pipeline. A run
copies the loads into raw__build, its run records into pipeline__build, and dbt builds every
other layer into <schema>__build (the dbt var
build_schema_suffix, macros/generate_schema_name.sql), so the published schemas are never
written while a run builds and validates. Publishing renames, in one transaction, each
published schema to <schema>__retired and each build schema to its published name: a reader's
query sees either every old schema or every new one, never a mix, and a run killed before the
commit leaves the published schemas as they were (PostgreSQL rolls back the transaction of a
connection that dies). Views keep pointing at the tables they were built on whatever the
schemas are named, so the staging views published read the raw tables published with them.
The retired schemas are dropped after the commit, outside it, so the swap never waits for a
reader still running a query on them; whatever a killed run leaves behind (build or retired
schemas) the next run drops first.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from ingest.transform import ident
from pcr.publish import RunLocked, kill_point
from pcr.settings import PostgresConnection

# pipeline: the run records of the loads file (pipeline.runs, validation results), which the
# dashboards show beside the data they describe.
PUBLISHED_SCHEMAS = ("raw", "reference", "staging", "intermediate", "marts", "pipeline")
BUILD_SUFFIX = "__build"
# One row in the published marts: which run published them, and when. Written in the swap's
# transaction, so it changes exactly when the published schemas do; the dashboards' copy of a
# publish checks it to know when to copy again (pcr/postgres_mirror.py).
STAMP_TABLE = "publish_stamp"
RETIRED_SUFFIX = "__retired"
# dbt --vars of a run's build: every schema the project writes gets the build suffix. The same
# text every run, so dbt's saved parse serves the next run.
BUILD_VARS = json.dumps({"build_schema_suffix": BUILD_SUFFIX})
# Key of the advisory lock that keeps two runs on one database from overlapping, from any
# machine (pg_try_advisory_lock: the server drops it when the run's connection ends).
RUN_LOCK_KEY = 0x70637200  # "pcr\0"


def connect(pg: PostgresConnection, **options):
    """A psycopg2 connection to the settings' database. libpq finds the password itself
    (PGPASSWORD or ~/.pgpass): it is no setting."""
    import psycopg2

    return psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, dbname=pg.dbname, **options)


def build_schema(schema: str) -> str:
    return schema + BUILD_SUFFIX



def _existing(cursor, names: list[str]) -> set[str]:
    cursor.execute("select nspname from pg_namespace where nspname = any(%s)", [names])
    return {name for (name,) in cursor.fetchall()}


@contextmanager
def run_lock(connection) -> Iterator[None]:
    """Hold the database's run lock on `connection` (autocommit) for the block; refuse when
    another run holds it."""
    with connection.cursor() as cursor:
        cursor.execute("select pg_try_advisory_lock(%s)", [RUN_LOCK_KEY])
        (locked,) = cursor.fetchone()
    if not locked:
        raise RunLocked(f"another pipeline run holds the run lock of database {connection.info.dbname}; "
                        "wait for it to finish (runs on one database never overlap)")
    try:
        yield
    finally:
        if not connection.closed:
            with connection.cursor() as cursor:
                cursor.execute("select pg_advisory_unlock(%s)", [RUN_LOCK_KEY])


def sweep(connection) -> list[str]:
    """Drop the build and retired schemas an earlier run left (killed, or failed); returns
    their names. Call it with the run lock held."""
    leftovers = [s + suffix for s in PUBLISHED_SCHEMAS for suffix in (BUILD_SUFFIX, RETIRED_SUFFIX)]
    with connection, connection.cursor() as cursor:
        found = sorted(_existing(cursor, leftovers))
        for name in found:
            cursor.execute(f"drop schema {ident(name)} cascade")
    return found


def swap(connection, run_id: str, kill_at: str | None = None) -> None:
    """Rename every build schema to its published name in one transaction, stamped with
    `run_id`, then drop the retired ones. Raises when a build schema is missing (nothing is
    renamed then)."""
    kill_point("publish:before_swap", kill_at)
    with connection, connection.cursor() as cursor:
        built = _existing(cursor, [build_schema(s) for s in PUBLISHED_SCHEMAS])
        missing = [build_schema(s) for s in PUBLISHED_SCHEMAS if build_schema(s) not in built]
        if missing:
            raise RuntimeError(f"cannot publish: build schema(s) {', '.join(missing)} missing")
        stamp = f"{ident(build_schema('marts'))}.{ident(STAMP_TABLE)}"
        cursor.execute(f"create table {stamp} (run_id text not null, published_at timestamptz not null)")
        cursor.execute(f"insert into {stamp} values (%s, now())", [run_id])
        cursor.execute(f"grant select on {stamp} to pcr_dashboard")
        cursor.execute(f"grant usage on schema {ident(build_schema('pipeline'))} to pcr_dashboard")
        cursor.execute(f"grant select on all tables in schema {ident(build_schema('pipeline'))} to pcr_dashboard")
        published = _existing(cursor, list(PUBLISHED_SCHEMAS))
        for schema in PUBLISHED_SCHEMAS:
            if schema in published:
                cursor.execute(f"alter schema {ident(schema)} rename to {ident(schema + RETIRED_SUFFIX)}")
            cursor.execute(f"alter schema {ident(build_schema(schema))} rename to {ident(schema)}")
        kill_point("publish:before_commit", kill_at)
    kill_point("publish:after_swap", kill_at)
    with connection, connection.cursor() as cursor:
        for schema in PUBLISHED_SCHEMAS:
            cursor.execute(f"drop schema if exists {ident(schema + RETIRED_SUFFIX)} cascade")


def map_partner_role(connection, role: str, partner_firm: str) -> None:
    """Let the existing login role `role` read the rows of `partner_firm` (as written in the
    exports' partner_firm column) in the marts that carry one, and nothing else: the row-level
    security of macros/row_security.sql. Needs a build to have made pcr_partner and
    pcr_security.partner_firm_roles."""
    with connection, connection.cursor() as cursor:
        cursor.execute("insert into pcr_security.partner_firm_roles (role_name, partner_firm) values (%s, %s) "
                       "on conflict (role_name) do update set partner_firm = excluded.partner_firm",
                       [role, partner_firm])
        cursor.execute(f"grant pcr_partner to {ident(role)}")
