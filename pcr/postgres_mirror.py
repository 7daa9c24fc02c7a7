"""The dashboards' and reports' copy of a PostgreSQL publish: a local, read-only DuckDB file.

Every page and report reads through access.reader.read_published, in DuckDB's SQL (and the
grant report through the Kaplan-Meier table macros): one implementation of each query. On the
postgres target they read a DuckDB copy of what PostgreSQL published instead of a second,
PostgreSQL version of every query; the copy is the published file's shape (marts, reference,
the as-of date, the units of time to resolution, raw, and the run records of pipeline), so
the readers need no change.

- Consistent: the copy is read in one REPEATABLE READ, read-only transaction, as the
  pcr_dashboard role (what that role may read is what is copied, macros/row_security.sql). A
  swap committed while it runs would let a table looked up by name afterwards be the new
  publish's (PostgreSQL resolves names in the latest catalog), so the publish stamp's table
  is looked up by name before and after; when it changed, the copy is thrown away and made
  again. A copy is always one publish, never half of two.
- Never in a publish's way: no connection is held between copies (the stamp is read on a
  connection that closes with the read), and a copy holds only the read locks of its
  transaction: the swap's renames do not wait for them (the dropping of the retired schemas
  after the commit waits for a copy still reading them to end).
- Replaced atomically: written as a new file beside the copy, then renamed over it, so the
  reader's file-version identity (device, inode) sees the new publish on its next query, and a
  query running on the old file reads it to its end.
- Fast: each table leaves PostgreSQL with COPY ... TO STDOUT (CSV, written to a temporary
  file by the driver's C loop) and enters DuckDB through its parallel CSV reader with the
  column types fixed, not as Python tuples.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from access.reader import DASHBOARD_ROLE, DataUnavailable, DbVersion, db_version
from pcr.publish_postgres import STAMP_TABLE
from pcr.settings import PROJECT_ROOT, PostgresConnection, Settings

# The schemas the copy reads (of each, the tables and views the dashboard role may select).
COPIED_SCHEMAS = ("marts", "reference", "intermediate", "raw", "pipeline")
CHECK_EVERY_S = 5.0  # how often a running dashboard asks PostgreSQL whether a new publish is there
COPY_ATTEMPTS = 3

# PostgreSQL's format_type() -> DuckDB's type, for the types the builds write.
_TYPES = {
    "text": "VARCHAR", "character varying": "VARCHAR", "character": "VARCHAR", "name": "VARCHAR",
    "boolean": "BOOLEAN", "smallint": "SMALLINT",
    "integer": "INTEGER", "bigint": "BIGINT", "real": "FLOAT", "double precision": "DOUBLE",
    # An unconstrained numeric is what PostgreSQL's sum() of bigints gives where DuckDB's gives
    # a HUGEINT; both reach the pages as float64.
    "numeric": "DOUBLE", "date": "DATE", "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMPTZ", "jsonb": "JSON", "json": "JSON", "interval": "INTERVAL",
}


class MirrorUnavailable(DataUnavailable):
    """The PostgreSQL publish cannot be copied: the message says why, in one sentence."""


def mirror_path(settings: Settings) -> Path:
    """Where the copy is kept: the settings' published database on the postgres target."""
    return settings.published_db


def _where(pg: PostgresConnection) -> str:
    return f"PostgreSQL database {pg.dbname} on {pg.host}:{pg.port}"


def _connect(pg: PostgresConnection):
    import psycopg2

    try:
        connection = psycopg2.connect(host=pg.host, port=pg.port, user=pg.user, dbname=pg.dbname,
                                      application_name="pcr dashboards copy")
    except psycopg2.OperationalError as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise MirrorUnavailable(f"cannot connect to {_where(pg)} as {pg.user}: {reason}") from None
    return connection


def _read_as_dashboard(connection, pg: PostgresConnection, cursor) -> None:
    import psycopg2

    try:
        cursor.execute(f'set role "{DASHBOARD_ROLE}"')
    except psycopg2.Error as e:
        connection.rollback()
        if isinstance(e, psycopg2.errors.InvalidParameterValue):  # the role does not exist
            raise MirrorUnavailable(f"{_where(pg)} has no role {DASHBOARD_ROLE}: no `pcr run --target postgres` "
                                    "has built there yet (docs/postgres.md)") from None
        raise MirrorUnavailable(f"user {pg.user} may not read as {DASHBOARD_ROLE} in {_where(pg)}: an "
                                f"administrator grants it (grant {DASHBOARD_ROLE} to {pg.user}; "
                                "docs/postgres.md)") from None


