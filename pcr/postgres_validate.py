"""Great Expectations validation of a PostgreSQL build, with the suites the DuckDB runs use.

The suites (expectations/) select each dataset with DuckDB SQL and hand GX the rows as a
DataFrame. For a build on PostgreSQL the tables those SQL statements read (the staging and marts
schemas) are read from PostgreSQL as DataFrames and written, with their types, into a
temporary DuckDB file under their published names; the suites then run unchanged on it, and
the collapse suite compares with the published marts read the same way. So one set of
suites serves both engines, and what is judged is exactly what PostgreSQL holds.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from ingest.transform import ident

# The schemas the suites read (expectations/staged.py, marts.py, privacy.py, collapse.py).
VALIDATED_SCHEMAS = ("staging", "marts")

# PostgreSQL's information_schema data_type (or an array's element udt_name) -> DuckDB type.
_TYPES = {
    "text": "VARCHAR", "character varying": "VARCHAR", "character": "VARCHAR", "name": "VARCHAR",
    "smallint": "SMALLINT", "integer": "INTEGER", "bigint": "BIGINT",
    "numeric": "DOUBLE", "double precision": "DOUBLE", "real": "FLOAT", "boolean": "BOOLEAN",
    "date": "DATE", "timestamp without time zone": "TIMESTAMP", "timestamp with time zone": "TIMESTAMPTZ",
    "json": "JSON", "jsonb": "JSON", "interval": "INTERVAL",
    "_text": "VARCHAR[]", "_varchar": "VARCHAR[]", "_int2": "SMALLINT[]", "_int4": "INTEGER[]",
    "_int8": "BIGINT[]", "_float8": "DOUBLE[]", "_numeric": "DOUBLE[]", "_bool": "BOOLEAN[]",
    "_date": "DATE[]", "_timestamp": "TIMESTAMP[]",
}



def duckdb_type(data_type: str, udt_name: str, where: str) -> str:
    found = _TYPES.get(udt_name if data_type == "ARRAY" else data_type)
    if found is None:
        raise ValueError(f"{where}: PostgreSQL type {data_type} ({udt_name}) has no DuckDB mapping "
                         "in pcr/postgres_validate.py")
    return found


def mirror(pg_connection, schemas: dict[str, str], target: Path) -> int:
    """Write the tables and views of PostgreSQL schemas into the DuckDB file `target`, each
    PostgreSQL schema (the value) under a DuckDB schema name (the key); returns the relations
    written. Reads one relation at a time."""
    written = 0
    with duckdb.connect(str(target)) as con, pg_connection.cursor() as cursor:
        for duck_schema, pg_schema in schemas.items():
            cursor.execute("select table_name from information_schema.tables where table_schema = %s "
                           "order by table_name", [pg_schema])
            tables = [name for (name,) in cursor.fetchall()]
            if not tables:
                continue
            con.execute(f"create schema if not exists {ident(duck_schema)}")
            for table in tables:
                cursor.execute("select column_name, data_type, udt_name from information_schema.columns "
                               "where table_schema = %s and table_name = %s order by ordinal_position",
                               [pg_schema, table])
                columns = [(c, duckdb_type(t, u, f"{pg_schema}.{table}.{c}")) for c, t, u in cursor.fetchall()]
                name = f"{ident(duck_schema)}.{ident(table)}"
                con.execute(f"create table {name} ({', '.join(f'{ident(c)} {t}' for c, t in columns)})")
                cursor.execute(f"select * from {ident(pg_schema)}.{ident(table)}")
                frame = pd.DataFrame.from_records(cursor.fetchall(), columns=[c for c, _ in columns])
                if len(frame):
                    # numeric arrives as Decimal objects: as floats, DuckDB reads them as DOUBLE.
                    frame = frame.astype({c: "float64" for c, t in columns if t == "DOUBLE"})
                    con.register("pg_rows", frame)
                    con.execute(f"insert into {name} select * from pg_rows")
                    con.unregister("pg_rows")
                written += 1
        pg_connection.rollback()  # it only read: end the transaction the reads opened
    return written


def validate(pg_connection, build_suffix: str, docs_dir: Path, accept_collapse: bool = False,
             today: dt.date | None = None):
    """Validate the build schemas (`<schema><build_suffix>`) with every suite, comparing with
    the published marts when there are some; Data Docs into `docs_dir`. Returns the suites'
    Validation (expectations.runner)."""
    from expectations.runner import validate as validate_duckdb

    with tempfile.TemporaryDirectory(prefix="pcr-validate-") as folder:
        built, published = Path(folder) / "build.duckdb", Path(folder) / "published.duckdb"
        mirror(pg_connection, {s: s + build_suffix for s in VALIDATED_SCHEMAS}, built)
        has_published = mirror(pg_connection, {"marts": "marts"}, published) > 0
        return validate_duckdb(built, docs_dir, today=today, published=published if has_published else None,
                               accept_collapse=accept_collapse)
