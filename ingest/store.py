"""The raw schema: append-only version stores per contract table, the load manifest and the
quarantine.

Versions of a record (same key) are ordered by (_exported_at, _load_id); exactly one version
per key is current. See docs/data-contract.md, "Supersession"."""
from __future__ import annotations

import datetime as dt

import duckdb

from ingest.contract import TABLE_ORDER, TABLES, Table
from ingest.transform import ident, stored_type

METADATA_COLUMNS = (
    ("_load_id", "INTEGER"),
    ("_source_file", "VARCHAR"),
    ("_source_line", "BIGINT"),
    ("_exported_at", "TIMESTAMP"),
    ("_is_current", "BOOLEAN"),
    ("_superseded_by_load_id", "INTEGER"),
)

# Ids and keyed hashes are (nearly) all distinct: DuckDB's default string compression
# (dictionary + FSST) spends more time choosing and building its encoding for them than on
# the rest of the insert. ZSTD writes them faster but stores them larger (loading the 6 M time
# entries of a million motions: ~0.8 s less CPU, 94 -> 125 MB of used blocks; sizes read with
# pragma_storage_info understate ZSTD, which keeps its data in blocks that it does not list).
IDENTIFIER_COMPRESSION = " USING COMPRESSION zstd"


def _column_ddl(table: Table, name: str) -> str:
    compression = IDENTIFIER_COMPRESSION if name.endswith(("_id", "_hash")) else ""
    return f"{ident(name)} {stored_type(table, name)}{compression}"

