"""Great Expectations validation of a PostgreSQL build, with the suites the DuckDB runs use.

The suites (expectations/) select each dataset with DuckDB SQL and hand GX the rows as a
DataFrame. For a build on PostgreSQL the tables those SQL statements read (the staging and marts
schemas) are copied from PostgreSQL, with their types, into a temporary DuckDB file under their
published names, by the dashboards' copying (pcr/postgres_mirror.py: COPY ... TO STDOUT into
DuckDB's CSV reader, a table at a time, with no Python rows in between); the suites then run
unchanged on it, and the collapse suite compares with the published marts copied the same way.
So one set of suites serves both engines, and what is judged is exactly what PostgreSQL holds.
"""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import duckdb

from pcr.postgres_mirror import copy_relations

# The schemas the suites read (expectations/staged.py, marts.py, privacy.py, collapse.py).
VALIDATED_SCHEMAS = ("staging", "marts")


def mirror(pg_connection, schemas: dict[str, str], target: Path) -> int:
    """Write the tables and views of PostgreSQL schemas into the DuckDB file `target`, each
    PostgreSQL schema (the value) under a DuckDB schema name (the key); returns the relations
    written."""
    with duckdb.connect(str(target)) as con, pg_connection.cursor() as cursor, \
            tempfile.TemporaryDirectory(prefix="csv-", dir=target.parent) as folder:
        con.execute("SET enable_progress_bar = false")
        # Every numeric as DOUBLE, with a precision or without: one type for the suites' measures.
        written = len(copy_relations(cursor, con, schemas, Path(folder), exact_decimals=False))
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
