"""`pcr layout list|draft|check`, run for real on export files written by the tests: a messy
export (title rows, US dates, a blank outcome meaning pending, time entries without an id, two
yes/no flag columns deciding one field, counties written `LOS ANGELES COUNTY`, A-numbers in
three spellings), drafted, completed as its TODOs say, checked and loaded."""
from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import duckdb
import openpyxl
import pytest

from ingest.layouts import load_layout
from pcr.settings import PROJECT_ROOT, Settings

TITLE = [["Post-Conviction Relief - Motions Report"], ["Run 04/20/2026 by the data team", "", ""]]
MOTIONS_HEADER = ["Client #", "Client Name", "A Number", "DOB", "Intake Date", "Matter #", "Referred To",
                  "Referral Date", "Conviction #", "Court", "Charge", "Motion #", "Statute", "Date Filed",
                  "Date Decided", "Outcome", "Defect Based?", "Clerical Fix?"]
MOTIONS = [
    ["CL-1001", "Rosa Marquez", "A-201-455-871", "03/14/1982", "01/08/2025", "MT-501", "Baker & Lowe LLP", "02/03/2025",
     "CV-9001", "LOS ANGELES COUNTY", "HS 11350(a)", "MO-7001", "PC 1473.7(a)(1)", "03/17/2025", "09/22/2025",
     "Granted", "Yes", "No"],
    ["CL-1001", "Rosa Marquez", "A-201-455-871", "03/14/1982", "01/08/2025", "MT-501", "Baker & Lowe LLP", "02/03/2025",
     "CV-9002", "LOS ANGELES COUNTY", "PC 459", "MO-7002", "PC 17(b)", "03/17/2025", "", "", "", ""],
    ["CL-1002", "Tomas Herrera", "A 087 334 120", "11/02/1990", "02/11/2025", "MT-502", "Ortiz Pro Bono Group",
     "03/01/2025", "CV-9003", "FRESNO COUNTY", "PC 245(a)(1)", "MO-7003", "PC 1016.5", "04/02/2025", "10/15/2025",
     "Denied", "No", "No"],
    ["CL-1003", "Lin Zhao", "198220431", "07/30/1975", "02/20/2025", "MT-503", "Baker & Lowe LLP", "03/12/2025",
     "CV-9004", "SAN DIEGO COUNTY", "HS 11378", "MO-7004", "PC 1473.7(a)(1)", "04/20/2025", "11/03/2025", "Granted",
     "No", "Yes"],
    ["CL-1004", "Ana Solis", "A-310-992-004", "05/05/1988", "03/03/2025", "MT-504", "Ortiz Pro Bono Group", "03/28/2025",
     "CV-9005", "LOS ANGELES COUNTY", "PC 484(a)", "MO-7005", "PC 1203.4", "05/01/2025", "", "", "", ""],
    ["CL-1005", "David Okafor", "A 455 120 338", "12/19/1979", "03/15/2025", "MT-505", "Baker & Lowe LLP", "04/10/2025",
     "CV-9006", "ORANGE COUNTY", "HS 11377(a)", "MO-7006", "PC 1473.7(a)(1)", "05/12/2025", "12/01/2025",
     "Granted in part", "Yes", "No"],
    ["CL-1006", "Mei Tanaka", "311406782", "09/09/1993", "04/01/2025", "MT-506", "Ortiz Pro Bono Group", "", "CV-9007",
     "FRESNO COUNTY", "PC 459", "", "", "", "", "", "", ""],
]
TIME_HEADER = ["Timekeeper", "Firm", "Matter #", "Work Date", "Hours", "Description"]
TIME = [
    ["ATT-11", "Baker & Lowe LLP", "MT-501", "02/10/2025", "3.5", "records review"],
    ["ATT-11", "Baker & Lowe LLP", "MT-501", "03/15/2025", "6", "drafting"],
    ["ATT-11", "Baker & Lowe LLP", "MT-501", "03/15/2025", "6", "drafting"],  # exported twice: a duplicate
    ["ATT-27", "Ortiz Pro Bono Group", "MT-502", "03/20/2025", "4.25", "declaration"],
    ["ATT-11", "Baker & Lowe LLP", "MT-503", "04/18/2025", "5", "drafting"],
    ["ATT-27", "Ortiz Pro Bono Group", "MT-504", "04/25/2025", "2", "client meeting"],
    ["ATT-11", "Baker & Lowe LLP", "MT-505", "05/09/2025", "7.5", "drafting"],
]
PII = [v for row in MOTIONS for v in (row[1], row[2], row[3])] + ["Marquez", "201455871", "1982-03-14"]


