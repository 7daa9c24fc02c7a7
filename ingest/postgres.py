"""Copy the raw schema of a DuckDB file into PostgreSQL with COPY, so the dbt project can build
on PostgreSQL from the same loads.

What is copied is what ingest already wrote: the raw schema holds no name, no date of birth,
and A-numbers and court case numbers only as keyed hashes (ingest/privacy.py), so nothing here
decides what may leave; it copies tables as they are, with their DuckDB types mapped onto
PostgreSQL's. Each table's rows are replaced whole, in one transaction: a reader sees either
the previous raw schema or the new one.
"""
from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import duckdb

from ingest.transform import ident

SCHEMA = "raw"

# DuckDB type -> PostgreSQL type, for the types ingest writes (ingest/store.py, ingest/transform.py).
_SCALAR_TYPES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "JSON": "jsonb",
}
# How PostgreSQL's format_type() spells the types above that it spells otherwise.
_FORMATTED = {"timestamp": "timestamp without time zone", "timestamptz": "timestamp with time zone",
              "timestamp[]": "timestamp without time zone[]"}
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


class UnsupportedColumn(ValueError):
    """A raw column whose DuckDB type has no mapping here: the message names it."""


def postgres_type(duckdb_type: str, where: str) -> str:
    """PostgreSQL's type for a DuckDB column type; `where` (table.column) names it in the error."""
    upper = duckdb_type.upper()
    if upper in _SCALAR_TYPES:
        return _SCALAR_TYPES[upper]
    if match := _DECIMAL.fullmatch(upper):
        return f"numeric({match[1]},{match[2]})"
    if upper.endswith("[]"):
        return postgres_type(upper[:-2], where) + "[]"
    raise UnsupportedColumn(f"{where}: DuckDB type {duckdb_type} has no PostgreSQL mapping in ingest/postgres.py")



def _as_copy_text(column: str, duckdb_type: str) -> str:
    """The DuckDB expression whose CSV text PostgreSQL's COPY reads back as the same value: a
    list becomes an array literal ({"a","b"}); everything else is already written in a form
    both read alike (ISO dates and timestamps, true/false, NULL as an empty unquoted field)."""
    if duckdb_type.upper().endswith("[]"):
        element = "'\"' || replace(replace(cast(x as varchar), '\\', '\\\\'), '\"', '\\\"') || '\"'"
        return (f"case when {ident(column)} is null then null else "
                f"'{{' || array_to_string(list_transform({ident(column)}, lambda x: {element}), ',') || '}}' end")
    return ident(column)


def raw_tables(con: duckdb.DuckDBPyConnection, schema: str = SCHEMA) -> list[str]:
    return [name for (name,) in con.execute(
        "select table_name from information_schema.tables where table_schema = ? and table_type = 'BASE TABLE' "
        "order by table_name", [schema]).fetchall()]


def copy_raw_schema(duckdb_path: Path, pg_connection, tables: Iterable[str] | None = None,
                    into_schema: str = SCHEMA, from_schema: str = SCHEMA) -> dict[str, int]:
    """Replace the raw schema's tables in PostgreSQL (`pg_connection`: an open psycopg2
    connection) with those of the DuckDB file; returns the rows copied per table. The
    connection's transaction is committed at the end, rolled back on any error.
    `into_schema`: the PostgreSQL schema written (a run's own build schema, see
    pcr/publish_postgres.py); `from_schema`: the DuckDB schema read (the run records are
    copied from `pipeline`)."""
    copied: dict[str, int] = {}
    with duckdb.connect(str(duckdb_path), read_only=True) as source:
        names = list(tables) if tables is not None else raw_tables(source, from_schema)
        try:
            with pg_connection.cursor() as cursor:
                cursor.execute(f"create schema if not exists {ident(into_schema)}")
                for name in names:
                    copied[name] = _copy_table(source, cursor, name, into_schema, from_schema)
            pg_connection.commit()
        except BaseException:
            pg_connection.rollback()
            raise
    return copied


def _copy_table(source: duckdb.DuckDBPyConnection, cursor, name: str, into_schema: str,
                from_schema: str = SCHEMA) -> int:
    columns = source.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position", [from_schema, name]).fetchall()
    if not columns:
        raise UnsupportedColumn(f"{from_schema}.{name}: no such table in the DuckDB file")
    target = f"{ident(into_schema)}.{ident(name)}"
    wanted = [(c, postgres_type(t, f"{from_schema}.{name}.{c}")) for c, t in columns]
    cursor.execute("select attname, format_type(atttypid, atttypmod) from pg_attribute "
                   "where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped order by attnum", [target])
    if cursor.fetchall() == [(c, _FORMATTED.get(t, t)) for c, t in wanted]:
        # Same columns: emptied in place, so the staging views built on it stay.
        cursor.execute(f"truncate {target}")
    else:
        # A new or changed table: the views built on the old one go with it; the next dbt
        # build makes them again.
        cursor.execute(f"drop table if exists {target} cascade")
        cursor.execute(f"create table {target} ({', '.join(f'{ident(c)} {t}' for c, t in wanted)})")
    select = ", ".join(_as_copy_text(c, t) for c, t in columns)
    with tempfile.TemporaryDirectory(prefix="pcr-copy-") as folder:
        csv_path = Path(folder) / f"{name}.csv"
        # DuckDB's own CSV writer: NULL as \N, an empty string as an empty field, ISO dates
        # and timestamps, true/false; PostgreSQL's CSV reader reads each back as the same value.
        source.execute(f"copy (select {select} from {ident(from_schema)}.{ident(name)}) to '{csv_path}' "
                       "(format csv, header false, nullstr '\\N')")
        column_list = ", ".join(ident(c) for c, _ in columns)
        with csv_path.open(encoding="utf-8") as rows:
            cursor.copy_expert(f"copy {target} ({column_list}) from stdin with (format csv, null '\\N')", rows)
    return cursor.rowcount


def main(argv: list[str] | None = None) -> int:
    """`python -m ingest.postgres DUCKDB_FILE [--dsn ...]`: copy the file's raw schema into the
    PostgreSQL database libpq connects to (the PG* variables and ~/.pgpass, or --dsn)."""
    import argparse

    import psycopg2

    parser = argparse.ArgumentParser(prog="python -m ingest.postgres", description=main.__doc__)
    parser.add_argument("duckdb_file", type=Path, help="a DuckDB file written by `pcr ingest` or `pcr run`")
    parser.add_argument("--dsn", default="", help="libpq connection string (default: the PG* variables)")
    args = parser.parse_args(argv)
    if not args.duckdb_file.is_file():
        parser.error(f"{args.duckdb_file}: no such file")
    connection = psycopg2.connect(args.dsn)
    try:
        copied = copy_raw_schema(args.duckdb_file, connection)
    finally:
        connection.close()
    for name, rows in copied.items():
        print(f"raw.{name}: {rows} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
