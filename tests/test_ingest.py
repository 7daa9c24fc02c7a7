"""`pcr ingest` on real files into real DuckDB databases."""
from __future__ import annotations

import copy
import csv
import datetime as dt
import json
import os
import re
import stat
from pathlib import Path

import duckdb
import pytest
from small_dataset import DATASET, PII_STRINGS, write_layout

from ingest import store
from ingest.contract import TABLE_ORDER, TABLES
from ingest.privacy import hmac_hex, install_hmac_macro, load_or_create_key
from pcr.settings import PROJECT_ROOT, Settings


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def current_rows(db: Path) -> dict[str, list[tuple]]:
    """Current version of every record, stored columns only, in key order."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            t: con.execute(
                f"SELECT {', '.join(TABLES[t].stored_columns)} FROM raw.{t} WHERE _is_current ORDER BY {TABLES[t].key}"
            ).fetchall()
            for t in TABLE_ORDER
        }


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every row of every raw table, for 'nothing changed' comparisons."""
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' ORDER BY 1").fetchall()]
        return {t: sorted(con.execute(f"SELECT * FROM raw.{t}").fetchall(), key=repr) for t in tables}


def query(db: Path, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


MOTION_HEADER = ["motion_id", "conviction_id", "vehicle", "filing_date", "decision_date", "outcome"]


# -- layouts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("layout,xlsx", [("case_tracker", False), ("case_tracker", True), ("cms_report", False)])
def test_every_layout_loads_the_same_canonical_rows(tmp_path, run_pcr, layout, xlsx):
    write_layout(DATASET, "canonical", tmp_path / "canonical")
    write_layout(DATASET, layout, tmp_path / layout, xlsx=xlsx)
    assert run_pcr("ingest", tmp_path / "canonical", "--db", tmp_path / "a.duckdb").code == 0
    result = run_pcr("ingest", tmp_path / layout, "--db", tmp_path / "b.duckdb")
    assert result.code == 0, result.err
    expected = current_rows(tmp_path / "a.duckdb")
    assert {t: len(rows) for t, rows in expected.items()} == {t: len(DATASET[t]) for t in TABLE_ORDER}
    assert current_rows(tmp_path / "b.duckdb") == expected


def test_privacy_transforms_of_a_client(tmp_path, run_pcr):
    write_layout(DATASET, "canonical", tmp_path / "in")
    assert run_pcr("ingest", tmp_path / "in", "--db", tmp_path / "db.duckdb").code == 0
    key = Settings.from_env().hmac_key_file.read_bytes()
    rows = dict(
        (r[0], r[1:]) for r in query(tmp_path / "db.duckdb",
                                     "SELECT client_id, a_number_hash, age_at_intake FROM raw.clients"))
    # 'A123456789', 'A-098-765-432' and the 8-digit '87654321' normalise to 9 digits.
    assert rows["C1"] == (hmac_hex(key, "123456789"), 33)
    assert rows["C2"] == (hmac_hex(key, "098765432"), 29)
    assert rows["C3"] == (hmac_hex(key, "087654321"), 46)
    courts = dict(query(tmp_path / "db.duckdb", "SELECT conviction_id, court_case_number_hash FROM raw.convictions"))
    assert courts["V2"] == hmac_hex(key, "F20-1234")


def test_sql_hmac_equals_python_hmac(tmp_path):
    key = load_or_create_key(tmp_path / "k" / "key")
    con = duckdb.connect()
    install_hmac_macro(con, key)
    messages = ["123456789", "", "F20-1234", "ünïcödé ✓", "x" * 200]
    got = [r[0] for r in con.execute("SELECT pcr_hmac(m) FROM unnest(?) AS t(m)", [messages]).fetchall()]
    assert got == [hmac_hex(key, m) for m in messages]
    assert con.execute("SELECT pcr_hmac(NULL)").fetchall() == [(None,)]


def test_key_file_is_created_private_and_reused(tmp_path):
    path = tmp_path / "deep" / "dir" / "hmac.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key(path) == key


def test_unknown_layout_names_the_closest_candidate(tmp_path, run_pcr):
    f = write_csv(tmp_path / "odd.csv", ["motion_id", "conviction_id", "outcome"], [["M1", "V1", "granted"]])
    result = run_pcr("ingest", f, "--db", tmp_path / "db.duckdb")
    assert result.code == 1
    assert "odd.csv" in result.err
    assert "unknown layout" in result.err and "canonical/motions" in result.err and "'vehicle'" in result.err


def test_missing_required_column_is_a_whole_file_error(tmp_path, run_pcr):
    # Matches the tracker signature but lacks the case's intake date.
    header = ["Client ID", "Case #", "Motion #", "Vehicle", "First Intake", "Conviction #",
              "Conviction County", "Outcome"]
    f = write_csv(tmp_path / "tracker.csv", header, [["C1", "K1", "M1", "1018", "01/02/2020", "V1", "Fresno", "Open"]])
    result = run_pcr("ingest", f, "--db", tmp_path / "db.duckdb")
    assert result.code == 1
    assert "tracker.csv" in result.err and "case_tracker/tracker" in result.err
    assert "cases.intake_date (column 'Intake Date')" in result.err
    # Optional columns the mapping reads are named too: a misspelled one would publish as blank.
    assert "convictions.conviction_date (column 'Conviction Date')" in result.err
    assert "write `not_available: true`" in result.err


def test_headers_match_ignoring_case_and_whitespace(tmp_path, run_pcr):
    f = write_csv(tmp_path / "m.csv", [" Motion_ID", "CONVICTION_ID ", "Vehicle", "outcome"],
                  [["M1", "V1", "PC 1018", "pending"]])
    assert run_pcr("ingest", f, "--db", tmp_path / "db.duckdb").code == 0
    assert query(tmp_path / "db.duckdb", "SELECT motion_id, vehicle FROM raw.motions") == [("M1", "PC 1018")]


# -- row rules and quarantine ----------------------------------------------------------------

def test_row_rules_quarantine_with_readable_reasons(tmp_path, run_pcr):
    f = write_csv(tmp_path / "motions.csv", MOTION_HEADER + ["order_states_ground"], [
        ["M1", "V1", "PC 1473.7(a)(1)", "2019-03-02", "2019-01-04", "granted", "yes"],   # line 2
        ["M2", "V1", " pc 1016.5 ", "2020-01-01", "2020-06-01", " Denied", "N"],         # line 3: fine
        ["M3", "V2", "PC 1473.9", "2020-01-01", "", "pending", ""],                      # line 4
        ["M4", "V2", "PC 1018", "2020-01-01", "", "granted", "maybe"],                   # line 5
        ["M2", "V1", " pc 1016.5 ", "2020-01-01", "2020-06-01", " Denied", "N"],         # line 6: duplicate
        ["M2", "V1", "PC 1016.5", "2020-01-01", "2020-06-02", "denied", "no"],           # line 7
        ["M5", "", "PC 1018", "2020-13-01", "", "grnted", "?"],                          # line 8
    ])
    db = tmp_path / "db.duckdb"
    result = run_pcr("ingest", f, "--db", db)
    assert result.code == 0
    reasons = dict(query(db, "SELECT line, reason FROM raw.quarantine ORDER BY line"))
    assert reasons == {
        2: "line 2: decision_date 2019-01-04 is before filing_date 2019-03-02",
        4: "line 4: vehicle 'PC 1473.9' is not in the vehicle taxonomy (seeds/vehicle_taxonomy.csv)",
        5: "line 5: order_states_ground 'maybe' is not yes/no (add it under booleans: in ingest/layouts/canonical.yml); "
           "outcome granted needs a decision_date",
        7: "line 7: motion_id M2 was already given on line 3 with different values: "
           "decision_date ('2020-06-01' then '2020-06-02') (the first is kept)",
        8: "line 8: required conviction_id is blank (column 'conviction_id'); "
           "filing_date '2020-13-01' is not a date in the format(s) %Y-%m-%d; outcome 'grnted' is not an "
           "allowed value (allowed: granted, granted_in_part, denied, withdrawn, pending; "
           "or map it under values: outcome in ingest/layouts/canonical.yml)",
    }
    assert query(db, "SELECT motion_id, vehicle, outcome, order_states_ground FROM raw.motions") == [
        ("M2", "PC 1016.5", "denied", False)]
    assert query(db, "SELECT rows_read, rows_loaded, rows_quarantined, rows_duplicate, layout, file_kind "
                     "FROM raw.load_manifest") == [(7, 1, 5, 1, "canonical", "motions")]
    meta = query(db, "SELECT DISTINCT load_id, source_file, line_kind, layout, file_kind, target_tables FROM raw.quarantine")
    assert meta == [(1, "motions.csv", "line", "canonical", "motions", ["motions"])]
    assert "WARNING: 5 row(s) quarantined" in result.out
    assert "motions.csv: line 2: decision_date 2019-01-04 is before filing_date 2019-03-02" in result.out
    assert run_pcr("ingest", f, "--db", tmp_path / "strict.duckdb", "--strict").code == 1


def test_client_rules_and_redacted_raw_values(tmp_path, run_pcr):
    header = ["client_id", "first_name", "last_name", "a_number", "date_of_birth", "intake_date", "immigration_status"]
    f = write_csv(tmp_path / "clients.csv", header, [
        ["C1", "Rosalinda", "Quintanilla", "A 123-456-789", "1980-05-06", "2019-01-01", "LPR"],
        ["C2", "Rosalinda", "Quintanilla", "A99", "1980-05-06", "2019-01-01", "lpr"],
        ["C3", "Rosalinda", "Quintanilla", "123456789", "2030-01-01", "2019-01-01", "lpr"],
        ["C4", "Rosalinda", "Quintanilla", "123456789", "1890-01-01", "2019-01-01", "lpr"],
        ["C5", "Rosalinda", "Quintanilla", "123456789", "06/05/1980", "2019-01-01", "lpr"],
    ])
    db = tmp_path / "db.duckdb"
    result = run_pcr("ingest", f, "--db", db)
    assert result.code == 0
    rows = query(db, "SELECT line, reason, raw_values FROM raw.quarantine ORDER BY line")
    assert [(line, reason) for line, reason, _ in rows] == [
        (3, "line 3: a_number is not an A-number of 8-9 digits (value withheld)"),
        (4, "line 4: date_of_birth is after intake_date (value withheld)"),
        (5, "line 5: age at intake from date_of_birth is over 110 (value withheld)"),
        (6, "line 6: date_of_birth is not a date in the expected format(s) (value withheld)"),
    ]
    assert json.loads(rows[0][2]) == {
        "client_id": "C2", "first_name": "[redacted]", "last_name": "[redacted]", "a_number": "[redacted]",
        "date_of_birth": "[redacted]", "intake_date": "2019-01-01", "immigration_status": "lpr"}
    for text in (result.out, result.err):
        assert "Rosalinda" not in text and "A99" not in text and "1980" not in text


def test_wide_row_conflicts_quarantine_the_whole_row(tmp_path, run_pcr, dataset):
    write_layout(dataset, "case_tracker", tmp_path / "in")
    tracker = tmp_path / "in" / "tracker.csv"
    lines = tracker.read_text(encoding="utf-8").splitlines()
    header = next(csv.reader([lines[0]]))
    row = next(csv.reader([lines[3]]))  # client C2's second row (motion M3)
    row[header.index("First Intake")] = "06/16/2020"
    row[header.index("A#")] = "A-111-222-333"
    lines[3] = ",".join(f'"{v}"' for v in row)
    tracker.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "db.duckdb"
    assert run_pcr("ingest", tmp_path / "in", "--db", db).code == 0
    assert query(db, "SELECT line, target_tables, reason FROM raw.quarantine") == [(
        4, ["clients"],
        "line 4: client_id C2 was already given on line 3 with different values: a_number_hash, "
        "intake_date ('2020-06-15' then '2020-06-16') (the first is kept)")]
    # Motion M3 rode on the quarantined row: not loaded, though its own values were fine.
    assert query(db, "SELECT motion_id FROM raw.motions ORDER BY 1") == [("M1",), ("M2",)]
    assert query(db, "SELECT rows_read, rows_loaded, rows_quarantined FROM raw.load_manifest "
                     "WHERE file_kind = 'tracker'") == [(5, 4, 1)]


def test_a_parent_record_survives_a_quarantined_row_that_also_carried_it(tmp_path, run_pcr, dataset):
    # Conviction V1 is on two tracker rows; the first is quarantined for its motion's vehicle.
    second = dict(dataset["motions"][0], motion_id="M9", refiled_from_motion_id=None)
    dataset["motions"].insert(0, dict(dataset["motions"][0], motion_id="M0", vehicle="PC 1473.9"))
    dataset["motions"].append(second)
    write_layout(dataset, "case_tracker", tmp_path / "in")
    db = tmp_path / "db.duckdb"
    assert run_pcr("ingest", tmp_path / "in", "--db", db).code == 0
    assert query(db, "SELECT count(*) FROM raw.quarantine WHERE reason LIKE '%PC 1473.9%'") == [(1,)]
    assert query(db, "SELECT count(*) FROM raw.convictions WHERE conviction_id = 'V1'") == [(1,)]
    assert ("M9",) in query(db, "SELECT motion_id FROM raw.motions")


def test_line_numbers_count_quoted_newlines(tmp_path, run_pcr):
    f = tmp_path / "motions.csv"
    f.write_text(
        "motion_id,conviction_id,vehicle,outcome\n"
        'M1,V1,"PC\n1018",pending\n'
        "\n"
        "M2,V1,PC 9999,pending\n",
        encoding="utf-8")
    db = tmp_path / "db.duckdb"
    assert run_pcr("ingest", f, "--db", db).code == 0
    assert [r[0] for r in query(db, "SELECT reason FROM raw.quarantine ORDER BY line")] == [
        "line 2: vehicle 'PC\n1018' is not in the vehicle taxonomy (seeds/vehicle_taxonomy.csv)",
        "line 5: vehicle 'PC 9999' is not in the vehicle taxonomy (seeds/vehicle_taxonomy.csv)",
    ]


def test_xlsx_rows_are_sheet_rows(tmp_path, run_pcr, dataset):
    dataset["time_entries"][1]["hours"] = 30
    write_layout(dataset, "case_tracker", tmp_path / "in", xlsx=True)
    db = tmp_path / "db.duckdb"
    result = run_pcr("ingest", tmp_path / "in", "--db", db)
    assert result.code == 0
    assert query(db, "SELECT sheet, line, line_kind, reason FROM raw.quarantine") == [
        ("hours", 3, "row", "row 3: hours '30' is not in (0, 24]")]
    assert "case_tracker.xlsx [sheet 'hours']: row 3: hours '30' is not in (0, 24]" in result.out


# -- idempotence and supersession ------------------------------------------------------------

def test_loading_the_same_file_twice_changes_nothing(tmp_path, run_pcr):
    write_layout(DATASET, "canonical", tmp_path / "in")
    db = tmp_path / "db.duckdb"
    assert run_pcr("ingest", tmp_path / "in", "--db", db).code == 0
    before = dump(db)
    again = run_pcr("ingest", tmp_path / "in" / "motions.csv", "--db", db)
    assert again.code == 0
    assert "already loaded as load 5" in again.out  # files load in name order
    assert dump(db) == before


def test_identical_records_in_a_new_export_are_unchanged(tmp_path, run_pcr):
    db = tmp_path / "db.duckdb"
    rows = [["M1", "V1", "PC 1018", "2020-01-01", "", "pending"]]
    write_csv(tmp_path / "motions_2026-01-31.csv", MOTION_HEADER, rows)
    write_csv(tmp_path / "motions_2026-02-28.csv", MOTION_HEADER, [[" M1 "] + rows[0][1:], rows[0]])
    assert run_pcr("ingest", tmp_path / "motions_2026-01-31.csv", "--db", db).code == 0
    assert run_pcr("ingest", tmp_path / "motions_2026-02-28.csv", "--db", db).code == 0
    manifest = query(db, "SELECT rows_read, rows_loaded, rows_duplicate, records FROM raw.load_manifest WHERE load_id = 2")
    assert manifest[0][:3] == (2, 1, 1)
    assert json.loads(manifest[0][3]) == {"motions": {"inserted": 0, "unchanged": 1, "superseded": 0, "stale": 0}}
    assert query(db, "SELECT count(*) FROM raw.motions") == [(1,)]


def _load_three_motion_exports_out_of_order(tmp_path: Path, run_pcr) -> Path:
    """M1 pending (January export), granted (March), denied (February, loaded last)."""
    db = tmp_path / "db.duckdb"
    base = ["M1", "V1", "PC 1473.7(a)(1)", "2020-01-01"]
    write_csv(tmp_path / "motions_2026-01-31.csv", MOTION_HEADER, [base + ["", "pending"], ["M2", "V1", "PC 1018", "", "", "pending"]])
    write_csv(tmp_path / "motions_2026-03-31.csv", MOTION_HEADER, [base + ["2026-03-01", "granted"]])
    write_csv(tmp_path / "motions_2026-02-28.csv", MOTION_HEADER, [base + ["2026-02-01", "denied"]])
    for name in ("motions_2026-01-31.csv", "motions_2026-03-31.csv", "motions_2026-02-28.csv"):
        assert run_pcr("ingest", tmp_path / name, "--db", db).code == 0
    return db


def test_newer_export_supersedes_and_older_export_does_not_win(tmp_path, run_pcr):
    db = _load_three_motion_exports_out_of_order(tmp_path, run_pcr)
    versions = query(db, "SELECT outcome, _load_id, _exported_at::DATE::VARCHAR, _is_current, _superseded_by_load_id "
                         "FROM raw.motions WHERE motion_id = 'M1' ORDER BY _load_id")
    assert versions == [
        ("pending", 1, "2026-01-31", False, 2),
        ("granted", 2, "2026-03-31", True, None),
        ("denied", 3, "2026-02-28", False, 2),
    ]
    assert query(db, "SELECT motion_id, outcome FROM raw.motions WHERE _is_current ORDER BY 1") == [
        ("M1", "granted"), ("M2", "pending")]
    records = [json.loads(r[0])["motions"] for r in query(db, "SELECT records FROM raw.load_manifest ORDER BY load_id")]
    assert records[1] == {"inserted": 1, "unchanged": 0, "superseded": 1, "stale": 0}
    assert records[2] == {"inserted": 1, "unchanged": 0, "superseded": 0, "stale": 1}



def test_mark_current_agrees_with_the_marks_loads_keep_and_rewinds_to_a_date(tmp_path, run_pcr):
    # Exports loaded out of order: the marks each load keeps are those of the one rule, and the
    # rule applied as known before a date gives the version that was current then.
    db = _load_three_motion_exports_out_of_order(tmp_path, run_pcr)
    marks = "SELECT motion_id, _load_id, _is_current FROM raw.motions ORDER BY 1, 2"
    kept = query(db, marks)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE raw.motions SET _is_current = NOT _is_current")
        store.mark_current(con)
    assert query(db, marks) == kept
    with duckdb.connect(str(db)) as con:
        store.mark_current(con, known_by=dt.datetime(2026, 3, 1))
    assert query(db, "SELECT motion_id, outcome FROM raw.motions WHERE _is_current ORDER BY 1") == [
        ("M1", "denied"), ("M2", "pending")]
    assert query(db, "SELECT count(*) FROM raw.load_manifest WHERE exported_at >= '2026-03-01'") == [(0,)]

def test_a_store_with_record_hashes_is_upgraded_and_still_detects_unchanged_records(tmp_path, run_pcr):
    db = tmp_path / "db.duckdb"
    rows = [["M1", "V1", "PC 1018", "2020-01-01", "", "pending"]]
    write_csv(tmp_path / "motions_2026-01-31.csv", MOTION_HEADER, rows)
    assert run_pcr("ingest", tmp_path / "motions_2026-01-31.csv", "--db", db).code == 0
    with duckdb.connect(str(db)) as con:  # as earlier versions stored it: an MD5 per record
        con.execute("ALTER TABLE raw.motions ADD COLUMN _record_hash VARCHAR")
        con.execute("UPDATE raw.motions SET _record_hash = md5(motion_id)")
    write_csv(tmp_path / "motions_2026-02-28.csv", MOTION_HEADER, rows + [["M2", "V1", "PC 1018", "", "", "pending"]])
    result = run_pcr("ingest", tmp_path / "motions_2026-02-28.csv", "--db", db)
    assert result.code == 0
    assert "dropped the unused _record_hash column of raw.motions" in result.out
    assert query(db, "SELECT count(*) FROM duckdb_columns() WHERE column_name = '_record_hash'") == [(0,)]
    records = query(db, "SELECT records FROM raw.load_manifest WHERE load_id = 2")[0][0]
    assert json.loads(records) == {"motions": {"inserted": 1, "unchanged": 1, "superseded": 0, "stale": 0}}
    assert "Upgraded" not in run_pcr("ingest", tmp_path / "motions_2026-02-28.csv", "--db", db).out


def test_exported_at_option_orders_undated_files(tmp_path, run_pcr):
    db = tmp_path / "db.duckdb"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_csv(tmp_path / "a" / "motions.csv", MOTION_HEADER, [["M1", "V1", "PC 1018", "", "", "withdrawn"]])
    write_csv(tmp_path / "b" / "motions.csv", MOTION_HEADER, [["M1", "V1", "PC 1018", "", "", "pending"]])
    assert run_pcr("ingest", tmp_path / "a", "--db", db, "--exported-at", "2026-05-01").code == 0
    assert run_pcr("ingest", tmp_path / "b", "--db", db, "--exported-at", "2026-04-01").code == 0
    assert query(db, "SELECT outcome FROM raw.motions WHERE _is_current") == [("withdrawn",)]


# -- whole-file failures ---------------------------------------------------------------------

def _bad_files(d: Path) -> dict[str, tuple[Path, str]]:
    latin1 = d / "latin1.csv"
    latin1.write_bytes("client_id,intake_date,immigration_status\nC9,2020-01-01,José\n".encode("latin-1"))
    empty = d / "empty.csv"
    empty.write_bytes(b"")
    binary = d / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    single = d / "single.csv"
    single.write_text("just one column\nvalue\n", encoding="utf-8")
    ragged = d / "ragged.csv"
    ragged.write_text("motion_id,conviction_id,vehicle,outcome\nM1,V1,PC 1018,pending\nM2,V1,PC 1018,pend,ing\n"
                      "M3;V1;PC 1018;pending\n", encoding="utf-8")
    broken = d / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 this is not really a workbook")
    unknown = d / "unknown.csv"
    unknown.write_text("colour,shape\nred,round\n", encoding="utf-8")
    return {
        "latin1": (latin1, "not UTF-8 text"),
        "empty": (empty, "empty file"),
        "binary": (binary, "not a table: the file is binary"),
        "single": (single, "not a table: its first row has 1 column(s), like a title row above a header"),
        "ragged": (ragged, "not a consistent table: 2 of 3 records (67%) do not fit the header's 4 columns (first at line 3)"),
        "broken": (broken, "cannot open the XLSX workbook"),
        "unknown": (unknown, "unknown layout"),
    }


@pytest.mark.parametrize("case", ["latin1", "empty", "binary", "single", "ragged", "broken", "unknown"])
def test_unreadable_files_fail_clearly_and_leave_the_database_unchanged(tmp_path, run_pcr, case):
    good = tmp_path / "good"
    write_layout(DATASET, "canonical", good)
    db = tmp_path / "db.duckdb"
    assert run_pcr("ingest", good / "clients.csv", "--db", db).code == 0
    before = dump(db)
    bad, problem = _bad_files(tmp_path)[case]
    result = run_pcr("ingest", bad, good / "motions.csv", "--db", db)
    assert result.code == 1
    assert f"{bad}: {problem}" in result.err
    if case == "latin1":
        assert "re-export it as 'CSV UTF-8" in result.err
    after = dump(db)
    # The other file in the same run still loads; nothing of the bad file does.
    assert len(after["motions"]) == len(DATASET["motions"])
    after["motions"] = before["motions"]
    motions_load = {r[0] for r in after["load_manifest"] if r[1] == "motions.csv"}
    after["load_manifest"] = [r for r in after["load_manifest"] if r[1] != "motions.csv"]
    after["load_columns"] = [r for r in after["load_columns"] if r[0] not in motions_load]
    assert after == before


def test_folders_recurse_and_ignore_other_files(tmp_path, run_pcr):
    write_layout(DATASET, "canonical", tmp_path / "in" / "nested")
    (tmp_path / "in" / "README.md").write_text("# not data\n")
    (tmp_path / "in" / "generator_manifest.json").write_text("{}")
    result = run_pcr("ingest", tmp_path / "in", "--db", tmp_path / "db.duckdb")
    assert result.code == 0
    assert "Loading 6 file(s)" in result.out and "6 loaded, 0 skipped" in result.out
    assert "TOTAL" in result.out and "rows/s" in result.out


def test_default_database_is_the_scratch_one_never_the_published(tmp_path, run_pcr):
    write_layout(DATASET, "canonical", tmp_path / "in")
    assert run_pcr("ingest", tmp_path / "in" / "clients.csv").code == 0
    assert query(Settings.from_env().scratch_db, "SELECT count(*) FROM raw.clients") == [(3,)]
    assert not Settings.from_env().published_db.exists()


# -- privacy ---------------------------------------------------------------------------------

def checkpointed_text_values(db: Path, skip_hashes: bool = False) -> list[str]:
    """Every text value in every table, as text (DuckDB compresses strings on disk, so a scan
    of the file's bytes alone could miss one)."""
    texts = []
    with duckdb.connect(str(db)) as con:
        con.execute("CHECKPOINT")
        for schema, table, column in con.execute(
                "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
                "WHERE data_type IN ('VARCHAR', 'JSON', 'VARCHAR[]') AND NOT ($skip AND ends_with(column_name, '_hash'))",
                {"skip": skip_hashes}).fetchall():
            texts += [str(v) for (v,) in con.execute(f'SELECT "{column}" FROM {schema}."{table}"').fetchall()]
    return texts


def test_no_pii_in_database_file_quarantine_or_output(tmp_path, run_pcr, dataset):
    for layout in ("canonical", "case_tracker", "cms_report"):
        write_layout(dataset, layout, tmp_path / "in" / layout)
    write_layout(dataset, "case_tracker", tmp_path / "in" / "xlsx", xlsx=True)
    # Rows that get quarantined still carry names, A-numbers and DOBs.
    bad = copy_with_bad_intake(dataset)
    write_layout(bad, "cms_report", tmp_path / "in" / "bad", suffix="_bad")
    db = tmp_path / "db.duckdb"
    result = run_pcr("ingest", tmp_path / "in", "--db", db)
    assert result.code == 0
    assert query(db, "SELECT count(*) FROM raw.quarantine")[0][0] >= 3
    texts = checkpointed_text_values(db)
    blob = db.read_bytes() + (db.with_suffix(".duckdb.wal").read_bytes() if db.with_suffix(".duckdb.wal").exists() else b"")
    everything = "\n".join(texts)
    key = Settings.from_env().hmac_key_file.read_bytes()
    assert key not in blob and key.hex().encode() not in blob
    for secret in PII_STRINGS:
        assert secret.encode() not in blob, secret
        assert secret not in everything, secret
        assert secret not in result.out and secret not in result.err, secret


def copy_with_bad_intake(dataset):
    """The dataset with every client's intake before their birth (all quarantined)."""
    bad = copy.deepcopy(dataset)
    for client in bad["clients"]:
        client["intake_date"] = client["date_of_birth"].replace(year=client["date_of_birth"].year - 1)
    return bad


def test_four_digit_year_formats_do_not_swallow_two_digit_years(tmp_path, run_pcr):
    header = ["Entry #", "Case #", "Firm", "Attorney", "Date", "Hours"]
    f = write_csv(tmp_path / "hours.csv", header, [["T1", "K1", "Baker LLP", "AT-1", "08/11/17", "1"],
                                                    ["T2", "K1", "Baker LLP", "AT-1", "08/11/2017", "2"]])
    assert run_pcr("ingest", f, "--db", tmp_path / "db.duckdb").code == 0
    assert query(tmp_path / "db.duckdb", "SELECT DISTINCT entry_date::VARCHAR FROM raw.time_entries") == [("2017-08-11",)]


def test_line_numbers_follow_file_order_in_a_large_file(tmp_path, run_pcr):
    rows = [[f"M{i}", "V1", "PC 1018", "", "", "pending"] for i in range(60_000)]
    for i in (7, 31_337, 59_999):
        rows[i][2] = "PC 0000"
    f = write_csv(tmp_path / "motions.csv", MOTION_HEADER, rows)
    assert run_pcr("ingest", f, "--db", tmp_path / "db.duckdb").code == 0
    assert query(tmp_path / "db.duckdb", "SELECT line, raw_values->>'motion_id' FROM raw.quarantine ORDER BY line") == [
        (9, "M7"), (31_339, "M31337"), (60_001, "M59999")]


def test_no_name_or_a_number_of_the_bundled_samples_reaches_the_database(tmp_path, run_pcr):
    samples = PROJECT_ROOT / "data_samples"
    secrets: set[str] = set()
    # Full names: a single given name or surname also spells counties and firms ("San Luis
    # Obispo", "Santa Cruz", "… Reyes & … LLP"), so alone it proves nothing.
    for files, name, a_number in (("canonical/csv/clients_*.csv", "{full_name}", "a_number"),
                                  ("case_tracker/csv/tracker_*.csv", "{Client Name}", "A#"),
                                  ("cms_report/csv/matters_*.csv", "{First Name} {Last Name}", "A Number")):
        (file,) = samples.glob(files)
        with open(file, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                secrets.add(name.format_map({k: v.strip() for k, v in row.items()}))
                if row[a_number].strip():
                    secrets.add(row[a_number].strip())
    digits = {re.sub(r"\D", "", s).zfill(9) for s in secrets if re.fullmatch(r"A?[\d\s-]{8,12}", s)}
    assert len(secrets) > 1000 and len(digits) > 300  # the samples really carry names and A-numbers
    db = tmp_path / "db.duckdb"
    result = run_pcr("ingest", samples, "--db", db)
    assert result.code == 0
    texts = checkpointed_text_values(db, skip_hashes=True)
    everything = "\n".join(texts) + result.out + result.err
    blob = db.read_bytes()
    # Names and A-numbers as spelled in the exports; the bare 9 digits outside the hash columns
    # (a 64-character hex hash may contain a digit run by chance, so those are not scanned for digits).
    leaked = [s for s in secrets if s in everything or s.encode() in blob] + [d for d in digits if d in everything]
    assert not leaked, f"{len(leaked)} identifiers leaked, e.g. a value of length {len(leaked[0])}"
