"""Reading export files as all-VARCHAR DuckDB relations, one per source (a CSV file or an
XLSX sheet), with a line number for every data row.

Whole-file problems raise FileProblem with a message meant for the person who exported the
file. Messages never quote cell contents: a cell may hold a name or an A-number."""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np

from ingest.layouts import HEADER_SEARCH_ROWS

_CHUNK = 1 << 24


class FileProblem(Exception):
    """The whole file cannot be loaded."""


@dataclass(frozen=True)
class FileFacts:
    sha256: str
    size: int
    newlines: int
    ends_with_newline: bool
    nul_bytes: int = 0  # NUL bytes in UTF-8 text: damaged cells, quarantined with their rows


@dataclass
class Source:
    """One table of an export (a CSV file or an XLSX sheet). `relation` is SQL for a FROM
    clause with the columns c0..cN VARCHAR (trimmed, NULL if blank), plus _row (1-based data
    row) and _line where the reader knows them (XLSX); `materialise` reads it once into the
    work table and makes `table` a view of that with _row and _line."""
    table: str
    relation: str
    header: list[str]
    sheet: str | None
    path: Path | None = None  # CSV: line numbers are settled once the rows are counted
    facts: FileFacts | None = None
    rows: int = 0
    line_word: str = "line"  # how _line is described in messages: "line", "row" (XLSX) or "data row"
    # Records the reader set aside, never read as values (a row with more or fewer cells than
    # the header, an unclosed quote): (line, rule, reason); they are quarantined as they are.
    damaged: list[tuple[int, str, str]] = field(default_factory=list)
    header_line: int = 1  # CSV: the physical line of the header (title rows above it are skipped)

    def where(self, file_name: str) -> str:
        return f"{file_name} [sheet {self.sheet!r}]" if self.sheet else file_name

    def materialise(self, con: duckdb.DuckDBPyConnection, select: str) -> None:
        """CREATE the work table <table>_w AS `select` (a query over `relation`), then the view
        <table> = the work table with _row and _line."""
        work = f"{self.table}_w"
        # A CSV is read, trimmed, typed and checked in one pass on every core, straight into the
        # work table, which keeps file order (insertion order is preserved): its rowid numbers
        # the data rows. (Reading into a table of raw strings first, or row_number() OVER () on
        # the scan, which runs on one thread, each cost seconds at 6 M rows.) rowid counts from
        # 0 only in a table committed before the ingest transaction starts: see Ingestor.
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {work} AS {select}")
        except duckdb.Error as e:
            if self.path is None:
                raise
            raise _duckdb_csv_problem(e) from None
        self.rows = con.execute(f"SELECT count(*) FROM {work}").fetchall()[0][0]
        if self.path is not None:
            self.damaged = _set_aside(con, f"{self.table}_rj", len(self.header))
        if len(self.damaged) > self.rows:  # most records: not this table's shape at all
            total = self.rows + len(self.damaged)
            raise FileProblem(
                f"not a consistent table: {len(self.damaged):,} of {total:,} records ({100 * len(self.damaged) / total:.0f}%) "
                f"do not fit the header's {len(self.header)} columns (first at line {self.damaged[0][0]}): a wrong "
                "delimiter (semicolons?) or a damaged export; fix the export and load it again")
        if self.path is None:  # XLSX: the sheet row came with the values
            con.execute(f"CREATE OR REPLACE TEMP VIEW {self.table} AS SELECT * FROM {work}")
            return
        numbered = f"SELECT rowid + 1 AS _row, * FROM {work}"
        # Exact line numbers cheaply when every record sits on one line (the common case):
        # line = data row + 1. Otherwise (quoted newlines, blank lines) count them with Python's
        # csv module; if it disagrees with DuckDB, say "data row" rather than guess a line.
        physical_lines = self.facts.newlines + (0 if self.facts.ends_with_newline else 1)
        if not self.damaged and physical_lines == self.rows + self.header_line:
            con.execute(f"CREATE OR REPLACE TEMP VIEW {self.table} AS SELECT *, _row + {self.header_line} AS _line "
                        f"FROM ({numbered})")
            return
        starts = _record_start_lines(self.path, self.header_line, {line for line, _, _ in self.damaged})
        if starts is None or len(starts) != self.rows:
            starts, self.line_word = list(range(1, self.rows + 1)), "data row"
        con.register(f"{self.table}_lines", {"_row": np.arange(1, self.rows + 1, dtype=np.int64),
                                             "_line": np.array(starts, dtype=np.int64)})
        con.execute(f"CREATE OR REPLACE TEMP TABLE {self.table}_l AS SELECT * FROM {self.table}_lines")
        con.unregister(f"{self.table}_lines")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {self.table} AS SELECT * FROM ({numbered}) JOIN {self.table}_l USING (_row)")


