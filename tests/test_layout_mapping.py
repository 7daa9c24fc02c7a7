"""The mapping language, each feature through a layout YAML in a program's own layouts folder
and a real `pcr ingest` into a DuckDB file: blanks that mean something, constants, columns
not available, keys made from columns, several columns into one field, clean-up before
vocabularies, A-numbers in every spelling, title rows above the header (CSV and XLSX), and the
guardrails (a mapped column the header lacks, an unread column named like a contract one)."""
from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import openpyxl
import pytest

from ingest.privacy import hmac_hex
from pcr.settings import Settings

LAYOUT = """
layout: vendor_test
description: A case-management export with one row per motion and a separate time export.
date_formats: ["%m/%d/%Y"]
files:
  motions:
    signature: ["Client No", "Matter No", "Petition No"]
    tables:
      clients:
        client_id: "Client No"
        a_number: {column: "Alien No"}
        intake_date: "Intake"
      cases:
        case_id: "Matter No"
        client_id: "Client No"
        intake_date: "Intake"
        eligibility: {value: eligible}
        referral_date: {first_of: ["Referred", "Assigned"]}
        partner_firm: "Firm"
      convictions:
        conviction_id: "Count No"
        case_id: "Matter No"
        county: {column: "Court", clean: [{strip_suffix: " County"}, {strip_prefix: "Superior Court of "}]}
        removal_ground: {not_available: true}
      motions:
        motion_id: "Petition No"
        conviction_id: "Count No"
        vehicle: {column: "Statute", clean: [{replace: {pattern: "^Cal\\\\.? *", with: ""}}]}
        filing_date: "Filed"
        decision_date: "Ruled"
        outcome: "Result"
        grant_ground:
          cases:
            - {when: {"Defect Based": yes}, then: legal_defect}
            - {when: {"Clerical Correction": yes}, then: clerical_error}
          else: unknown
  time:
    signature: ["Timekeeper", "Matter No", "Hours"]
    tables:
      time_entries:
        entry_id: {key_from: ["Timekeeper", "Matter No", "Worked On", "Hours"]}
        case_id: "Matter No"
        partner_firm: "Firm"
        attorney_id: "Timekeeper"
        entry_date: "Worked On"
        hours: "Hours"
values:
  outcome:
    "": pending
    "Won": granted
    "Lost": denied
"""
MOTIONS_HEADER = ["Client No", "Alien No", "Intake", "Matter No", "Referred", "Assigned", "Firm", "Count No", "Court",
                  "Petition No", "Statute", "Filed", "Ruled", "Result", "Defect Based", "Clerical Correction"]
MOTIONS = [
    ["C1", "A-123-456-789", "01/05/2024", "K1", "", "02/01/2024", "Oak LLP", "V1", "LOS ANGELES COUNTY",
     "M1", "Cal. PC 1473.7(a)(1)", "03/01/2024", "06/01/2024", "Won", "Yes", "No"],
    ["C1", "A-123-456-789", "01/05/2024", "K1", "", "02/01/2024", "Oak LLP", "V2", "Superior Court of Fresno County",
     "M2", "PC 1203.4", "03/02/2024", "", "", "", ""],
    ["C2", "A 123 456 789", "02/10/2024", "K2", "02/20/2024", "03/01/2024", "Oak LLP", "V3", "San Diego",
     "M3", "PC 1473.7(a)(1)", "03/05/2024", "07/01/2024", "Lost", "No", "No"],
    ["C3", "987654321", "02/11/2024", "K3", "02/21/2024", "", "Elm LLP", "V4", "Fresno county",
     "M4", "PC 17(b)", "03/06/2024", "07/02/2024", "Won", "No", "Yes"],
]
TIME_HEADER = ["Timekeeper", "Matter No", "Firm", "Worked On", "Hours"]
TIME = [
    ["T1", "K1", "Oak LLP", "03/01/2024", "2.5"],
    ["T1", "K1", "Oak LLP", "03/01/2024", "2.5"],  # the same entry twice: a duplicate
    ["T1", "K1", "Oak LLP", "03/02/2024", "1"],
    ["T2", "K3", "Elm LLP", "03/02/2024", "4"],
]


