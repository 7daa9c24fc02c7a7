"""`pcr run --target postgres` on a real PostgreSQL server: build schemas, validation, the
one-transaction swap, the dashboards' and partner firms' roles with row-level security, and a
run killed at each stage.

The golden export is published first; later runs load the bundled samples on top, so a
half-published run would show as marts that match neither version. The server is a throwaway
cluster (tests/postgres_cluster.py).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pcr.publish import KILL_ENV
from pcr.publish_postgres import PUBLISHED_SCHEMAS, map_partner_role
from pcr.settings import PROJECT_ROOT
from postgres_cluster import SUPERUSER, connect, create_database, postgres_server  # noqa: F401 - a fixture

psycopg2 = pytest.importorskip("psycopg2")

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
SAMPLES = PROJECT_ROOT / "data_samples"
PARTNER_LOGIN = "firm_reader"
DASHBOARD_LOGIN = "dashboard_reader"


def _pcr(env: dict[str, str], *argv: str | Path, kill_at: str | None = None) -> subprocess.CompletedProcess:
    """`pcr run --target postgres ...` as its own process (a killed run must not kill the tests)."""
    environment = {**os.environ, **env}
    environment.pop(KILL_ENV, None)
    if kill_at:
        environment[KILL_ENV] = kill_at
    return subprocess.run([sys.executable, "-m", "pcr.cli", "run", "--target", "postgres", *map(str, argv)],
                          env=environment, capture_output=True, text=True, timeout=900)


def _snapshot(server, dbname: str) -> dict[str, str]:
    """Every published table and view: a digest of its rows in a fixed order, and the schemas'
    identities (a swap gives new ones)."""
    with connect(server, dbname) as connection, connection.cursor() as cursor:
        cursor.execute("select nspname, oid::text from pg_namespace where nspname = any(%s)",
                       [list(PUBLISHED_SCHEMAS)])
        out = {f"schema {name}": oid for name, oid in cursor.fetchall()}
        cursor.execute("select table_schema, table_name from information_schema.tables "
                       "where table_schema = any(%s) order by 1, 2", [list(PUBLISHED_SCHEMAS)])
        for schema, table in cursor.fetchall():
            cursor.execute(f'select t::text from "{schema}"."{table}" as t order by 1')
            out[f"{schema}.{table}"] = hashlib.sha256(
                "\n".join(row for (row,) in cursor.fetchall()).encode()).hexdigest()
    connection.close()
    return out


def _schemas(server, dbname: str) -> set[str]:
    with connect(server, dbname) as connection, connection.cursor() as cursor:
        cursor.execute("select nspname from pg_namespace")
        names = {name for (name,) in cursor.fetchall()}
    connection.close()
    return names


@pytest.fixture(scope="module")
def deployment(postgres_server, tmp_path_factory):
    """A database with the golden export published by `pcr run --target postgres`, the
    environment that runs pcr on it, and the published snapshot."""
    root = tmp_path_factory.mktemp("pg-run")
    dbname = "deployment"
    create_database(postgres_server, dbname)
    host, port = postgres_server
    env = {"PGHOST": host, "PGPORT": port, "PGUSER": SUPERUSER, "PGDATABASE": dbname,
           "PCR_DATA_DIR": str(root / "var"), "PCR_HMAC_KEY_FILE": str(root / "hmac.key"),
           "PCR_DBT_PARSE_CACHE": str(root / "dbt-parse")}
    first = _pcr(env, "--exported-at", "2025-01-02", GOLDEN)
    assert first.returncode == 0, first.stdout + first.stderr
    admin = connect(postgres_server, dbname)
    with admin, admin.cursor() as cursor:
        cursor.execute(f"create role {PARTNER_LOGIN} login")
        cursor.execute(f"create role {DASHBOARD_LOGIN} login in role pcr_dashboard")
    admin.close()
    return env, dbname, root


def test_a_run_publishes_every_schema_and_leaves_no_build_schema(postgres_server, deployment):
    env, dbname, root = deployment
    names = _schemas(postgres_server, dbname)
    assert set(PUBLISHED_SCHEMAS) <= names
    assert not [n for n in names if n.endswith(("__build", "__retired"))]
    with connect(postgres_server, dbname) as connection, connection.cursor() as cursor:
        cursor.execute("select count(*) from marts.fct_motions")
        (motions,) = cursor.fetchone()
        cursor.execute("select count(*) from raw.motions where _is_current")
        (current,) = cursor.fetchone()
        # The published staging views read the published raw tables, not a build's.
        cursor.execute("select count(*) from staging.stg_motions")
        (staged,) = cursor.fetchone()
        cursor.execute("select grant_rate from marts.mart_motion_activity where period = 'all' and dimension = 'all'")
        (rate,) = cursor.fetchone()
    connection.close()
    assert motions == current == staged == 20
    assert rate == pytest.approx(13 / 17)
    assert (root / "var" / "postgres-loads.duckdb").is_file()


def test_validation_of_a_bad_build_fails_on_what_postgresql_holds(postgres_server, deployment, tmp_path):
    """The suites judge the build as PostgreSQL holds it: a grant rate above 1 and an A-number
    in a text value (written with a comma, quotes and a line break, which the copy into DuckDB
    must carry through) are the blocking failures, and nothing else of the published data is."""
    import duckdb

    from pcr.postgres_validate import VALIDATED_SCHEMAS, mirror, validate

    _, dbname, _ = deployment
    leaked = 'A123456789, "quoted"\nsecond line'
    with connect(postgres_server, dbname) as connection, connection.cursor() as cursor:
        for schema in VALIDATED_SCHEMAS:
            cursor.execute(f"create schema {schema}__bad")
            cursor.execute("select table_name from information_schema.tables where table_schema = %s", [schema])
            for (table,) in cursor.fetchall():
                cursor.execute(f'create table {schema}__bad."{table}" as select * from {schema}."{table}"')
        cursor.execute("update marts__bad.mart_motion_activity set grant_rate = 1.5 "
                       "where period = 'all' and dimension = 'all'")
        assert cursor.rowcount == 1
        cursor.execute("update marts__bad.mart_motion_activity set dimension_value = %s where ctid = "
                       "(select min(ctid) from marts__bad.mart_motion_activity where dimension = 'vehicle')",
                       [leaked])
        assert cursor.rowcount == 1
    try:
        validation = validate(connection, "__bad", tmp_path / "docs")
        mirror(connection, {"marts": "marts__bad"}, tmp_path / "read.duckdb")
    finally:
        with connection, connection.cursor() as cursor:
            cursor.execute("drop schema staging__bad, marts__bad cascade")
        connection.close()
    failed = {(r.suite, r.dataset, r.columns) for r in validation.blocking_failures}
    assert ("marts", "motion_activity", "grant_rate") in failed
    # The suite names where, never the value (it may be someone's A-number).
    privacy = [example["location"] for r in validation.blocking_failures if r.suite == "privacy"
               for example in r.examples]
    assert privacy == ["marts.mart_motion_activity.dimension_value"]
    assert {suite for suite, _, _ in failed} == {"marts", "privacy"}, failed
    with duckdb.connect(str(tmp_path / "read.duckdb"), read_only=True) as read:
        assert read.execute("select count(*) from marts.mart_motion_activity where dimension_value = ?",
                            [leaked]).fetchone() == (1,)


SURVIVOR_FLAGS = ("is_confidential_survivor_vehicle", "involves_confidential_survivor_vehicle")


def _firm_rows(server, dbname: str, user: str, table: str, where: str = "true") -> list[tuple]:
    with connect(server, dbname, user=user) as connection, connection.cursor() as cursor:
        cursor.execute(f"select partner_firm, count(*) from marts.{table} where {where} group by 1 order by 1")
        rows = cursor.fetchall()
    connection.close()
    return rows


def _not_survivor_rows(server, dbname: str, table: str) -> str:
    """The condition leaving out a table's PC 236.14/236.15 survivor rows (true if it has no flag)."""
    with connect(server, dbname) as connection, connection.cursor() as cursor:
        cursor.execute("select column_name from information_schema.columns where table_schema = 'marts' "
                       "and table_name = %s and column_name = any(%s)", [table, list(SURVIVOR_FLAGS)])
        flags = [c for (c,) in cursor.fetchall()]
    connection.close()
    return " and ".join([f"not coalesce({c}, false)" for c in flags]) or "true"