def scan_file(path: Path, check_utf8: bool, sha256: str | None = None) -> FileFacts:
    """sha256 plus, for CSV, proof that the bytes are UTF-8 text (one pass over the file).
    `sha256`: the file's checksum when the caller already computed it (not computed again)."""
    if sha256 is not None and not check_utf8:
        return FileFacts(sha256, path.stat().st_size, 0, False)
    digest = hashlib.sha256() if sha256 is None else None
    decoder = codecs.getincrementaldecoder("utf-8")()
    size = newlines = nul_bytes = 0
    last = b""
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            if digest is not None:
                digest.update(chunk)
            if check_utf8 and size == 0:
                _refuse_other_encodings(chunk)
            size += len(chunk)
            last = chunk[-1:]
            if check_utf8:
                newlines += chunk.count(b"\n")
                nul_bytes += chunk.count(b"\0")
                try:
                    # ASCII is UTF-8 as it stands (unless a character began in the last chunk).
                    if not chunk.isascii() or decoder.getstate()[0]:
                        decoder.decode(chunk)
                except UnicodeDecodeError as e:
                    raise FileProblem(
                        f"not UTF-8 text (invalid byte at offset {size - len(chunk) + e.start}; "
                        f"{_likely_encoding(chunk)}); "
                        "re-export it as 'CSV UTF-8 (Comma delimited)' (Excel: File > Save As)"
                    ) from None
        if check_utf8:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise FileProblem("not UTF-8 text (the file ends inside a multi-byte character); "
                                  "re-export it as UTF-8 CSV") from None
    return FileFacts(sha256 or digest.hexdigest(), size, newlines, last == b"\n", nul_bytes)


def header_row(rows: list[list[str]], is_header: Callable[[list[str]], bool] | None, where: str) -> int:
    """Which of the first non-blank rows is the header: the first that ``is_header`` accepts,
    so that title or notes rows above it are skipped. When none is accepted the first row is
    the header (detection then names the closest layout), unless it cannot be one: a row of
    fewer than two cells is a title, and the file is refused saying what was looked for."""
    for n, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if is_header is not None and is_header(row):
            return n
    if len([v for v in rows[0] if v and v.strip()]) >= 2:
        return 0
    looked = (f"; none of the first {min(len(rows), HEADER_SEARCH_ROWS)} rows holds the columns of a file kind's "
              "signature in the layouts in use" if is_header is not None else "")
    raise FileProblem(
        f"{where}not a table: its first row has {len([v for v in rows[0] if v and v.strip()])} column(s), "
        f"like a title row above a header{looked}. Check the layout's signature against the export's "
        "header (`pcr layout check LAYOUT FILE`)")


def _refuse_other_encodings(start: bytes) -> None:
    """A file that is not UTF-8 text at all, told by its first bytes: UTF-16 (Excel's "Unicode
    text", with or without its byte-order mark) and binary files. A stray NUL byte in a cell of
    UTF-8 text is a damaged row, not a damaged file (the row is quarantined)."""
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _utf16_without_bom(start[:4096]):
        raise FileProblem("UTF-16 text (Excel's 'Unicode text'), not UTF-8: save it as 'CSV UTF-8 (Comma delimited)' "
                          "(Excel: File > Save As) and load that")
    head = start[:4096]
    if b"\0" in head:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head)
        except UnicodeDecodeError:
            raise FileProblem("not a table: the file is binary (it contains NUL bytes), not CSV text") from None


def _likely_encoding(chunk: bytes) -> str:
    """A guess at the encoding of text that is not UTF-8, for the person re-exporting it."""
    try:
        chunk.decode("cp1252")
    except UnicodeDecodeError:
        return "the encoding is not one this can name"
    return "likely Windows-1252 / Latin-1, Excel's 'CSV (Comma delimited)'"


def _utf16_without_bom(head: bytes) -> bool:
    # ASCII text in UTF-16 has a NUL beside every character: in every other byte.
    pairs = len(head) // 2
    return pairs >= 4 and (head[1::2].count(0) > 0.9 * pairs or head[0::2].count(0) > 0.9 * pairs)


