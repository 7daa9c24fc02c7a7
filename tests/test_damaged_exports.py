"""A corpus of damaged exports, each loaded by a real `pcr ingest` into a DuckDB file that
already holds a good load: the exact outcome of every kind of damage (refused with a message
naming the file and the problem, or loaded with exactly the damaged rows quarantined with
their lines and rules), the row accounting of every load, and a refused file leaving the
database file byte-identical."""
from __future__ import annotations

import codecs
import csv
import hashlib
from pathlib import Path

import duckdb
import openpyxl
import pytest

HEADER = ["motion_id", "conviction_id", "vehicle", "filing_date", "hearing_date", "decision_date", "outcome"]
GOOD = [
    ["M1", "V1", "PC 1018", "2024-01-10", "2024-02-01", "2024-03-01", "granted"],
    ["M2", "V2", "PC 17(b)", "2024-01-11", "", "", "pending"],
    ["M3", "V3", "PC 1018", "2024-01-12", "2024-02-02", "2024-03-02", "denied"],
    ["M4", "V4", "PC 1018", "2024-01-13", "2099-01-01", "", "pending"],  # a hearing scheduled ahead is fine
]
EXPORTED = "2024-08-01"  # in the file names: dates after it cannot be true


def with_row(row: list[str], at: int = 2) -> list[list[str]]:
    """GOOD with ``row`` inserted before data row ``at`` (1-based): file line at + 1."""
    return GOOD[: at - 1] + [row] + GOOD[at - 1:]


# kind -> (rows, the damaged file lines and rules): each damaged row once, as CSV and XLSX.
QUARANTINED = {
    "extra cell": (with_row(["M9", "V9", "PC 1018", "2024-01-10", "", "", "pending", "surplus"]), {3: ["ragged_row"]}),
    "long key": (with_row(["M" * 1_000, "V9", "PC 1018", "2024-01-10", "", "", "pending"]), {3: ["bad_key"]}),
    "control character in a key": (with_row(["M9\tX", "V9", "PC 1018", "2024-01-10", "", "", "pending"]), {3: ["bad_key"]}),
    "future decision date": (with_row(["M9", "V9", "PC 1018", "2024-01-10", "", "2099-05-05", "granted"]),
                             {3: ["future_date"]}),
    "hearing after decision": (with_row(["M9", "V9", "PC 1018", "2017-01-10", "2099-01-01", "2017-06-01", "granted"]),
                               {3: ["date_order"]}),
}
CSV_ONLY = {
    "missing cell": (with_row(["M9", "V9", "PC 1018", "2024-01-10", "", "pending"]), {3: ["ragged_row"]}),
    # A NUL in a key is damage and also a control character in a key.
    "NUL byte in a cell": (with_row(["M9", "V9\x00", "PC 1018", "2024-01-10", "", "", "pending"]),
                           {3: ["damaged_cell", "bad_key"]}),
    # Longer than Excel's cells can be: only a CSV holds it (an outcome this long is not one either).
    "oversized cell": (with_row(["M9", "V9", "PC 1018", "2024-01-10", "", "", "x" * 40_000]),
                       {3: ["oversized_cell", "bad_value"]}),
}


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    book = openpyxl.Workbook()
    for row in [header, *rows]:
        book.active.append([v if v != "" else None for v in row])
    book.save(path)
    return path


@pytest.fixture
def loaded(tmp_path, run_pcr) -> Path:
    """A database holding one good load."""
    db = tmp_path / "db.duckdb"
    assert run_pcr("ingest", write_csv(tmp_path / f"motions_2024-07-01.csv", GOOD), "--db", db).code == 0
    return db