def _per_firm_marts(server, dbname: str) -> list[str]:
    with connect(server, dbname) as connection, connection.cursor() as cursor:
        cursor.execute("select table_name from information_schema.columns where table_schema = 'marts' "
                       "and column_name = 'partner_firm' order by 1")
        tables = [t for (t,) in cursor.fetchall()]
    connection.close()
    return tables


def _check_partner_scope(server, dbname: str, firm: str) -> None:
    tables = _per_firm_marts(server, dbname)
    assert "fct_motions" in tables and len(tables) >= 3
    survivor_rows_kept_from_the_partner = 0
    for table in tables:
        everything = _firm_rows(server, dbname, SUPERUSER, table)
        assert len(everything) >= 2, f"marts.{table}: one firm only, the test would prove nothing"
        # Its own firm's rows, but never a survivor case's (program managers' only, as in the access layer).
        allowed = _firm_rows(server, dbname, SUPERUSER, table, _not_survivor_rows(server, dbname, table))
        assert _firm_rows(server, dbname, PARTNER_LOGIN, table) == [r for r in allowed if r[0] == firm]
        survivor_rows_kept_from_the_partner += sum(n for f, n in everything if f == firm) - sum(n for f, n in allowed if f == firm)
        assert _firm_rows(server, dbname, DASHBOARD_LOGIN, table) == everything
    assert survivor_rows_kept_from_the_partner, "no survivor case of this firm: the test would not see a leak"
    # A mart without a firm column holds the program's totals: not the partner's to read.
    with connect(server, dbname, user=PARTNER_LOGIN) as connection, connection.cursor() as cursor:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cursor.execute("select count(*) from marts.mart_funnel")
    connection.close()