MANIFEST_DDL = """
CREATE TABLE IF NOT EXISTS raw.load_manifest (
    load_id INTEGER NOT NULL,
    file_name VARCHAR NOT NULL,
    path VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    sheet VARCHAR,
    layout VARCHAR NOT NULL,
    file_kind VARCHAR NOT NULL,
    rows_read BIGINT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    rows_duplicate BIGINT NOT NULL,
    records JSON NOT NULL,       -- {table: {inserted, unchanged, superseded, stale}}
    exported_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    -- how exported_at was known: layout | file_name | option | load_time (not stated), see
    -- ingest.engine.EXPORT_DATE_SOURCES
    exported_at_source VARCHAR NOT NULL
)"""
MANIFEST_COLUMNS = ("load_id", "file_name", "path", "sha256", "sheet", "layout", "file_kind", "rows_read",
                    "rows_loaded", "rows_quarantined", "rows_duplicate", "records", "exported_at",
                    "exported_at_source", "started_at", "finished_at")

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS raw.quarantine (
    load_id INTEGER NOT NULL,
    source_file VARCHAR NOT NULL,
    sheet VARCHAR,
    line BIGINT NOT NULL,        -- file line (CSV), sheet row (XLSX) or data row, see line_kind
    line_kind VARCHAR NOT NULL,
    layout VARCHAR NOT NULL,
    file_kind VARCHAR NOT NULL,
    target_tables VARCHAR[] NOT NULL,
    rules VARCHAR[] NOT NULL,
    reason VARCHAR NOT NULL,
    raw_values JSON NOT NULL     -- mapped source columns only, PII columns redacted
)"""


LOAD_COLUMNS_DDL = """
CREATE TABLE IF NOT EXISTS raw.load_columns (
    load_id INTEGER NOT NULL,
    sheet VARCHAR,
    table_name VARCHAR NOT NULL,
    column_name VARCHAR NOT NULL,
    -- how the source's mapping gave the contract column (ingest.layouts.ColumnSpec.source), or
    -- 'absent' when it does not give it at all: what "not available in these exports" rests on
    source VARCHAR NOT NULL
)"""


def ensure_schema(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create what is missing; returns what was upgraded in a store written by an older
    version, as sentences."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for name in TABLE_ORDER:
        table = TABLES[name]
        columns = [_column_ddl(table, c) for c in table.stored_columns]
        columns += [f"{c} {t}" for c, t in METADATA_COLUMNS]
        con.execute(f"CREATE TABLE IF NOT EXISTS raw.{name} ({', '.join(columns)})")
    con.execute(MANIFEST_DDL)
    con.execute(QUARANTINE_DDL)
    con.execute(LOAD_COLUMNS_DDL)
    # Stores written before records were compared by value carry an MD5 of each record that
    # nothing reads any more (and that cost more to write than the record itself).
    upgraded = [name for (name,) in con.execute(
        "SELECT table_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'raw' AND column_name = '_record_hash' ORDER BY table_name").fetchall()]
    for name in upgraded:
        con.execute(f"ALTER TABLE raw.{name} DROP COLUMN _record_hash")
    notes = ["records are now compared by value; dropped the unused _record_hash column of "
             + ", ".join(f"raw.{t}" for t in upgraded)] if upgraded else []
    if _add_export_date_source(con):
        notes.append("recorded how each earlier load's export date was known (raw.load_manifest.exported_at_source)")
    return notes


# exported_at_source of a load written before that column existed, told exactly from what was
# stored: the load time was used as it was (exported_at = started_at), and a date from the file
# name is that day at midnight and spelled in the name.
EXPORT_DATE_SOURCE_OF_OLDER_LOADS = (
    "CASE WHEN exported_at = started_at THEN 'load_time' "
    "WHEN exported_at = date_trunc('day', exported_at) AND contains(file_name, strftime(exported_at, '%Y-%m-%d')) "
    "THEN 'file_name' ELSE 'option' END")


def has_export_date_source(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'raw' "
        "AND table_name = 'load_manifest' AND column_name = 'exported_at_source'").fetchall()[0][0])


def _add_export_date_source(con: duckdb.DuckDBPyConnection) -> bool:
    if has_export_date_source(con):
        return False
    con.execute("ALTER TABLE raw.load_manifest ADD COLUMN exported_at_source VARCHAR")
    con.execute(f"UPDATE raw.load_manifest SET exported_at_source = {EXPORT_DATE_SOURCE_OF_OLDER_LOADS}")
    con.execute("ALTER TABLE raw.load_manifest ALTER COLUMN exported_at_source SET NOT NULL")
    return True


def loaded_as(con: duckdb.DuckDBPyConnection, sha256: str) -> int | None:
    row = con.execute("SELECT min(load_id) FROM raw.load_manifest WHERE sha256 = ?", [sha256]).fetchall()[0]
    return row[0]


def next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM raw.load_manifest").fetchall()[0][0]


# Which stored version of a record is current: the one from the latest export (by its export
# date); of two versions exported on one date, the one loaded last.
CURRENT_VERSION_ORDER = "_exported_at DESC, _load_id DESC"


def mark_current(con: duckdb.DuckDBPyConnection, known_by: dt.datetime | None = None) -> None:
    """Mark every record's current version by the one rule (CURRENT_VERSION_ORDER). With
    ``known_by``, first drop what was exported on or after it, so that the raw schema is what it
    was with only the exports made before then (a past period's data as known at its close).
    merge() keeps the marks by the same rule as each export is loaded."""
    cutoff = {"cutoff": known_by} if known_by is not None else {}
    for name in TABLE_ORDER:
        if cutoff:
            con.execute(f"DELETE FROM raw.{name} WHERE _exported_at >= $cutoff", cutoff)
        con.execute(
            f"UPDATE raw.{name} AS t SET _is_current = c.is_current FROM (SELECT rowid AS row_id, row_number() OVER "
            f"(PARTITION BY {ident(TABLES[name].key)} ORDER BY {CURRENT_VERSION_ORDER}) = 1 AS is_current "
            f"FROM raw.{name}) c WHERE t.rowid = c.row_id AND t._is_current IS DISTINCT FROM c.is_current")
    if cutoff:
        con.execute("DELETE FROM raw.load_manifest WHERE exported_at >= $cutoff", cutoff)


def merge(con: duckdb.DuckDBPyConnection, table_name: str, records: str, load_id: int, source_file: str,
          exported_at: dt.datetime) -> dict[str, int]:
    """Store the records (a relation with _row, _line and the stored columns, one record per
    key) as new versions where they differ from the current one, keeping the current marks by
    mark_current's rule: a version from an older export than the current one's is stored as not
    current; one from the same or a later export replaces it (this load is the latest)."""
    table = TABLES[table_name]
    key = ident(table.key)
    columns = [ident(c) for c in table.stored_columns]
    metadata = ", ".join(c for c, _ in METADATA_COLUMNS)
    # Records whose key is stored already, compared value by value with the current version;
    # every other record is new. Nothing is stored yet on a first load: no join at all then.
    # A record from an older export is stored even when equal to the current version: it says
    # the record stood so by that older date, which the state as known then (reports/asof.py)
    # cannot do without when exports are loaded out of order.
    counts = {}
    if con.execute(f"SELECT EXISTS (SELECT 1 FROM raw.{table_name})").fetchall()[0][0]:
        same = " AND ".join(f"c.{c} IS NOT DISTINCT FROM i.{c}" for c in columns)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _pcr_merge AS SELECT i._row, i.{key}, c._load_id AS _cur_load, "
            f"CASE WHEN $exported_at < c._exported_at THEN 'older' WHEN {same} THEN 'unchanged' ELSE 'newer' END AS _status "
            f"FROM {records} i JOIN raw.{table_name} c ON c.{key} = i.{key} AND c._is_current",
            {"exported_at": exported_at},
        )
        counts = dict(con.execute("SELECT _status, count(*) FROM _pcr_merge GROUP BY _status").fetchall())
    if counts:
        con.execute(
            f"UPDATE raw.{table_name} SET _is_current = false, _superseded_by_load_id = ? "
            f"WHERE _is_current AND {key} IN (SELECT {key} FROM _pcr_merge WHERE _status = 'newer')",
            [load_id],
        )
        inserted = con.execute(
            f"INSERT INTO raw.{table_name} ({', '.join(columns)}, {metadata}) "
            f"SELECT {', '.join('i.' + c for c in columns)}, $load_id, $file, i._line, $exported_at, "
            f"m._status IS DISTINCT FROM 'older', CASE WHEN m._status = 'older' THEN m._cur_load END "
            f"FROM {records} i LEFT JOIN _pcr_merge m USING (_row) WHERE m._status IS DISTINCT FROM 'unchanged'",
            {"load_id": load_id, "file": source_file, "exported_at": exported_at},
        ).fetchall()[0][0]
    else:
        inserted = con.execute(
            f"INSERT INTO raw.{table_name} ({', '.join(columns)}, {metadata}) "
            f"SELECT {', '.join(columns)}, $load_id, $file, _line, $exported_at, true, NULL FROM {records}",
            {"load_id": load_id, "file": source_file, "exported_at": exported_at},
        ).fetchall()[0][0]
    con.execute("DROP TABLE IF EXISTS _pcr_merge")
    return {
        "inserted": inserted,
        "unchanged": counts.get("unchanged", 0),
        "superseded": counts.get("newer", 0),
        "stale": counts.get("older", 0),
    }


def orphans(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """(child table, parent table, current child records whose parent is not among the current
    parent records): what a quarantined or missing parent row leaves behind, which the run
    summaries report so that a count short of them is never silent."""
    out = []
    for name in TABLE_ORDER:
        table = TABLES[name]
        if table.parent is None:
            continue
        column, parent = table.parent
        key = TABLES[parent].key
        (count,), = con.execute(
            f"SELECT count(*) FROM raw.{name} c WHERE c._is_current AND c.{ident(column)} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM raw.{parent} p WHERE p._is_current AND p.{ident(key)} = c.{ident(column)})").fetchall()
        if count:
            out.append((name, parent, count))
    return out


def describe_orphans(found: list[tuple[str, str, int]]) -> list[str]:
    """One sentence per kind of orphan, for the run summaries."""
    return [f"{count:,} record(s) of {child} refer to {parent} not loaded (their rows were quarantined "
            f"or are not in the exports given): see raw.quarantine, and load the {parent} export"
            for child, parent, count in found]
