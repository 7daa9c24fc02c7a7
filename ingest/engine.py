"""Loading export files into the raw schema: one transaction per file."""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import duckdb

from ingest import store
from ingest.contract import TABLES
from ingest.files import SUFFIXES, export_files
from ingest.layouts import DetectionError, Layout, Match, detect, signature_matches
from ingest.privacy import install_hmac_macro, load_or_create_key
from ingest.sources import FileProblem, Source, read_csv, read_xlsx, scan_file
from ingest.transform import SourceSql

VEHICLE_TAXONOMY_CSV = Path(__file__).resolve().parent.parent / "seeds" / "vehicle_taxonomy.csv"
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")


@dataclass
class SourceResult:
    sheet: str | None
    layout: str
    file_kind: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    rows_duplicate: int
    records: dict[str, dict[str, int]]


@dataclass
class FileResult:
    path: Path
    status: str  # loaded | skipped | failed
    message: str = ""
    load_id: int | None = None
    export_date: ExportDate | None = None
    sources: list[SourceResult] = field(default_factory=list)
    seconds: float = 0.0
    quarantine_rules: Counter = field(default_factory=Counter)
    quarantine_examples: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # mapping doubts, e.g. an unread column named like a contract one

    def total(self, attr: str) -> int:
        return sum(getattr(s, attr) for s in self.sources)


def collect_files(inputs: list[Path]) -> tuple[list[Path], list[FileResult]]:
    """The export files under the inputs, and a failed result for each input that does not exist."""
    files, missing = export_files(inputs)
    return files, [FileResult(item, "failed", "no such file or folder") for item in missing]


# How a file's export date was known, as raw.load_manifest.exported_at_source records it. Only
# a stated date can place an export in time: a report on a closed period refuses exports dated
# by their load time (reports/asof.py).
EXPORT_DATE_SOURCES = {
    "layout": "file name, by its layout's export_date pattern",
    "file_name": "ISO date in the file name",
    "option": "--exported-at",
    "load_time": "not stated: the load time",
}


@dataclass(frozen=True)
class ExportDate:
    at: dt.datetime
    source: str  # a key of EXPORT_DATE_SOURCES

    def describe(self) -> str:
        when = f"{self.at:%Y-%m-%d}" if self.at.time() == dt.time() else f"{self.at:%Y-%m-%d %H:%M}"
        return f"exported {when} ({EXPORT_DATE_SOURCES[self.source]})"


def export_date_for(path: Path, layouts: Iterable[Layout], option: dt.datetime | None,
                    load_time: dt.datetime) -> ExportDate:
    """The export date of ``path``: its layout's export_date pattern, else an ISO date in the
    file name, else --exported-at, else the load time. The name wins over the option: one
    option given for a folder must not re-date the files that say when they were made."""
    for layout in layouts:
        if layout.export_date is None:
            continue
        try:
            found = layout.export_date.read(path.name)
        except ValueError as e:
            raise FileProblem(f"export date: {e} (export_date of layout {layout.name}, {layout.path.name})") from None
        if found is not None:
            return ExportDate(found, "layout")
    for match in _ISO_DATE.finditer(path.name):
        try:
            return ExportDate(dt.datetime(*(int(g) for g in match.groups())), "file_name")
        except ValueError:
            continue
    if option is not None:
        return ExportDate(option, "option")
    return ExportDate(load_time, "load_time")


def column_sources(match: Match) -> list[tuple[str, str, str]]:
    """(table, contract column, how the mapping gives it) for every column of the tables a
    source makes: raw.load_columns."""
    out = []
    for table, resolved in match.columns.items():
        not_available = match.not_available.get(table, ())
        for column in TABLES[table].columns:
            how = (resolved[column.name].spec.source if column.name in resolved
                   else "not_available" if column.name in not_available else "absent")
            out.append((table, column.name, how))
    return out


def load_vehicles() -> tuple[str, ...]:
    with VEHICLE_TAXONOMY_CSV.open(encoding="utf-8", newline="") as f:
        return tuple(row["vehicle"].strip() for row in csv.DictReader(f))