def _stamp_oid(cursor) -> int | None:
    """The stamp table by name, as the latest catalog resolves it: a new one with every swap."""
    cursor.execute("select to_regclass(%s)::oid", [f"marts.{STAMP_TABLE}"])
    return cursor.fetchone()[0]


def _no_publish(pg: PostgresConnection) -> MirrorUnavailable:
    return MirrorUnavailable(f"no PostgreSQL publish yet in {_where(pg)}: run `pcr run --target postgres "
                             "EXPORTS...` first (docs/postgres.md)")


def published_stamp(pg: PostgresConnection) -> str:
    """Which publish PostgreSQL serves now (the id of the run that published it: every publish
    is a new run's), read as the dashboard role on a connection that closes with the read.
    Raises MirrorUnavailable."""
    connection = _connect(pg)
    try:
        connection.set_session(readonly=True, autocommit=True)
        with connection.cursor() as cursor:
            _read_as_dashboard(connection, pg, cursor)
            if _stamp_oid(cursor) is None:
                raise _no_publish(pg)
            cursor.execute(f"select run_id from marts.{STAMP_TABLE}")
            return cursor.fetchone()[0]
    finally:
        connection.close()


_known_stamps: dict[tuple[str, DbVersion], str | None] = {}


def copied_stamp(path: Path) -> str | None:
    """The stamp of the publish the copy at `path` holds; None when there is no copy."""
    try:
        version = db_version(path)
    except DataUnavailable:
        return None
    key = (str(path), version)
    if key not in _known_stamps:
        with duckdb.connect(":memory:") as con:  # as the reader opens it: never locks the file
            con.execute("ATTACH $path AS copy (READ_ONLY)", {"path": str(path)})
            (run_id,) = con.execute(f"SELECT run_id FROM copy.marts.{STAMP_TABLE}").fetchone()
        _known_stamps.clear()  # one entry per copy: the newest
        _known_stamps[key] = run_id
    return _known_stamps[key]


def _duckdb_type(pg_type: str, where: str, exact_decimals: bool) -> str:
    if pg_type.endswith("[]"):
        return _duckdb_type(pg_type[:-2], where, exact_decimals) + "[]"
    base = pg_type.split("(")[0]
    if base == "numeric" and "(" in pg_type and exact_decimals:
        return "DECIMAL" + pg_type[len(base):]
    if base in _TYPES:
        return _TYPES[base]
    raise MirrorUnavailable(f"{where}: PostgreSQL type {pg_type} has no DuckDB type in pcr/postgres_mirror.py")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def copy_relations(cursor, con: duckdb.DuckDBPyConnection, schemas: dict[str, str], folder: Path,
                   on_table: Callable[[str], None] | None = None, exact_decimals: bool = True) -> dict[str, int]:
    """Every table and view the cursor's role may select in the PostgreSQL schemas that are
    the values of `schemas`, into `con` under the DuckDB schema of its key; rows per table
    (by its DuckDB name). Each table is a CSV file in `folder` for as long as it is read.
    `exact_decimals=False` reads a numeric(p, s) as DOUBLE, as an unconstrained numeric.
    Reads in the cursor's transaction (its settings last as long as it)."""
    cursor.execute("set local timezone = 'UTC'; set local datestyle = 'ISO'; set local extra_float_digits = 3")
    duck_schema_of = {pg_schema: duck_schema for duck_schema, pg_schema in schemas.items()}
    cursor.execute("""
        select n.nspname, c.relname, c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm')
          and has_table_privilege(c.oid, 'select') order by 1, 2""", [list(duck_schema_of)])
    relations = cursor.fetchall()
    rows: dict[str, int] = {}
    for pg_schema, table, oid in relations:
        schema = duck_schema_of[pg_schema]
        name = f"{schema}.{table}"
        cursor.execute("select attname, format_type(atttypid, atttypmod) from pg_attribute "
                       "where attrelid = %s and attnum > 0 and not attisdropped order by attnum", [oid])
        columns = [(column, _duckdb_type(pg_type, f"{pg_schema}.{table}.{column}", exact_decimals),
                    pg_type.endswith("[]"))
                   for column, pg_type in cursor.fetchall()]
        # Arrays travel as JSON text, which DuckDB casts to its lists.
        selected = ", ".join(f"to_json({_quoted(c)})::text" if array else _quoted(c) for c, _, array in columns)
        csv = folder / f"{schema}.{table}.csv"
        with open(csv, "wb") as out:
            cursor.copy_expert(f"copy (select {selected} from {_quoted(pg_schema)}.{_quoted(table)}) "
                               "to stdout with (format csv)", out)
        read_types = ", ".join(f"{_quoted(c)}: '{'VARCHAR' if array else t}'" for c, t, array in columns)
        converted = ", ".join(f"CAST(CAST({_quoted(c)} AS JSON) AS {t}) AS {_quoted(c)}" if array else _quoted(c)
                              for c, t, array in columns)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(schema)}")
        # A quoted empty field is an empty text, an unquoted one NULL, as PostgreSQL wrote them.
        con.execute(f"CREATE TABLE {_quoted(schema)}.{_quoted(table)} AS SELECT {converted} FROM read_csv($csv, "
                    f"columns = {{{read_types}}}, header = false, auto_detect = false, allow_quoted_nulls = false, "
                    "quote = '\"', escape = '\"', delim = ',')", {"csv": str(csv)})
        rows[name] = con.execute(f"SELECT count(*) FROM {_quoted(schema)}.{_quoted(table)}").fetchone()[0]
        csv.unlink()
        if on_table is not None:
            on_table(name)
    return rows