def last_load(db: Path) -> tuple[dict, dict[int, list[str]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = ["rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate"]
        load_id, *counts = con.execute(f"SELECT load_id, {', '.join(names)} FROM raw.load_manifest "
                                       "ORDER BY load_id DESC LIMIT 1").fetchone()
        quarantined = dict(con.execute("SELECT line, rules FROM raw.quarantine WHERE load_id = ?", [load_id]).fetchall())
    return dict(zip(names, counts)), quarantined


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind,fmt", [(k, f) for k in QUARANTINED for f in ("csv", "xlsx")] + [(k, "csv") for k in CSV_ONLY])
def test_damaged_rows_are_quarantined_with_their_lines_and_the_good_rows_load(tmp_path, run_pcr, loaded, kind, fmt):
    rows, expected = {**QUARANTINED, **CSV_ONLY}[kind]
    write = write_csv if fmt == "csv" else write_xlsx
    path = write(tmp_path / f"motions_{EXPORTED}.{fmt}", rows)
    result = run_pcr("ingest", path, "--db", loaded)
    assert result.code == 0, result.err
    counts, quarantined = last_load(loaded)
    assert quarantined == expected
    assert counts == {"rows_read": len(rows), "rows_loaded": len(rows) - 1, "rows_quarantined": 1, "rows_duplicate": 0}
    # The run names the file, the line and the reason (never the value of a key).
    assert f"{path.name}: line 3:" in result.out if fmt == "csv" else f"{path.name} [sheet 'Sheet']: row 3:" in result.out
    assert "MMMMMMMMMM" not in result.out


def test_a_row_cut_off_at_the_end_of_the_file_is_quarantined(tmp_path, run_pcr, loaded):
    path = write_csv(tmp_path / f"motions_{EXPORTED}.csv", GOOD)
    path.write_bytes(path.read_bytes() + b'M9,V9,"PC 10')  # the export stopped mid-row
    assert run_pcr("ingest", path, "--db", loaded).code == 0
    counts, quarantined = last_load(loaded)
    assert quarantined == {6: ["unclosed_quote"]}
    assert counts["rows_read"] == 5 and counts["rows_loaded"] == 4


def test_a_cell_of_fifty_megabytes_is_a_quarantined_row_not_a_traceback(tmp_path, run_pcr, loaded):
    path = write_csv(tmp_path / f"motions_{EXPORTED}.csv", with_row(["M9", "V9", "PC 1018", "2024-01-10", "", "", "y" * 50_000_000]))
    result = run_pcr("ingest", path, "--db", loaded)
    assert result.code == 0, result.err
    assert last_load(loaded)[1] == {3: ["oversized_cell", "bad_value"]}
    assert "a cell of column 'outcome' holds 50,000,000 characters" in result.out


def test_a_future_intake_date_is_quarantined_not_a_blocked_run(tmp_path, run_pcr, loaded):
    header = ["client_id", "intake_date", "immigration_status"]
    path = write_csv(tmp_path / f"clients_{EXPORTED}.csv", [["C1", "2024-01-01", "lpr"], ["C2", "2099-01-01", "lpr"]], header)
    assert run_pcr("ingest", path, "--db", loaded).code == 0
    assert last_load(loaded)[1] == {3: ["future_date"]}


def utf16(path: Path, bom: bool) -> Path:
    text = "\r\n".join(",".join(r) for r in [HEADER, *GOOD]) + "\r\n"
    path.write_bytes((codecs.BOM_UTF16_LE if bom else b"") + text.encode("utf-16-le"))
    return path


REFUSED = {
    "duplicate header": (lambda p: write_csv(p, [r + ["granted"] for r in GOOD], HEADER + ["outcome"]),
                         "the header names 'outcome' twice (columns 7 and 8)"),
    "duplicate header in XLSX": (lambda p: write_xlsx(p.with_suffix(".xlsx"), [r + ["granted"] for r in GOOD], HEADER + ["Outcome"]),
                                 "the header names 'Outcome' twice (columns 7 and 8)"),
    "UTF-16 with a byte-order mark": (lambda p: utf16(p, bom=True), "UTF-16 text (Excel's 'Unicode text'), not UTF-8: save it as 'CSV UTF-8"),
    "UTF-16 without one": (lambda p: utf16(p, bom=False), "UTF-16 text"),
    "Latin-1": (lambda p: (p.write_bytes("\n".join(",".join(r) for r in [HEADER, *GOOD, ["M9", "V9", "PC 1018", "", "", "", "pendiénte"]]).encode("latin-1")), p)[1],
                "likely Windows-1252 / Latin-1, Excel's 'CSV (Comma delimited)'"),
    "semicolons": (lambda p: (p.write_text(",".join(HEADER) + "\n" + "\n".join(";".join(r) for r in GOOD) + "\n", encoding="utf-8"), p)[1],
                   "not a consistent table: 4 of 4 records (100%) do not fit the header's 7 columns (first at line 2)"),
}


@pytest.mark.parametrize("kind", list(REFUSED))
def test_a_refused_file_names_the_problem_and_leaves_the_database_byte_identical(tmp_path, run_pcr, loaded, kind):
    make, message = REFUSED[kind]
    path = make(tmp_path / f"motions_{EXPORTED}.csv")
    before = digest(loaded)
    result = run_pcr("ingest", path, "--db", loaded)
    assert result.code == 1
    assert f"{path}: {message}" in result.err.replace("\n", " ") or (path.name in result.err and message in result.err), result.err
    assert digest(loaded) == before


def test_pcr_run_shows_the_first_quarantined_rows_and_where_to_see_them_all(tmp_path, run_pcr):
    from small_dataset import DATASET, write_layout

    exports = tmp_path / "exports"
    write_layout(DATASET, "canonical", exports, suffix="_2024-08-01")
    motions = next(exports.glob("motions_*.csv"))
    width = len(motions.read_text(encoding="utf-8").splitlines()[0].split(","))
    with motions.open("a", encoding="utf-8", newline="") as f:  # the file's own line ends (csv writes \r\n)
        f.write(",".join(["M98"] + [""] * (width - 1) + ["surplus"]) + "\r\n")  # a value right of the last column
    result = run_pcr("run", exports, "--db", tmp_path / "var" / "pcr.duckdb")
    assert result.code == 0, result.out + result.err
    assert "quarantined rows by rule: ragged_row 1" in result.out
    assert (f"{motions.name}: line {len(DATASET['motions']) + 2}: {width + 1} cell(s) where the header has {width}"
            in result.out)
    assert "every quarantined row: the Data quality page, or the table raw.quarantine" in result.out


def test_an_unexpected_error_while_loading_refuses_that_file_alone_and_changes_nothing(tmp_path, run_pcr, loaded,
                                                                                       monkeypatch):
    """A failure no rule foresees (here a real one: the database runs out of the memory it is
    allowed while an XLSX is loaded) refuses the file with its kind and no cell of it, exits
    non-zero and leaves the database as it was."""
    path = write_xlsx(tmp_path / f"motions_{EXPORTED}.xlsx", GOOD)
    before = digest(loaded)
    monkeypatch.setenv("PCR_MEMORY_LIMIT", "1MB")
    result = run_pcr("ingest", path, "--db", loaded)
    assert result.code == 1
    assert (f"{path.name}: FAILED: not loaded: an unexpected error (OutOfMemoryException) while reading it; nothing of it "
            "was written" in " ".join((result.out + result.err).split())), result.out + result.err
    # What followed the file needed memory too: the command ends with the setting to raise, not a traceback.
    assert "the database ran out of the memory it may use (1MB, the setting PCR_MEMORY_LIMIT)" in result.err
    assert digest(loaded) == before
