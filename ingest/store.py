"""The raw schema: append-only version stores per contract table, the load manifest and the
quarantine.

Versions of a record (same key) are ordered by (_exported_at, _load_id); exactly one version
per key is current. See docs/data-contract.md, "Supersession"."""
from __future__ import annotations

import datetime as dt

import duckdb

from ingest.contract import TABLE_ORDER, TABLES
from ingest.transform import ident, stored_type

METADATA_COLUMNS = (
    ("_load_id", "INTEGER"),
    ("_source_file", "VARCHAR"),
    ("_source_line", "BIGINT"),
    ("_record_hash", "VARCHAR"),
    ("_exported_at", "TIMESTAMP"),
    ("_is_current", "BOOLEAN"),
    ("_superseded_by_load_id", "INTEGER"),
)

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
    finished_at TIMESTAMP NOT NULL
)"""

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


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for name in TABLE_ORDER:
        table = TABLES[name]
        columns = [f"{ident(c)} {stored_type(table, c)}" for c in table.stored_columns]
        columns += [f"{c} {t}" for c, t in METADATA_COLUMNS]
        con.execute(f"CREATE TABLE IF NOT EXISTS raw.{name} ({', '.join(columns)})")
    con.execute(MANIFEST_DDL)
    con.execute(QUARANTINE_DDL)


def loaded_as(con: duckdb.DuckDBPyConnection, sha256: str) -> int | None:
    row = con.execute("SELECT min(load_id) FROM raw.load_manifest WHERE sha256 = ?", [sha256]).fetchall()[0]
    return row[0]


def next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM raw.load_manifest").fetchall()[0][0]


def merge(con: duckdb.DuckDBPyConnection, table_name: str, records: str, keep: str, repeated_keys: str,
          load_id: int, source_file: str, exported_at: dt.datetime) -> dict[str, int]:
    """Store the records (temp table: stored columns, _row, _line, _record_hash; the rows
    satisfying `keep`) as new versions where they differ from the current one.
    `repeated_keys` is a query for (at least) every key that more than one record carries."""
    table = TABLES[table_name]
    key = ident(table.key)
    columns = ", ".join(ident(c) for c in table.stored_columns)
    # A wide source repeats a parent record on many rows: store it once, from the first kept
    # row, even when an earlier row carrying it was quarantined for another part. Only repeated
    # keys need the look (a window over every record costs seconds at a million rows).
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _pcr_repeat AS SELECT _row FROM ("
        f"SELECT i._row, row_number() OVER (PARTITION BY i.{key} ORDER BY i._row) AS n FROM {records} i "
        f"WHERE {keep} AND i.{key} IN ({repeated_keys})) WHERE n > 1"
    )
    keep = f"({keep}) AND i._row NOT IN (SELECT _row FROM _pcr_repeat)"
    # Records whose key is stored already; every other kept record is new. On a first load
    # this is empty, and the insert below needs no join over all records.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _pcr_merge AS SELECT i._row, i.{key}, c._load_id AS _cur_load, "
        f"CASE WHEN c._record_hash = i._record_hash THEN 'unchanged' "
        f"WHEN $exported_at >= c._exported_at THEN 'newer' ELSE 'older' END AS _status "
        f"FROM {records} i JOIN raw.{table_name} c ON c.{key} = i.{key} AND c._is_current WHERE {keep}",
        {"exported_at": exported_at},
    )
    con.execute(
        f"UPDATE raw.{table_name} SET _is_current = false, _superseded_by_load_id = ? "
        f"WHERE _is_current AND {key} IN (SELECT {key} FROM _pcr_merge WHERE _status = 'newer')",
        [load_id],
    )
    inserted = con.execute(
        f"INSERT INTO raw.{table_name} ({columns}, {', '.join(c for c, _ in METADATA_COLUMNS)}) "
        f"SELECT {', '.join('i.' + ident(c) for c in table.stored_columns)}, $load_id, $file, i._line, "
        f"i._record_hash, $exported_at, m._status IS DISTINCT FROM 'older', "
        f"CASE WHEN m._status = 'older' THEN m._cur_load END "
        f"FROM {records} i LEFT JOIN _pcr_merge m USING (_row) WHERE {keep} AND m._status IS DISTINCT FROM 'unchanged'",
        {"load_id": load_id, "file": source_file, "exported_at": exported_at},
    ).fetchall()[0][0]
    counts = dict(con.execute("SELECT _status, count(*) FROM _pcr_merge GROUP BY _status").fetchall())
    con.execute("DROP TABLE _pcr_merge")
    con.execute("DROP TABLE _pcr_repeat")
    return {
        "inserted": inserted,
        "unchanged": counts.get("unchanged", 0),
        "superseded": counts.get("newer", 0),
        "stale": counts.get("older", 0),
    }