def _first_records(path: Path, limit: int) -> list[tuple[int, list[str]]]:
    """(physical start line, record) of the first non-blank records."""
    found: list[tuple[int, list[str]]] = []
    with path.open("r", encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        line = 1
        try:
            for record in reader:
                if any(v.strip() for v in record):
                    found.append((line, record))
                    if len(found) >= limit:
                        break
                line = reader.line_num + 1
        except csv.Error:
            pass  # a record Python's reader refuses (a huge cell): DuckDB reads the file, these are only the first rows
    return found


def _record_start_lines(path: Path, header_line: int, skipped: set[int]) -> list[int] | None:
    """Physical line on which each non-blank data record after the header starts, leaving out
    the records DuckDB set aside (``skipped``, by line); None when Python's reader cannot follow
    the file (a cell beyond its size limit)."""
    starts: list[int] = []
    with path.open("r", encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        line = 1
        try:
            for record in reader:
                if record and line > header_line and line not in skipped:
                    starts.append(line)
                line = reader.line_num + 1
        except csv.Error:
            return None
    return starts


# DuckDB's reject kinds, as quarantine rules; messages from the counts only, never the line.
_REJECTS = {
    "MISSING COLUMNS": "ragged_row",
    "TOO MANY COLUMNS": "ragged_row",
    "UNQUOTED VALUE": "unclosed_quote",
    "INVALID UNICODE": "invalid_text",
    "LINE SIZE OVER MAXIMUM": "oversized_row",
}
# No export holds a record near this; beyond it the row is set aside (a cell over
# transform.MAX_CELL_CHARS loads, to be quarantined with its column named).
MAX_RECORD_BYTES = 1 << 28


def _set_aside(con: duckdb.DuckDBPyConnection, rejects: str, width: int) -> list[tuple[int, str, str]]:
    """The records DuckDB's reader rejected, one per line, with a rule and a reason."""
    found = con.execute(f"SELECT line, list(error_type ORDER BY column_idx), list(error_message ORDER BY column_idx) "
                        f"FROM {rejects} GROUP BY line ORDER BY line").fetchall()
    out = []
    for line, kinds, messages in found:
        kind = kinds[0]
        counted = re.search(r"Found: (\d+)", messages[0] or "")
        if kind in ("MISSING COLUMNS", "TOO MANY COLUMNS") and counted:
            reason = (f"{counted.group(1)} cell(s) where the header has {width} (a missing or extra cell, an unquoted "
                      "comma, or a row cut off)")
        elif kind == "UNQUOTED VALUE":
            reason = "a quote opened in a cell is not closed (the row may be cut off)"
        elif kind == "INVALID UNICODE":
            reason = "the row is not UTF-8 text"
        else:
            reason = f"the row cannot be read as {width} cells ({kind.lower()})"
        out.append((line, _REJECTS.get(kind, "unreadable_row"), reason))
    return out


def _duckdb_csv_problem(e: duckdb.Error) -> FileProblem:
    # DuckDB's message quotes the offending line ("Original Line: ..."), which may hold a
    # client's name: keep only the position and the structural complaint.
    text = str(e)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    detail = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if line and detail:
        return FileProblem(
            f"not a consistent table: record {line.group(1)} has {detail.group(2)} fields but the header "
            f"has {detail.group(1)} (an unquoted comma or quote?); fix the export and load it again"
        )
    first = text.splitlines()[0] if text else type(e).__name__
    return FileProblem(f"not a readable CSV table ({first.split('Original Line')[0].strip()})")


_WS = " \t\r\n\u00a0"  # stray whitespace: spaces, tabs, line breaks, no-break spaces


def trimmed_sql(column: str) -> str:
    """SQL: the value without surrounding whitespace, NULL if blank. trim() with a character
    set is slow in DuckDB, so it only runs on values that start or end with whitespace; the
    test compares code points (left()/right() work on grapheme clusters and cost more)."""
    points = "(" + ", ".join(str(ord(c)) for c in _WS) + ")"
    return (f"NULLIF(CASE WHEN unicode({column}) IN {points} OR unicode(substring({column}, -1)) IN {points} "
            f"THEN trim({column}, '{_WS}') ELSE {column} END, '')")


def read_csv(path: Path, facts: FileFacts, table: str, is_header: Callable[[list[str]], bool] | None = None) -> Source:
    """The CSV as a source; nothing is read into DuckDB until it is materialised. Title rows
    above the header are skipped: the header is the first row ``is_header`` accepts."""
    records = _first_records(path, HEADER_SEARCH_ROWS)
    if facts.size == 0 or not records:
        raise FileProblem("empty file: no header line")
    header_line, header = records[header_row([r for _, r in records], is_header, "")]
    if len(header) < 2:
        raise FileProblem(
            f"not a table: the first line has {len(header)} column(s); expected a comma-separated header"
        )
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header)))
    trimmed = ", ".join(f"{trimmed_sql(f'c{i}')} AS c{i}" for i in range(len(header)))
    quoted_path = "'" + str(path).replace("'", "''") + "'"
    relation = (f"(SELECT {trimmed} FROM read_csv({quoted_path}, auto_detect=false, header=true, delim=',', "
                f"quote='\"', escape='\"', columns={{{columns}}}, encoding='utf-8', skip={header_line - 1}, "
                f"store_rejects=true, rejects_table='{table}_rj', rejects_scan='{table}_rs', "
                f"max_line_size={MAX_RECORD_BYTES}))")
    return Source(table, relation, header, None, path=path, facts=facts, header_line=header_line)


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time() else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value).strip(_WS) or None