def test_a_partner_role_reads_only_its_firms_rows_also_after_a_rebuild(postgres_server, deployment):
    env, dbname, _ = deployment
    with connect(postgres_server, dbname) as connection, connection.cursor() as cursor:
        # A firm with a survivor case, so that the policy's leaving it out is seen.
        cursor.execute("select partner_firm from marts.fct_motions where partner_firm is not null "
                       "and is_confidential_survivor_vehicle group by 1 order by 1 limit 1")
        (firm,) = cursor.fetchone()
        cursor.execute("select 'marts.fct_motions'::regclass::oid")
        (before,) = cursor.fetchone()
    map_partner_role(connection, PARTNER_LOGIN, firm)
    connection.close()
    _check_partner_scope(postgres_server, dbname, firm)

    rebuilt = _pcr(env)  # no exports: builds every schema again from the kept loads
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    with connect(postgres_server, dbname) as connection, connection.cursor() as cursor:
        cursor.execute("select 'marts.fct_motions'::regclass::oid")
        (after,) = cursor.fetchone()
    connection.close()
    assert after != before  # a new table, whose policies the build made again
    _check_partner_scope(postgres_server, dbname, firm)


# Kill points in the order a run passes them (pcr/postgres_run.py, pcr/publish_postgres.py).
BEFORE_COMMIT = ["after_prepare", "after_ingest", "after_build", "after_validate", "after_record",
                 "publish:after_replace", "publish:before_swap", "publish:before_commit"]


@pytest.mark.parametrize("point", BEFORE_COMMIT)
def test_a_run_killed_before_the_swap_commits_leaves_the_published_schemas_as_they_were(
        postgres_server, deployment, point):
    env, dbname, _ = deployment
    before = _snapshot(postgres_server, dbname)
    killed = _pcr(env, SAMPLES, kill_at=point)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert _snapshot(postgres_server, dbname) == before