def write_csv(path: Path, header: list[str], rows: list[list[str]], above: list[list[str]] = ()) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerows(above)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list[str]], above: list[list[str]] = ()) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Report"
    for row in [*above, header, *rows]:
        sheet.append([v if v != "" else None for v in row])
    workbook.save(path)
    return path


@pytest.fixture
def program(tmp_path) -> dict:
    layouts = tmp_path / "my_layouts"
    layouts.mkdir()
    (layouts / "vendor_test.yml").write_text(LAYOUT, encoding="utf-8")
    return {"layouts": layouts, "db": tmp_path / "db.duckdb", "in": tmp_path / "in"}


def ingest(run_pcr, program: dict, *files: Path, strict: bool = False):
    return run_pcr("ingest", *files, "--db", program["db"], "--layouts", program["layouts"], *(["--strict"] if strict else []))


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_every_feature_of_the_mapping_through_yaml_alone(tmp_path, run_pcr, program):
    program["in"].mkdir()
    title = [["Motions report - Example Program"], ["Run by: data team", "", ""]]
    motions = write_csv(program["in"] / "motions_2024-08-01.csv", MOTIONS_HEADER, MOTIONS, above=title)
    time = write_csv(program["in"] / "time_2024-08-01.csv", TIME_HEADER, TIME)
    result = ingest(run_pcr, program, motions, time)
    assert result.code == 0, result.err
    db = program["db"]
    # A blank outcome means pending; the row and its parents load (nothing quarantined).
    assert rows(db, "SELECT count(*) FROM raw.quarantine") == [(0,)]
    assert dict(rows(db, "SELECT motion_id, outcome FROM raw.motions")) == {
        "M1": "granted", "M2": "pending", "M3": "denied", "M4": "granted"}
    # Two yes/no columns decide one field.
    assert dict(rows(db, "SELECT motion_id, grant_ground FROM raw.motions")) == {
        "M1": "legal_defect", "M2": "unknown", "M3": "unknown", "M4": "clerical_error"}
    # Clean-up before the vocabulary: "LOS ANGELES COUNTY", "Superior Court of Fresno County".
    assert dict(rows(db, "SELECT conviction_id, county FROM raw.convictions")) == {
        "V1": "Los Angeles", "V2": "Fresno", "V3": "San Diego", "V4": "Fresno"}
    assert dict(rows(db, "SELECT motion_id, vehicle FROM raw.motions"))["M1"] == "PC 1473.7(a)(1)"
    # A constant, and the first non-blank of two date columns.
    assert set(rows(db, "SELECT eligibility FROM raw.cases")) == {("eligible",)}
    assert dict(rows(db, "SELECT case_id, strftime(referral_date, '%Y-%m-%d') FROM raw.cases")) == {
        "K1": "2024-02-01", "K2": "2024-02-20", "K3": "2024-02-21"}
    # A-numbers in three spellings are one keyed hash.
    key = Settings.from_env().hmac_key_file.read_bytes()
    hashes = dict(rows(db, "SELECT client_id, a_number_hash FROM raw.clients"))
    assert hashes == {"C1": hmac_hex(key, "123456789"), "C2": hmac_hex(key, "123456789"), "C3": hmac_hex(key, "987654321")}
    # Lines count from the file's first line, title rows included.
    assert rows(db, "SELECT rows_read FROM raw.load_manifest WHERE file_name LIKE 'motions%'") == [(4,)]
    # A key made from columns: the repeated entry is a duplicate, three entries stored.
    entries = rows(db, "SELECT entry_id, hours FROM raw.time_entries ORDER BY entry_date, hours")
    assert len(entries) == 3 and len({e for e, _ in entries}) == 3 and all(e.startswith("k-") for e, _ in entries)
    assert rows(db, "SELECT rows_duplicate FROM raw.load_manifest WHERE file_name LIKE 'time%'") == [(1,)]
    # Which columns the mapping gave, and how: removal_ground is declared not available.
    how = dict(((t, c), s) for t, c, s in rows(db, "SELECT table_name, column_name, source FROM raw.load_columns"))
    assert how[("convictions", "removal_ground")] == "not_available"
    assert how[("cases", "eligibility")] == "value" and how[("time_entries", "entry_id")] == "key_from"
    assert how[("motions", "hearing_date")] == "absent"