def read_xlsx(con: duckdb.DuckDBPyConnection, path: Path, table_prefix: str,
              is_header: Callable[[list[str]], bool] | None = None) -> list[Source]:
    """Every sheet holding data as a source; the header of each is the first row
    ``is_header`` accepts (title rows above it are skipped)."""
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheets = [(name, workbook.get_sheet_by_name(name).to_python(skip_empty_area=False))
                  for name in workbook.sheet_names]
    except Exception as e:  # calamine raises several unrelated types for broken files
        raise FileProblem(f"cannot open the XLSX workbook ({type(e).__name__}: {str(e).splitlines()[0][:120]})") from None
    sources = []
    for n, (name, rows) in enumerate(sheets):
        # Text is most cells: trimmed here without a call per cell.
        cells = [[(v.strip(_WS) or None) if type(v) is str else _cell_text(v) for v in row] for row in rows]
        filled = [i for i, row in enumerate(cells) if row.count(None) < len(row)]
        if not filled:
            continue  # an empty sheet holds nothing to load
        candidates = [[v or "" for v in cells[i]] for i in filled[:HEADER_SEARCH_ROWS]]
        found = header_row(candidates, is_header, f"sheet {name!r}: ")
        first = filled[found]
        header = candidates[found]
        while header and not header[-1]:
            header.pop()
        if len(header) < 2:
            raise FileProblem(f"sheet {name!r} is not a table: its first row has {len(header)} column(s)")
        rows_below = [(i + 1, cells[i]) for i in filled if i > first]
        # A value beyond the header's last column has no column to go to: the row is set aside,
        # as the same row in a CSV is.
        width = len(header)
        damaged = [(sheet_row, "ragged_row", f"{max(j for j, v in enumerate(row) if v is not None) + 1} cell(s) where "
                    f"the header has {width} (a value right of the last header column)")
                   for sheet_row, row in rows_below if row[width:].count(None) < len(row) - width]
        data = [(sheet_row, row) for sheet_row, row in rows_below if row[width:].count(None) >= len(row) - width]
        # Columns as NumPy arrays of str and None: DuckDB reads them without pyarrow or pandas,
        # whose imports would cost the run's process a quarter of a second and some 70 MB.
        columns = list(zip(*(row[:width] + [None] * (width - len(row)) for _, row in data))) or [()] * width
        arrays = {f"c{j}": np.array(column, dtype=object) for j, column in enumerate(columns)}
        arrays["_row"] = np.arange(1, len(data) + 1, dtype=np.int64)
        arrays["_line"] = np.array([sheet_row for sheet_row, _ in data], dtype=np.int64)
        table = f"{table_prefix}_{n}"
        con.register("_pcr_sheet", arrays)
        # A column of blanks only reaches DuckDB without a type: every value column is text.
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table}_x AS SELECT "
                    + "".join(f"c{j}::VARCHAR AS c{j}, " for j in range(width)) + "_row, _line FROM _pcr_sheet")
        con.unregister("_pcr_sheet")
        sources.append(Source(table, f"{table}_x", header, name, line_word="row", damaged=damaged))
    if not sources:
        raise FileProblem("empty workbook: no sheet holds any data")
    return sources