def test_after_a_killed_run_the_next_sweeps_its_leftovers_and_publishes(postgres_server, deployment):
    env, dbname, _ = deployment
    killed = _pcr(env, SAMPLES, kill_at="publish:after_swap")  # committed; the retired schemas stay
    assert killed.returncode == -9, killed.stdout + killed.stderr
    published = _snapshot(postgres_server, dbname)
    assert any(n.endswith("__retired") for n in _schemas(postgres_server, dbname))
    killed = _pcr(env, SAMPLES, kill_at="after_build")  # leaves build schemas
    assert killed.returncode == -9
    assert any(n.endswith("__build") for n in _schemas(postgres_server, dbname))
    assert _snapshot(postgres_server, dbname) == published
    done = _pcr(env, SAMPLES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dropped what an earlier run left" in done.stdout
    assert not [n for n in _schemas(postgres_server, dbname) if n.endswith(("__build", "__retired"))]
    with connect(postgres_server, dbname) as connection, connection.cursor() as cursor:
        cursor.execute("select count(*) from marts.fct_motions")
        (motions,) = cursor.fetchone()
    connection.close()
    assert motions > 20  # the samples' motions beside the golden export's


def test_a_second_run_on_the_same_database_is_refused(postgres_server, deployment):
    env, dbname, _ = deployment
    holder = connect(postgres_server, dbname)
    holder.autocommit = True
    with holder.cursor() as cursor:
        from pcr.publish_postgres import RUN_LOCK_KEY
        cursor.execute("select pg_advisory_lock(%s)", [RUN_LOCK_KEY])
        refused = _pcr({**env, "PCR_DATA_DIR": env["PCR_DATA_DIR"] + "-elsewhere"}, SAMPLES)
    holder.close()
    assert refused.returncode == 1
    assert "another pipeline run holds the run lock" in refused.stdout


def test_the_postgres_reader_reads_as_the_dashboard_role_and_never_writes(postgres_server, deployment):
    from access.reader import read_postgres

    env, dbname, _ = deployment
    host, port = postgres_server
    login = {"host": host, "port": port, "user": DASHBOARD_LOGIN, "dbname": dbname}
    with connect(postgres_server, dbname) as connection, connection.cursor() as cursor:
        cursor.execute("select partner_firm, count(*) from marts.fct_motions group by 1 order by 1")
        expected = cursor.fetchall()
    connection.close()
    frame = read_postgres(login, "select partner_firm, count(*) as n from marts.fct_motions "
                                 "where partner_firm is distinct from $skip group by 1 order by 1", {"skip": "none%"})
    assert list(frame.itertuples(index=False, name=None)) == expected
    as_of = read_postgres(login, "select as_of_date from intermediate.int_as_of_date")
    assert len(as_of) == 1
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
        read_postgres(login, "create table marts.written_by_a_reader (x int)")
    # Without membership in the dashboard role there is nothing to read as.
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        read_postgres({**login, "user": PARTNER_LOGIN}, "select 1")


def test_the_target_is_a_setting_read_once_and_handed_to_child_processes():
    from pcr.settings import Settings

    settings = Settings.from_env({"PCR_TARGET": "postgres", "PGDATABASE": "pcr"})
    assert settings.target == "postgres"
    assert Settings.from_env(settings.environment()).target == "postgres"
    assert Settings.from_env({}).target == "duckdb"
    with pytest.raises(ValueError, match="PCR_TARGET='postgress'"):
        Settings.from_env({"PCR_TARGET": "postgress"})


def test_the_postgres_target_without_a_database_says_what_to_set(run_pcr, monkeypatch):
    monkeypatch.delenv("PGDATABASE", raising=False)
    result = run_pcr("run", "--target", "postgres", SAMPLES)
    assert result.code == 1
    assert "set PGDATABASE" in result.out