def _kaplan_meier_macros(settings: Settings) -> str:
    """The SQL that installs the DuckDB table macros of macros/kaplan_meier.sql, rendered by
    dbt once per version of the project's macros (in a child process: dbt is kept out of the
    dashboards' server) and kept in the data directory."""
    sources = sorted((PROJECT_ROOT / "macros").glob("*.sql"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]
    kept = settings.data_dir / "postgres-mirror" / f"kaplan-meier-{digest}.sql"
    if not kept.exists():
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(f".{kept.name}.{os.getpid()}")
        rendered = subprocess.run([sys.executable, "-m", "pcr.postgres_mirror", str(partial)],
                                  env={**os.environ, **settings.environment()}, capture_output=True, text=True)
        if rendered.returncode != 0 or not partial.exists():
            partial.unlink(missing_ok=True)
            raise MirrorUnavailable("dbt could not render the Kaplan-Meier macros for the copy: "
                                    + (rendered.stderr.strip().splitlines() or ["no message"])[-1])
        os.replace(partial, kept)
    return kept.read_text(encoding="utf-8")


def copy_published(settings: Settings, path: Path | None = None,
                   on_table: Callable[[str], None] | None = None) -> str:
    """Copy the PostgreSQL publish into a new DuckDB file and rename it over `path` (default:
    the settings' copy); returns the run id of the publish copied. `on_table(name)` hears of
    each table copied. Raises MirrorUnavailable."""
    import psycopg2
    from psycopg2.extensions import ISOLATION_LEVEL_REPEATABLE_READ

    pg = settings.postgres
    if pg is None:
        raise MirrorUnavailable("the postgres target needs a database: set PGDATABASE (and PGHOST, PGPORT, "
                                "PGUSER as needed; docs/postgres.md)")
    path = Path(path or mirror_path(settings))
    path.parent.mkdir(parents=True, exist_ok=True)
    macros = _kaplan_meier_macros(settings)
    for _ in range(COPY_ATTEMPTS):
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.copying")
        partial.unlink(missing_ok=True)
        connection = _connect(pg)
        try:
            connection.set_session(isolation_level=ISOLATION_LEVEL_REPEATABLE_READ, readonly=True)
            with connection.cursor() as cursor, tempfile.TemporaryDirectory(prefix="copy-", dir=path.parent) as tmp, \
                    duckdb.connect(str(partial)) as con:
                _read_as_dashboard(connection, pg, cursor)
                stamp_before = _stamp_oid(cursor)
                if stamp_before is None:
                    raise _no_publish(pg)
                con.execute(f"SET memory_limit = '{settings.memory_limit}'")
                con.execute("SET enable_progress_bar = false")  # a dashboards' server log is no terminal
                copy_relations(cursor, con, {s: s for s in COPIED_SCHEMAS}, Path(tmp), on_table)
                if _stamp_oid(cursor) != stamp_before:
                    continue  # a swap committed meanwhile: the copy may mix two publishes
                (run_id,) = con.execute(f"SELECT run_id FROM marts.{STAMP_TABLE}").fetchone()
                con.execute(macros)
                con.execute("CHECKPOINT")
            connection.rollback()
        except psycopg2.Error as e:
            partial.unlink(missing_ok=True)
            raise MirrorUnavailable(f"copying the publish of {_where(pg)} failed: {str(e).strip()}") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            connection.close()
        os.replace(partial, path)
        return run_id
    partial.unlink(missing_ok=True)
    raise MirrorUnavailable(f"{_where(pg)} published {COPY_ATTEMPTS} times while being copied; try again")


def refresh(settings: Settings, path: Path | None = None) -> bool:
    """Make the copy current: copy again when PostgreSQL has published since (or there is no
    copy). One process copies at a time (a lock file beside the copy); the others find the
    copy current after it. Returns whether it copied. Raises MirrorUnavailable."""
    path = Path(path or mirror_path(settings))
    if settings.postgres is None:
        raise MirrorUnavailable("the postgres target needs a database: set PGDATABASE (and PGHOST, PGPORT, "
                                "PGUSER as needed; docs/postgres.md)")
    if copied_stamp(path) == published_stamp(settings.postgres):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if copied_stamp(path) == published_stamp(settings.postgres):
            return False  # another process copied it meanwhile
        copy_published(settings, path)
    return True


class Follower:
    """Keeps a running dashboard's copy current (access.reader.follow calls it before each
    read): the first read waits for a copy when there is none; later, at most every
    CHECK_EVERY_S seconds, a background thread asks PostgreSQL for its stamp and copies a new
    publish, while the pages go on reading the copy they have."""

    def __init__(self, settings: Settings, every_s: float = CHECK_EVERY_S) -> None:
        self.settings, self.path, self.every_s = settings, mirror_path(settings), every_s
        self.lock = threading.Lock()
        self.checked_at = float("-inf")
        self.worker: threading.Thread | None = None
        self.problem: str | None = None  # why the last check failed, for the server's log

    def __call__(self) -> None:
        if not self.path.exists():
            with self.lock:
                if not self.path.exists():
                    refresh(self.settings, self.path)
                    self.checked_at = time.monotonic()
            return
        with self.lock:
            if time.monotonic() - self.checked_at < self.every_s or (self.worker and self.worker.is_alive()):
                return
            self.checked_at = time.monotonic()
            self.worker = threading.Thread(target=self._check, name="pcr-postgres-copy", daemon=True)
            self.worker.start()

    def _check(self) -> None:
        try:
            refresh(self.settings, self.path)
            self.problem = None
        except Exception as e:  # noqa: BLE001 - the pages keep the copy they have; the log says why
            self.problem = str(e)
            print(f"pcr dashboards: the copy of the PostgreSQL publish was not renewed: {e}", file=sys.stderr)


_followers: dict[Path, Follower] = {}
_followers_lock = threading.Lock()


def follow(settings: Settings) -> Follower:
    """Keep the settings' copy current for every read of it in this process (once per copy)."""
    from access import reader

    path = mirror_path(settings)
    with _followers_lock:
        if path not in _followers:
            _followers[path] = Follower(settings)
            reader.follow(path, _followers[path])
        return _followers[path]


def _render_macros(into: Path) -> None:
    from pcr import dbt

    settings = Settings.from_env()
    work_dir = settings.data_dir / "postgres-mirror" / "dbt"
    sql = dbt.compile_inline(work_dir / "macros.duckdb", settings, "{{ create_kaplan_meier_macros() }}", work_dir)
    into.write_text(sql, encoding="utf-8")


if __name__ == "__main__":  # the child process of _kaplan_meier_macros
    _render_macros(Path(sys.argv[1]))