def test_a_key_made_from_columns_is_stable_across_exports(tmp_path, run_pcr, program):
    program["in"].mkdir()
    first = write_csv(program["in"] / "time_2024-08-01.csv", TIME_HEADER, TIME)
    again = write_csv(program["in"] / "time_2024-09-01.csv", TIME_HEADER, list(reversed(TIME)))  # another export, rows reordered
    assert ingest(run_pcr, program, first).code == 0
    before = rows(program["db"], "SELECT entry_id, hours FROM raw.time_entries ORDER BY 1")
    assert ingest(run_pcr, program, first).code == 0  # the same file: skipped
    assert ingest(run_pcr, program, again).code == 0
    after = rows(program["db"], "SELECT entry_id, hours FROM raw.time_entries WHERE _is_current ORDER BY 1")
    assert after == before
    assert rows(program["db"], "SELECT count(*) FROM raw.time_entries") == [(3,)]  # no new version of any entry


def test_a_title_row_above_the_header_of_an_xlsx_sheet(tmp_path, run_pcr, program):
    program["in"].mkdir()
    book = write_xlsx(program["in"] / "motions_2024-08-01.xlsx", MOTIONS_HEADER, MOTIONS,
                      above=[["Motions report - Example Program"], []])
    assert ingest(run_pcr, program, book).code == 0
    # Lines are sheet rows: the title, a blank row and the header sit above the first motion.
    assert rows(program["db"], "SELECT count(*) FROM raw.motions") == [(4,)]
    bad = [r[:] for r in MOTIONS]
    bad[2][13] = "Maybe"
    book = write_xlsx(program["in"] / "motions_2024-09-01.xlsx", MOTIONS_HEADER, bad, above=[["Motions report"]])
    assert ingest(run_pcr, program, book).code == 0
    assert rows(program["db"], "SELECT line, reason FROM raw.quarantine") == [
        (5, "row 5: outcome 'Maybe' is not an allowed value (allowed: granted, granted_in_part, denied, withdrawn, "
            f"pending; or map it under values: outcome in {program['layouts'] / 'vendor_test.yml'})")]


def test_a_sheet_whose_header_is_not_found_says_what_was_looked_for(tmp_path, run_pcr, program):
    program["in"].mkdir()
    book = write_xlsx(program["in"] / "motions.xlsx", ["Client #", "Petition"], [["C1", "M1"]], above=[["Motions report"]])
    result = ingest(run_pcr, program, book)
    assert result.code == 1
    assert "motions.xlsx" in result.err and "sheet 'Report'" in result.err
    assert "like a title row above a header" in result.err and "signature" in result.err


def test_a_mapped_column_the_header_lacks_fails_loudly(tmp_path, run_pcr, program):
    # The export's column is "Filed"; the mapping reads "Filling Date" (a misspelling).
    (program["layouts"] / "vendor_test.yml").write_text(LAYOUT.replace('filing_date: "Filed"', 'filing_date: "Filling Date"'),
                                                       encoding="utf-8")
    program["in"].mkdir()
    motions = write_csv(program["in"] / "motions_2024-08-01.csv", MOTIONS_HEADER, MOTIONS)
    result = ingest(run_pcr, program, motions)
    assert result.code == 1
    assert ("looks like vendor_test/motions (vendor_test.yml) but the header lacks column(s) the mapping reads: "
            "motions.filing_date (column 'Filling Date')") in result.err
    assert "'Filling Date' -> did you mean 'filed'?" in result.err
    assert rows(program["db"], "SELECT count(*) FROM raw.motions") == [(0,)]


