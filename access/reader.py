"""Reading the published database: one read-only DuckDB instance per version of the file.

The instance is shared by every caller in the process (each query runs on its own cursor, so
the dashboards' session threads do not share a connection); it cannot read files, attach other
databases or change its settings. Opening one costs ~30 ms, so a page's 9-17 queries reuse it.
The version is the file's identity (device, inode, mtime, size): the pipeline replaces the
published file atomically (pcr/publish.py), so the next query sees a new identity and opens
the new version, while a query already running keeps reading the old inode to the end. The old
instance is closed when its last query ends, which releases the old inode.

Results are not cached unless a caller installs a cache with ``cache_results`` (the dashboards
install Streamlit's): the version is part of every read's arguments, so a cache keyed on them
never serves an older file's results.
"""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd


class DataUnavailable(RuntimeError):
    """No published database to read (the pipeline has not run yet)."""


@dataclass(frozen=True)
class DbVersion:
    """Identity of one published file: a pipeline publish gives a new inode."""

    device: int
    inode: int
    mtime_ns: int
    size: int


def db_version(path: Path) -> DbVersion:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataUnavailable(f"No published database at {path}: run the pipeline first (see the README).") from None
    return DbVersion(info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)


class _Replaced(Exception):
    """The file changed while a connection was being opened: read again."""


class _Reader:
    """One read-only DuckDB instance on one version of the published file."""

    def __init__(self, path: str, version: DbVersion) -> None:
        # A fresh in-memory instance that ATTACHes the file: duckdb.connect(path) would reuse an
        # instance still open on the same path in this process — after a publish, the old file.
        self.connection = duckdb.connect(":memory:")
        try:
            self.connection.execute("ATTACH $path AS published (READ_ONLY)", {"path": path})
            # Same identity before (the cache key) and after opening: the open file is that version.
            if db_version(Path(path)) != version:
                raise _Replaced
            self.connection.execute("SET enable_external_access = false")  # no files, no other databases
            # The instance is shared: no query may change a setting under another session's feet.
            self.connection.execute("SET lock_configuration = true")
        except BaseException:
            self.connection.close()
            raise
        self.version = version
        self.queries_running = 0
        self.retired = False  # a newer version is open: close once the last query ends


_readers: dict[str, _Reader] = {}  # path -> the reader of its current version
_readers_lock = threading.Lock()


def _cursor(path: str, version: DbVersion) -> tuple[_Reader, duckdb.DuckDBPyConnection]:
    with _readers_lock:
        reader = _readers.get(path)
        if reader is None or reader.version != version:
            # Opening under the lock: sessions asking for a new version wait for one open, not many.
            reader = _Reader(path, version)
            previous = _readers.get(path)
            _readers[path] = reader
            if previous is not None:
                previous.retired = True
                if previous.queries_running == 0:
                    previous.connection.close()
        cursor = reader.connection.cursor()
        # Closing the instance's connection ends its cursors too: count them to close it after.
        reader.queries_running += 1
        return reader, cursor


def _release(reader: _Reader) -> None:
    with _readers_lock:
        reader.queries_running -= 1
        if reader.retired and reader.queries_running == 0:
            reader.connection.close()


def _read(path: str, version: DbVersion, sql: str, params: tuple[tuple[str, object], ...]) -> pd.DataFrame:
    reader, cursor = _cursor(path, version)
    try:
        cursor.execute("USE published")  # a cursor starts in the in-memory catalog
        return cursor.execute(sql, dict(params)).df()
    finally:
        cursor.close()
        _release(reader)


# A read of one version: path, version, SQL, parameters as sorted (name, value) pairs.
Read = Callable[[str, DbVersion, str, tuple[tuple[str, object], ...]], pd.DataFrame]
_read_results: Read = _read


def cache_results(cache: Callable[[Read], Read]) -> None:
    """Serve every read through ``cache(read)``, e.g. ``st.cache_data(...)``: it is called with
    the file's path and version, the SQL and its parameters, all hashable."""
    global _read_results
    _read_results = cache(_read)


_keepers: dict[str, Callable[[], None]] = {}  # path -> what keeps that file current


def follow(path: Path, keep_current: Callable[[], None]) -> None:
    """Call ``keep_current()`` before every read of ``path``: the file is a copy of a publish
    made elsewhere (pcr/postgres_mirror.py), which it renews by replacing the file."""
    _keepers[str(path)] = keep_current


def read_published(path: Path, sql: str, params: Mapping[str, object] | None = None) -> pd.DataFrame:
    """Run finished SQL on the published file, read-only (cached per file version when a cache is installed)."""
    keep_current = _keepers.get(str(path))
    if keep_current is not None:
        keep_current()
    frozen = tuple(sorted((params or {}).items()))
    for _ in range(5):
        try:
            return _read_results(str(path), db_version(path), sql, frozen)
        except _Replaced:
            continue
    raise DataUnavailable(f"{path} kept changing while being opened; try again in a moment")


# --- PostgreSQL (docs/postgres.md) -----------------------------------------------------------

DASHBOARD_ROLE = "pcr_dashboard"  # made by every build on PostgreSQL (macros/row_security.sql)
_NAMED_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def read_postgres(connection: Mapping[str, object], sql: str, params: Mapping[str, object] | None = None,
                  role: str = DASHBOARD_ROLE) -> pd.DataFrame:
    """Run finished SQL on the published schemas of a PostgreSQL database, as `role`, in a
    read-only transaction, on a connection of its own that closes with the query.

    `connection`: psycopg2.connect's keywords (host, port, user, dbname; libpq finds the
    password); its user must be a member of `role`. A connection per query: nothing is held
    between reads, so a publish's swap never waits on a dashboard, and the next query reads the
    schemas just published. Parameters are named as for DuckDB (`$name`)."""
    import psycopg2
    from psycopg2 import sql as pg_sql

    # psycopg2 formats %(name)s; a literal % in the SQL must be doubled for it.
    text = _NAMED_PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))
    con = psycopg2.connect(**connection)
    try:
        con.set_session(readonly=True)
        with con.cursor() as cursor:
            cursor.execute(pg_sql.SQL("set role {}").format(pg_sql.Identifier(role)))
            cursor.execute(text, dict(params or {}))
            columns = [d[0] for d in cursor.description]
            return pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
    finally:
        con.close()
