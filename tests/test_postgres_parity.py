"""The same dbt project on DuckDB and on PostgreSQL gives the same marts.

The bundled samples (data_samples/) and the golden export (tests/fixtures/golden/) are each
loaded once by the real `pcr ingest` into a DuckDB file; the raw schema is copied into a real
PostgreSQL server with COPY (ingest/postgres.py); `dbt build` runs on both (seeds, models, data
tests and unit tests); then every table of the marts schema is compared row for row: same
tables, same columns in the same order, same rows, numbers equal up to floating-point rounding.

The server is a throwaway cluster (tests/postgres_cluster.py). Without PostgreSQL installed the
test is skipped, except in CI (CI set), where .ci/run installs it and a missing server is a
failure.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingest.postgres import copy_raw_schema
from pcr import cli, dbt
from pcr.settings import PROJECT_ROOT, Settings
from postgres_cluster import SUPERUSER, connect, create_database, postgres_server  # noqa: F401 - a fixture

psycopg2 = pytest.importorskip("psycopg2")

DATASETS = {
    "samples": ([PROJECT_ROOT / "data_samples"], []),
    "golden": ([Path(__file__).parent / "fixtures" / "golden"], ["--strict", "--exported-at", "2025-01-02"]),
}
FLOAT_TOLERANCE = 1e-9


def _connect(server, dbname: str):
    return connect(server, dbname)


def _unit_test_results(work_dir: Path) -> dict[str, str]:
    results = json.loads((work_dir / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}


@pytest.fixture(scope="module")
def built(postgres_server, tmp_path_factory):
    """Per dataset: the DuckDB file and the PostgreSQL database, both built by dbt, and the
    unit tests' results of each build."""
    out = {}
    for name, (exports, options) in DATASETS.items():
        root = tmp_path_factory.mktemp(f"parity-{name}")
        db = root / f"{name}.duckdb"
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PCR_HMAC_KEY_FILE", str(root / "hmac.key"))
            mp.setenv("PCR_DATA_DIR", str(root / "var"))
            assert cli.main(["ingest", "--db", str(db), *options, *map(str, exports)]) == 0
            settings = Settings.from_env()
        duck = dbt.build(db, settings, work_dir=root / "dbt-duckdb")
        assert duck.success, f"dbt build on DuckDB ({name}) failed: {duck.failed_nodes} {duck.error}"
        duck_units = _unit_test_results(root / "dbt-duckdb")

        create_database(postgres_server, name)
        with _connect(postgres_server, name) as connection:
            copied = copy_raw_schema(db, connection)
        connection.close()
        assert copied["motions"] > 0
        host, port = postgres_server
        pg_settings = settings.replace(postgres=Settings.from_env(
            {"PGHOST": host, "PGPORT": port, "PGUSER": SUPERUSER, "PGDATABASE": name}).postgres)
        pg = dbt.build(db, pg_settings, work_dir=root / "dbt-postgres", target=dbt.POSTGRES_TARGET)
        assert pg.success, f"dbt build on PostgreSQL ({name}) failed: {pg.failed_nodes} {pg.error}"
        out[name] = (db, name, duck_units, _unit_test_results(root / "dbt-postgres"))
    return out


def _duckdb_tables(db: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = [n for (n,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        tables = {}
        for table in names:
            cursor = con.execute(f'select * from marts."{table}"')
            tables[table] = ([d[0] for d in cursor.description], cursor.fetchall())
    return tables


def _postgres_tables(server, dbname: str) -> dict[str, tuple[list[str], list[tuple]]]:
    with _connect(server, dbname) as connection, connection.cursor() as cursor:
        cursor.execute("select table_name from information_schema.tables where table_schema = 'marts' order by 1")
        names = [n for (n,) in cursor.fetchall()]
        tables = {}
        for table in names:
            cursor.execute(f'select * from marts."{table}"')
            tables[table] = ([d[0] for d in cursor.description], cursor.fetchall())
    connection.close()
    return tables


def _normal(value):
    """Python values both drivers give alike: numbers as float (PostgreSQL's numeric comes as
    Decimal, DuckDB's HUGEINT sums as int), the rest as they are."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    return value


def _sort_key(row: tuple) -> tuple:
    return tuple((v is None, f"{v:.6e}" if isinstance(v, float) else str(v)) for v in row)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
    return a == b


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_every_mart_is_the_same_on_duckdb_and_postgres(built, postgres_server, dataset):
    db, dbname, _, _ = built[dataset]
    on_duckdb, on_postgres = _duckdb_tables(db), _postgres_tables(postgres_server, dbname)
    assert sorted(on_postgres) == sorted(on_duckdb)
    assert len(on_duckdb) >= 15  # the marts of models/marts/{core,metrics,serving}
    differences = []
    for table, (columns, duck_rows) in on_duckdb.items():
        pg_columns, pg_rows = on_postgres[table]
        assert pg_columns == columns, f"marts.{table}: columns differ"
        duck_sorted = sorted((tuple(map(_normal, r)) for r in duck_rows), key=_sort_key)
        pg_sorted = sorted((tuple(map(_normal, r)) for r in pg_rows), key=_sort_key)
        if len(duck_sorted) != len(pg_sorted):
            differences.append(f"marts.{table}: {len(duck_sorted)} rows on DuckDB, {len(pg_sorted)} on PostgreSQL")
            continue
        for duck_row, pg_row in zip(duck_sorted, pg_sorted):
            if not all(_same(a, b) for a, b in zip(duck_row, pg_row)):
                differences.append(f"marts.{table}: DuckDB {dict(zip(columns, duck_row))} "
                                   f"PostgreSQL {dict(zip(columns, pg_row))}")
                break
    assert not differences, "\n".join(differences)


def test_the_marts_hold_rows_and_rates_are_fractions(built, postgres_server):
    """The comparison is of real content: the golden export's grant rate is 13/17 on
    PostgreSQL too (integer division would give 0)."""
    _, dbname, _, _ = built["golden"]
    with _connect(postgres_server, dbname) as connection, connection.cursor() as cursor:
        cursor.execute("select grant_rate from marts.mart_motion_activity where period = 'all' and dimension = 'all'")
        (rate,) = cursor.fetchone()
        cursor.execute("select as_of_date from intermediate.int_as_of_date")
        (as_of,) = cursor.fetchone()
    connection.close()
    assert rate == pytest.approx(13 / 17)
    assert as_of == dt.date(2024, 12, 31)


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_dbt_unit_tests_pass_on_both_engines(built, dataset):
    _, _, on_duckdb, on_postgres = built[dataset]
    assert on_duckdb, "no dbt unit test ran on DuckDB"
    assert set(on_postgres) == set(on_duckdb)
    assert {status for status in on_duckdb.values()} == {"pass"}
    assert {status for status in on_postgres.values()} == {"pass"}


def test_copying_a_later_load_into_a_built_database_keeps_its_views(built, postgres_server, tmp_path):
    """The raw tables of a database dbt has built on are refilled in place: the staging views
    on them stay and read the new rows."""
    db, dbname, _, _ = built["golden"]
    later = tmp_path / "later.duckdb"
    shutil.copy(db, later)
    with duckdb.connect(str(later)) as con:
        con.execute("delete from raw.motions where motion_id = 'M20'")
    with _connect(postgres_server, dbname) as connection:
        copied = copy_raw_schema(later, connection)
        with connection.cursor() as cursor:
            cursor.execute("select count(*) from staging.stg_motions")
            (staged,) = cursor.fetchone()
    connection.close()
    assert copied["motions"] == 19
    assert staged == 19