class Ingestor:
    def __init__(self, db: Path, *, layouts: list[Layout], hmac_key_file: Path, memory_limit: str,
                 exported_at: dt.datetime | None = None, strict: bool = False):
        db.parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(db))
        # A file's work table sits in memory (0.8 GB for the 6 M time entries of a million
        # motions), and re-loading an export joins it with the stored versions; beyond the
        # limit DuckDB spills to disk beside the database. At a million motions: peak 1.3 GB
        # for a first load, 1.2 GB for a re-load (1.7 GB with a 1.5 GB limit, for ~5% less CPU).
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.con.execute("SET enable_progress_bar = false")  # pcr prints its own progress
        # DuckDB rewrites IN over a list of constants (and list_contains) into a join with
        # that list: one per enum, boolean and trimmed column, each copying the whole row.
        # Evaluated in place they are cheap.
        self.con.execute("SET disabled_optimizers = 'in_clause'")
        self.exported_at = exported_at
        self.strict = strict  # a doubt about the mapping refuses the file instead of warning
        self.layouts = layouts
        self.vehicles = load_vehicles()
        install_hmac_macro(self.con, load_or_create_key(hmac_key_file))
        self.upgrades = store.ensure_schema(self.con)

    @property
    def upgrade_note(self) -> str | None:
        return f"Upgraded the raw store: {'; '.join(self.upgrades)}" if self.upgrades else None

    def close(self) -> None:
        self.con.close()

    def ingest_file(self, path: Path, sha256: str | None = None) -> FileResult:
        """`sha256`: the file's checksum when the caller already computed it (`pcr run`'s check
        for anything new), so the file is read only if it is new."""
        started = dt.datetime.now()
        clock = time.perf_counter()
        result = FileResult(path, "failed")
        is_xlsx = path.suffix.lower() == ".xlsx"
        try:
            if path.suffix.lower() not in SUFFIXES:
                raise FileProblem("not a .csv or .xlsx file")
            previous = None if sha256 is None else store.loaded_as(self.con, sha256)
            facts = None if previous is not None else scan_file(path, check_utf8=not is_xlsx, sha256=sha256)
            previous = previous if facts is None else store.loaded_as(self.con, facts.sha256)
            if previous is not None:
                result.status, result.load_id = "skipped", previous
                result.message = f"already loaded as load {previous} (same sha256); nothing changed"
                return result
            def is_header(row: list[str]) -> bool:
                return signature_matches(row, self.layouts)

            sources = (read_xlsx(self.con, path, "_pcr_src", is_header) if is_xlsx
                       else [read_csv(path, facts, "_pcr_src_0", is_header)])
            # Read into work tables before the transaction: they are temporary, and a CSV's rows
            # are numbered by rowid, which counts from 0 only in a table committed before it.
            matches = [self._detect(source) for source in sources]
            result.warnings = [f"{source.where(path.name)}: {doubt}" for source, match in zip(sources, matches)
                               for doubt in match.near_misses]
            if self.strict and result.warnings:
                raise FileProblem("--strict: " + "; ".join(result.warnings))
            exported = export_date_for(path, [match.kind.layout for match in matches], self.exported_at, started)
            prepared = [self._prepare_source(source, match, exported.at) for source, match in zip(sources, matches)]
            self.con.execute("BEGIN TRANSACTION")
            try:
                load_id = store.next_load_id(self.con)
                for sql in prepared:
                    result.sources.append(self._load_source(path, sql, load_id, exported.at, result))
                finished = dt.datetime.now()
                for sql in prepared:
                    self.con.executemany(
                        "INSERT INTO raw.load_columns VALUES (?, ?, ?, ?, ?)",
                        [[load_id, sql.source.sheet, table, column, how] for table, column, how in column_sources(sql.match)])
                for s in result.sources:
                    self.con.execute(
                        f"INSERT INTO raw.load_manifest ({', '.join(store.MANIFEST_COLUMNS)}) "
                        f"VALUES ({', '.join('?' * len(store.MANIFEST_COLUMNS))})",
                        [load_id, path.name, str(path.resolve()), facts.sha256, s.sheet, s.layout, s.file_kind,
                         s.rows_read, s.rows_loaded, s.rows_quarantined, s.rows_duplicate,
                         json.dumps(s.records), exported.at, exported.source, started, finished],
                    )
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            result.status, result.load_id, result.export_date = "loaded", load_id, exported
        except FileProblem as e:
            result.sources = []
            result.quarantine_rules.clear()
            result.quarantine_examples.clear()
            result.message = str(e)
        except Exception as e:  # noqa: BLE001 - one file's failure must not end the run without its record
            result.sources = []
            result.quarantine_rules.clear()
            result.quarantine_examples.clear()
            # The error's own text may quote a cell (a name, an A-number): only its kind is said.
            result.message = (f"not loaded: an unexpected error ({type(e).__name__}) while reading it; nothing of it "
                              "was written. Report it with the file's layout, not its contents")
        finally:
            self._drop_work_tables()
            result.seconds = time.perf_counter() - clock
        return result

    def _detect(self, source: Source) -> Match:
        """The source's layout and file kind."""
        try:
            return detect(source.header, self.layouts)
        except DetectionError as e:
            raise FileProblem(f"{f'sheet {source.sheet!r}: ' if source.sheet else ''}{e}") from None

    def _prepare_source(self, source: Source, match: Match, exported_at: dt.datetime) -> SourceSql:
        """Read the source into its work table, checked against its export date."""
        sql = SourceSql(source, match, self.vehicles, exported_at.date())
        source.materialise(self.con, sql.work_select())
        return sql

    def _drop_work_tables(self) -> None:
        for object_type, name in self.con.execute(
            "SELECT 'VIEW', view_name FROM duckdb_views() WHERE temporary AND starts_with(view_name, '_pcr_src') "
            "UNION ALL SELECT 'TABLE', table_name FROM duckdb_tables() "
            "WHERE temporary AND starts_with(table_name, '_pcr_src')"
        ).fetchall():
            self.con.execute(f"DROP {object_type} IF EXISTS {name}")

    def _load_source(self, path: Path, sql: SourceSql, load_id: int, exported_at: dt.datetime,
                     result: FileResult) -> SourceResult:
        source, match = sql.source, sql.match
        where = source.where(path.name)
        sql.build_candidates(self.con)
        sql.build_duplicates(self.con)
        for table in sql.tables:
            sql.build_conflicts(self.con, table)
        sql.build_bad_rows(self.con)
        src = source.table
        kind = match.kind
        self.con.execute(
            "INSERT INTO raw.quarantine SELECT ?, ?, ?, _line, ?, ?, ?, "
            "list_distinct(list_transform(errs, lambda e: e.tbl)), list_transform(errs, lambda e: e.rule), "
            "? || ' ' || _line || ': ' || array_to_string(list_transform(errs, lambda e: e.msg), '; '), raw_values "
            f"FROM {src}_bad ORDER BY _row",
            [load_id, path.name, source.sheet, source.line_word, kind.layout.name, kind.kind, source.line_word],
        )
        set_aside = [[load_id, path.name, source.sheet, line, source.line_word, kind.layout.name, kind.kind,
                      sql.tables, [rule], f"{source.line_word} {line}: {reason}", "{}"]
                     for line, rule, reason in source.damaged]
        if set_aside:
            self.con.executemany(f"INSERT INTO raw.quarantine VALUES ({', '.join('?' * 11)})", set_aside)
            result.quarantine_rules.update(rule for _, rule, _ in source.damaged)
        records = {table: store.merge(self.con, table, sql.build_records(self.con, table), load_id, path.name,
                                      exported_at)
                   for table in sql.tables}
        duplicates, quarantined = self.con.execute(
            f"SELECT (SELECT count(*) FROM {src}_dup), (SELECT count(*) FROM {src}_bad)"
        ).fetchall()[0]
        rules = self.con.execute(
            f"SELECT r, count(DISTINCT _row) FROM (SELECT _row, unnest(list_transform(errs, lambda e: e.rule)) AS r "
            f"FROM {src}_bad) GROUP BY r"
        ).fetchall()
        result.quarantine_rules.update(dict(rules))
        examples = self.con.execute(
            f"SELECT ? || ' ' || _line || ': ' || array_to_string(list_transform(errs, lambda e: e.msg), '; ') "
            f"FROM {src}_bad ORDER BY _row LIMIT 5", [source.line_word]
        ).fetchall()
        first = sorted([(line, f"{source.line_word} {line}: {reason}") for line, _, reason in source.damaged[:5]]
                       + [(int(text.split(":")[0].split()[-1]), text) for (text,) in examples])[:5]
        result.quarantine_examples += [f"{where}: {text}" for _, text in first]
        return SourceResult(
            sheet=source.sheet, layout=kind.layout.name, file_kind=kind.kind, rows_read=source.rows + len(source.damaged),
            rows_loaded=source.rows - duplicates - quarantined, rows_quarantined=quarantined + len(source.damaged),
            rows_duplicate=duplicates, records=records,
        )