def test_an_unread_column_named_like_a_contract_column_is_a_warning_or_with_strict_an_error(tmp_path, run_pcr, program):
    program["in"].mkdir()
    header = ["motion_id", "conviction_id", "vehicle", "filling_date", "outcome"]  # canonical names, one misspelled
    motions = write_csv(program["in"] / "motions_2024-08-01.csv", header, [["M1", "V1", "PC 17(b)", "2024-03-01", "pending"]])
    result = ingest(run_pcr, program, motions)
    assert result.code == 0
    assert "column 'filling_date' is not read; did you mean motions.filing_date?" in result.out
    strict = tmp_path / "strict.duckdb"
    result = run_pcr("ingest", motions, "--db", strict, "--strict")
    assert result.code == 1 and "--strict: motions_2024-08-01.csv: column 'filling_date' is not read" in result.err


@pytest.mark.parametrize("entry,message", [
    ("outcome: {column: Result, colour: red}", "files.motions.tables.motions.outcome: unknown key(s) colour"),
    ("outcome: {column: Result, value: granted}", "give exactly one of column, first_of, value, key_from, cases, "
                                                  "not_available (found column, value)"),
    ("outcome: {not_available: true}", "motions.outcome: a required column cannot be not available"),
    ("outcome: {column: Result, clean: [{case: title}]}", "outcome.clean[0]: case is upper or lower"),
    ("motion_id: {key_from: [Result]}\n        conviction_id: {key_from: [Count No]}",
     "conviction_id: key_from makes a row key: only for motion_id"),
])
def test_mapping_mistakes_name_the_file_and_the_entry(tmp_path, run_pcr, program, entry, message):
    broken = LAYOUT.replace('outcome: "Result"', entry) if entry.startswith("outcome") else \
        LAYOUT.replace('motion_id: "Petition No"\n        conviction_id: "Count No"', entry)
    assert broken != LAYOUT
    (program["layouts"] / "vendor_test.yml").write_text(broken, encoding="utf-8")
    program["in"].mkdir()
    result = ingest(run_pcr, program, write_csv(program["in"] / "motions.csv", MOTIONS_HEADER, MOTIONS))
    assert result.code == 1
    assert "vendor_test.yml" in result.err and message in result.err, result.err


def test_records_whose_parent_row_was_quarantined_are_counted_in_the_summary(tmp_path, run_pcr, program):
    program["in"].mkdir()
    broken = [r[:] for r in MOTIONS]
    broken[2][2] = "31/31/2024"  # client C2's intake date: the wide row is quarantined whole
    motions = write_csv(program["in"] / "motions_2024-08-01.csv", MOTIONS_HEADER, broken)
    time = write_csv(program["in"] / "time_2024-08-01.csv", TIME_HEADER, TIME + [["T3", "K9", "Oak LLP", "03/03/2024", "1"]])
    result = ingest(run_pcr, program, motions, time)
    assert result.code == 0
    assert "1 record(s) of time_entries refer to cases not loaded" in result.out
    assert rows(program["db"], "SELECT count(*) FROM raw.quarantine") == [(1,)]


def test_a_key_made_from_columns_reads_dates_and_numbers_as_values_not_as_written(tmp_path, run_pcr, program):
    program["in"].mkdir()
    first = write_csv(program["in"] / "time_2024-08-01.csv", TIME_HEADER, TIME)
    # The same entries from the system's XLSX report: date cells, numbers written 2.50.
    book = write_xlsx(program["in"] / "time_2024-09-01.xlsx", TIME_HEADER, [r[:4] + [f"{float(r[4]):.2f}"] for r in TIME])
    sheet = openpyxl.load_workbook(book)
    import datetime as dt
    for row in sheet.active.iter_rows(min_row=2):
        row[3].value = dt.datetime.strptime(row[3].value, "%m/%d/%Y")
    sheet.save(book)
    assert ingest(run_pcr, program, first).code == 0
    assert ingest(run_pcr, program, book).code == 0
    assert rows(program["db"], "SELECT count(*), sum(hours) FROM raw.time_entries WHERE _is_current") == [(3, 7.5)]