def write_csv(path: Path, header: list[str], rows: list[list[str]], above: list[list[str]] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerows([*above, header, *rows])
    return path


def write_xlsx(path: Path, sheets: dict[str, tuple[list[str], list[list[str]], list[list[str]]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, (header, rows, above) in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in [*above, header, *rows]:
            sheet.append([v if v != "" else None for v in row])
    workbook.save(path)
    return path


@pytest.fixture
def export(tmp_path) -> dict[str, Path]:
    folder = tmp_path / "exports"
    return {"motions": write_csv(folder / "motions_export_2026-04-20.csv", MOTIONS_HEADER, MOTIONS, above=TITLE),
            "time": write_csv(folder / "time_export_2026-04-20.csv", TIME_HEADER, TIME)}


def complete_todos(draft: str) -> str:
    """What the draft's TODOs ask a person to decide, decided as this export needs: a blank
    outcome is a motion not ruled on yet, and the two flag columns decide grant_ground."""
    done = draft.replace('    # "": pending  # TODO', '    "": pending  # decided')
    done = done.replace("        grant_ground: {not_available: true}", "")
    done = re.sub(r"(?m)^        # (grant_ground:|  cases:|    - \{when|  else: unknown)", r"        \1", done)
    assert done != draft
    return done


def no_pii(text: str) -> None:
    for value in PII:
        assert value not in text, value


def test_draft_of_a_messy_export_loads_and_once_its_todos_are_decided_loads_the_export(tmp_path, run_pcr, export):
    out = tmp_path / "my_layouts" / "our_cms.yml"
    result = run_pcr("layout", "draft", export["motions"], export["time"], "--out", out)
    assert result.code == 0, result.err
    text = out.read_text(encoding="utf-8")
    assert load_layout(out).name == "our_cms"  # the draft as written loads
    # The header under two title rows, the columns it maps, and what it leaves to decide.
    assert "header on line 3 (2 title or notes row(s) above it are skipped), 7 rows" in text
    assert 'date_formats: ["%m/%d/%Y"]' in text
    assert 'a_number: "A Number"  # PII: stored only as a keyed hash; rows by spelling: dashed 3, digits only 2, spaced 2' in text
    assert 'full_name: "Client Name"  # PII' in text and 'date_of_birth: "DOB"  # PII' in text
    assert 'partner_firm: "Referred To"' in text and 'referral_date: "Referral Date"' in text
    assert 'county: {column: "Court", clean: [{strip_suffix: " County"}]}' in text
    assert 'when_present: "Motion #"  # 1 row(s) without a motion_id make no motions record' in text
    assert 'outcome: "Outcome"  # TODO: 2 row(s) blank' in text
    assert '"Granted in part": "granted_in_part"  # 1 row(s)' in text
    assert '    # "": pending  # TODO: 2 blank row(s)' in text
    assert '        #     - {when: {"Defect Based?": yes}, then: legal_defect}' in text
    assert '        #     - {when: {"Clerical Fix?": yes}, then: clerical_error}' in text
    assert ('entry_id: {key_from: ["Matter #", "Firm", "Timekeeper", "Work Date", "Hours"]}  # TODO: the file has no '
            'entry_id') in text
    assert '#   "Description": 4 distinct value(s), 7 filled' in text  # not read, and its values not shown
    assert text.startswith(f"# yaml-language-server: $schema={PROJECT_ROOT / 'ingest' / 'layout.schema.json'}\n")
    no_pii(text + result.out + result.err)
    # The draft as it stands: two pending motions' rows are quarantined (and a case with one).
    assert run_pcr("layout", "check", out, export["motions"], export["time"]).code == 1
    # Decided, it loads the whole export.
    out.write_text(complete_todos(text), encoding="utf-8")
    db = tmp_path / "db.duckdb"
    result = run_pcr("ingest", export["motions"], export["time"], "--db", db, "--layouts", out.parent)
    assert result.code == 0, result.err
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT sum(rows_quarantined), sum(rows_duplicate) FROM raw.load_manifest").fetchall() == [(0, 1)]
        assert dict(con.execute("SELECT motion_id, outcome || '/' || coalesce(grant_ground, '-') FROM raw.motions").fetchall()) == {
            "MO-7001": "granted/legal_defect", "MO-7002": "pending/unknown", "MO-7003": "denied/unknown",
            "MO-7004": "granted/clerical_error", "MO-7005": "pending/unknown", "MO-7006": "granted_in_part/legal_defect"}
        assert sorted(con.execute("SELECT DISTINCT county FROM raw.convictions").fetchall()) == [
            ("Fresno",), ("Los Angeles",), ("Orange",), ("San Diego",)]
        assert con.execute("SELECT count(*), count(DISTINCT entry_id) FROM raw.time_entries").fetchall() == [(6, 6)]


def test_draft_reads_every_sheet_of_a_workbook_past_its_title_rows(tmp_path, run_pcr):
    book = write_xlsx(tmp_path / "report.xlsx", {"Motions": (MOTIONS_HEADER, MOTIONS, TITLE),
                                                 "Time": (TIME_HEADER, TIME, [])})
    result = run_pcr("layout", "draft", book, "--name", "workbook")
    assert result.code == 0, result.err
    assert "  motions:  # report.xlsx [sheet 'Motions']: header on row 3 (2 title or notes row(s)" in result.out
    assert "  time:  # report.xlsx [sheet 'Time']: header on row 1, 7 rows" in result.out
    layout = tmp_path / "workbook.yml"
    layout.write_text(complete_todos(result.out), encoding="utf-8")
    result = run_pcr("layout", "check", layout, book)
    assert result.code == 0, result.out
    assert "sheet 'Motions': read as workbook/motions: 7 rows, 7 would load, 0 quarantined, 0 duplicate" in result.out
    no_pii(result.out)


def test_check_says_where_each_column_comes_from_what_is_unmapped_quarantined_and_orphaned(tmp_path, run_pcr, export):
    draft = tmp_path / "our_cms.yml"
    assert run_pcr("layout", "draft", export["motions"], export["time"], "--out", draft).code == 0
    draft.write_text(complete_todos(draft.read_text(encoding="utf-8")), encoding="utf-8")
    rows = [r[:] for r in MOTIONS]
    rows[0][15] = rows[2][15] = "Won"  # a word the vocabulary does not map (data lines 4 and 6)
    rows[3][14] = "11/31/2025"  # no such day (line 7)
    motions = write_csv(tmp_path / "faulty" / "motions_export_2026-04-21.csv", MOTIONS_HEADER, rows, above=TITLE)
    result = run_pcr("layout", "check", draft, motions, export["time"])
    assert result.code == 1
    out = result.out
    assert "read as our_cms/motions_export: 7 rows, 4 would load, 3 quarantined, 0 duplicate" in out
    assert re.search(r"motions\.outcome +column 'Outcome' +granted_in_part, pending \(2\)|"
                     r"motions\.outcome +column 'Outcome' +pending \(2\), granted_in_part", out), out
    assert re.search(r"convictions\.county +column 'Court', cleaned +Los Angeles \(2\)", out), out
    assert re.search(r"cases\.eligibility +not available \(the mapping says so\)", out)
    assert re.search(r"clients\.a_number +column 'A Number' +\[redacted: stored as a keyed hash; 4 of 4 records", out)
    assert re.search(r"clients\.full_name +column 'Client Name' +\[name: read for nothing, never stored\]", out)
    assert "time_entries.entry_id                  a key made from columns 'Matter #', 'Firm', 'Timekeeper'" in out
    assert "    outcome 'Won': 2 row(s)" in out
    assert "Rows that would be quarantined: 3; by rule: bad_value 2, bad_date 1" in out
    assert "motions_export_2026-04-21.csv: line 4: outcome 'Won' is not an allowed value" in out
    assert "motions_export_2026-04-21.csv: line 7: decision_date '11/31/2025' is not a date" in out
    # The quarantined rows were the only ones of matters MT-502 and MT-503: their time entries are orphans.
    assert "  2 time_entries record(s) whose case_id is in no cases record" in out
    assert "NOT READY" in out
    no_pii(out + result.err)
    # Nothing written: no database file anywhere, not even the data directory.
    assert not list(tmp_path.rglob("*.duckdb*")) and not list(tmp_path.rglob("*.wal"))
    assert not Settings.from_env().data_dir.exists()


def test_check_of_a_clean_export_passes_and_names_a_file_another_layout_reads(tmp_path, run_pcr, export):
    draft = tmp_path / "our_cms.yml"
    assert run_pcr("layout", "draft", export["motions"], export["time"], "--out", draft).code == 0
    draft.write_text(complete_todos(draft.read_text(encoding="utf-8")), encoding="utf-8")
    result = run_pcr("layout", "check", draft, export["motions"].parent)
    assert result.code == 0, result.out
    assert "Result: the mapping reads every file; nothing would be quarantined" in result.out
    canonical = write_csv(tmp_path / "other" / "clients.csv", ["client_id", "intake_date", "immigration_status"],
                          [["C1", "2025-01-01", "lpr"]])
    result = run_pcr("layout", "check", draft, canonical)
    assert result.code == 1
    assert "NOT READ BY our_cms: the signature of canonical/clients fits this header better" in result.out
    assert run_pcr("layout", "check", "canonical", canonical).code == 0  # a layout in use, by its name
    renamed = write_csv(tmp_path / "renamed" / "motions_export_2026-05-20.csv",
                        [h if h != "Outcome" else "Ruling" for h in MOTIONS_HEADER], MOTIONS, above=TITLE)
    result = run_pcr("layout", "check", draft, renamed)
    assert result.code == 1
    assert ("  REFUSED: looks like our_cms/motions_export (our_cms.yml) but the header lacks column(s) the mapping "
            "reads: motions.outcome (column 'Outcome')") in result.out


def test_list_shows_a_program_layout_replacing_a_bundled_one(tmp_path, run_pcr, export):
    own = Settings.from_env().data_dir / "layouts"  # the data directory's layouts folder, the default
    own.mkdir(parents=True)
    bundled = Settings.from_env().bundled_layouts_dir / "cms_report.yml"
    shutil.copy(bundled, own / "cms_report.yml")
    assert run_pcr("layout", "draft", export["time"], "--out", own / "timesheets.yml").code == 0
    result = run_pcr("layout", "list")
    assert result.code == 0, result.err
    out = result.out
    assert f"Program's layouts:      {own} (from layouts/ in the data directory, PCR_DATA_DIR)" in out
    assert f"cms_report (program's own, {own / 'cms_report.yml'})\n  replaces the bundled {bundled}\n" in out
    assert f"Not used (replaced by the program's file of the same name): {bundled}" in out
    assert f"timesheets (program's own, {own / 'timesheets.yml'})" in out
    assert "  time_export: signature 'Timekeeper', 'Firm', 'Matter #' -> time_entries" in out
    assert f"canonical (bundled, {Settings.from_env().bundled_layouts_dir / 'canonical.yml'})" in out
    # --layouts names another folder; a broken layout there is named with its line.
    other = tmp_path / "other"
    other.mkdir()
    (other / "broken.yml").write_text("layout: broken\nfiles:\n  people:\n    signature: [Ref]\n    tables:\n"
                                      "      client: {client_id: Ref}\n", encoding="utf-8")
    result = run_pcr("layout", "list", "--layouts", other)
    assert result.code == 1
    assert f"{other / 'broken.yml'}:6: files.people.tables: unknown table client" in result.out
    assert "(from --layouts)" in result.out and "timesheets" not in result.out


WALKTHROUGH = PROJECT_ROOT / "docs" / "your-export.md"
SCHEMA_IN_THE_DOC = "/path/to/pcr/ingest/layout.schema.json"


def _shown_lines_are_printed(block: str, output: str) -> None:
    """Every line the page shows of a command's output is a line of the real output ('...'
    stands for lines left out)."""
    printed = {line.rstrip() for line in output.splitlines()}
    for line in block.splitlines():
        if line.strip() != "...":
            assert line.rstrip() in printed, f"{line!r} not in:\n{output}"


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of every fenced code block, in order."""
    return re.findall(r"(?ms)^```(\w*)\n(.*?)^```$", text)


def test_the_walkthrough_shows_what_the_commands_do(run_pcr, monkeypatch):
    blocks = fenced_blocks(WALKTHROUGH.read_text(encoding="utf-8"))
    exports = [body for lang, body in blocks if lang == "csv"]
    layouts = [body for lang, body in blocks if lang == "yaml"]
    plain = [body for lang, body in blocks if not lang]
    data = Settings.from_env().data_dir  # the page works inside the data directory, its layouts in layouts/
    (data / "exports").mkdir(parents=True)
    monkeypatch.chdir(data)
    for name, body in zip(["motions_export_2026-04-20.csv", "time_export_2026-04-20.csv"], exports):
        (data / "exports" / name).write_text(body, encoding="utf-8")
    # 1. The draft is the one on the page, to the byte (but for where the schema is installed).
    result = run_pcr("layout", "draft", "exports/motions_export_2026-04-20.csv", "exports/time_export_2026-04-20.csv",
                     "--out", "layouts/our_cms.yml")
    assert result.code == 0, result.err
    draft = (data / "layouts" / "our_cms.yml").read_text(encoding="utf-8")
    assert draft.replace(str(PROJECT_ROOT / "ingest" / "layout.schema.json"), SCHEMA_IN_THE_DOC) == layouts[0]
    # 3. Its check, as the page shows it.
    result = run_pcr("layout", "check", "layouts/our_cms.yml", "exports/")
    assert result.code == 1
    _shown_lines_are_printed(next(b for b in plain if "NOT READY" in b), result.out)
    # 2. The finished layout: a typo is refused with its line, as shown; as written it passes.
    final = layouts[1]
    typo = final.replace('outcome: "Outcome"  # blank until the court rules: see values, outcome ""',
                         'outcome: {column: "Outcome", blank: pendng}')
    assert typo != final
    (data / "layouts" / "our_cms.yml").write_text(typo, encoding="utf-8")
    result = run_pcr("layout", "check", "layouts/our_cms.yml", "exports/")
    assert result.code == 1
    _shown_lines_are_printed(next(b for b in plain if b.startswith("ERROR: bad layout mapping")), result.err)
    (data / "layouts" / "our_cms.yml").write_text(final, encoding="utf-8")
    result = run_pcr("layout", "check", "layouts/our_cms.yml", "exports/")
    assert result.code == 0, result.out
    _shown_lines_are_printed(next(b for b in plain if "nothing would be quarantined" in b), result.out)
    # 4. Found in the data directory's layouts folder, it loads every row.
    db = data / "scratch.duckdb"
    result = run_pcr("ingest", "exports/", "--db", db)
    assert result.code == 0, result.err
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT layout, sum(rows_loaded), sum(rows_quarantined), sum(rows_duplicate) "
                           "FROM raw.load_manifest GROUP BY layout").fetchall() == [("our_cms", 14, 0, 1)]
