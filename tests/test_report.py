"""Grant reports on the hand-made golden export (tests/fixtures/golden), published by the real
`pcr run`, read back as a funder would: the numbers (hand-computed below), suppression, safe
cells, identical reruns, past periods frozen against later exports, and the PDF as rendered.

dbt is slow to start: the export is published once per session; the later-export test runs
the pipeline once more on a copy.
"""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from pcr import cli

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
ARTIFACTS = Path(__file__).parent / "artifacts"
# Formula-like firm names in the input: they reach the pro bono table by firm.
FIRMS = {"Birch LLP": "=1+2 Birch LLP", "Alder LLP": "@Alder LLP"}

GRANTS = """
suppression_threshold: {threshold}
grants:
  - id: G-ALL
    funder: Test Foundation
    start: 2023-01-01
    end: 2024-12-31
    close_after_days: 45
    amount_usd: 21000
    deliverables:
      - {{name: Motions filed, metric: motions_filed, target: 38}}
      - {{name: Vacaturs granted, metric: vacaturs_granted, target: 4}}
      - {{name: Motions granted, metric: motions_granted, target: 24}}
      - {{name: Removal avoided, metric: clients_removal_avoided, target: 6}}
      - {{name: Hours, metric: pro_bono_hours, target: 84}}
  - id: G-ALL-LATE
    funder: Test Foundation
    start: 2023-01-01
    end: 2024-12-31
    close_after_days: 100
  - id: G-LA
    funder: County Fund
    start: 2023-01-01
    end: 2024-12-31
    scope:
      counties: [Los Angeles]
      clients: {{in_removal_proceedings: true}}
    deliverables:
      - {{name: Motions filed, metric: motions_filed, target: 12}}
      - {{name: Vacaturs granted, metric: vacaturs_granted, target: 4}}
      - {{name: Clients represented, metric: clients_represented, target: 6}}
"""


def _write_export(source: Path, target: Path, suffix: str, edit=None) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        if "partner_firm" in rows[0]:
            for row in rows:
                row["partner_firm"] = FIRMS.get(row["partner_firm"], row["partner_firm"])
        if edit:
            rows = edit(path.stem, rows)
        if rows:
            with (target / f"{path.stem}_{suffix}.csv").open("w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)


@pytest.fixture(scope="session")
def published(tmp_path_factory) -> dict:
    """The golden export, dated 2024-12-31, published by `pcr run`."""
    root = tmp_path_factory.mktemp("report")
    _write_export(GOLDEN, root / "exports", "2024-12-31")
    db = root / "var" / "pcr.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PCR_HMAC_KEY_FILE", str(root / "hmac.key"))
        mp.setenv("PCR_DATA_DIR", str(root / "var"))
        assert cli.main(["run", "--db", str(db), str(root / "exports")]) == 0
    for threshold in (1, 3, 11):
        (root / f"grants-{threshold}.yml").write_text(GRANTS.format(threshold=threshold), encoding="utf-8")
    return {"root": root, "db": db, "hmac": root / "hmac.key"}


def make_report(published: dict, grant_id: str, period: str, threshold: int = 1, db: Path | None = None):
    from pcr.commands.report import rebuild_models
    from pcr.settings import Settings
    from reports import asof
    from reports.build import build_report
    from reports.grants import load_grants, parse_period

    grants = load_grants(published["root"] / f"grants-{threshold}.yml")
    grant = grants.grants[grant_id]
    p = parse_period(period, grant)
    version = asof.prepare(p, grant.close_after_days, db or published["db"], work_dir=published["root"] / "asof",
                           rebuild=rebuild_models(Settings.from_env()))
    return build_report(grant, p, version, grants.threshold)


def headline(report) -> dict[str, str]:
    return {label: value for label, value, _ in report.headline}


def deliverables(report) -> dict[str, tuple[str, str, str]]:
    return {r["Deliverable"]: (r["This period"], r["Target"], r["% of target"]) for r in report.deliverables.to_dict("records")}


def table(report, key: str) -> dict[tuple[str, str], str]:
    t = next(t for t in report.tables if t.key == key).display
    first = t.columns[0]
    return {(row[first], c): row[c] for row in t.to_dict("records") for c in t.columns if c != first}


# --- the numbers --------------------------------------------------------------------------

def test_whole_grant_numbers_and_deliverables_by_hand(published):
    report = make_report(published, "G-ALL", "grant")
    h = headline(report)
    # Filed 2023-2024: every motion but M07 (filed 2019-10-25) -> 19.
    assert h["Motions filed"] == "19"
    # Decided 2023-2024 (M07 was decided in 2020): vacaturs M01 M03 (recognized), M09 M13
    # (uncertain: PC 236.14; PC 1018 without a defect ground), M08 (Pickering) = 5. Beside:
    # reductions M11 M17, sentence modifications M05 (c2) M12 (c4) honoured, M06 M18 not,
    # expungement M04 = 7. Granted 5 + 7 = 12; denied M02 M16 M19 M20 = 4; decided 16.
    assert h["Vacaturs granted"] == "5"
    assert h["Motions decided"] == "16"
    assert h["Grant rate"] == "75.0%"  # 12 / 16
    vac = table(report, "vacaturs")
    assert vac[("Total", "Vacatur: recognized")] == "2"
    assert vac[("Total", "Vacatur: uncertain")] == "2"
    assert vac[("Total", "Vacatur: not recognized (Pickering)")] == "1"
    assert vac[("PC 1473.7(a)(1)", "Total")] == "3"  # M01 M03 M08
    beside = table(report, "beside_vacaturs")
    assert beside[("Total", "Offense reduction")] == "2"
    assert beside[("Total", "Sentence modification: honoured (8 CFR 1003.55)")] == "2"
    assert beside[("Total", "Sentence modification: not honoured")] == "2"
    assert beside[("Total", "Total")] == "7"  # reported beside vacaturs, not in them
    not_granted = table(report, "not_granted")
    assert (not_granted[("Total", "Denied")], not_granted[("Total", "Withdrawn")]) == ("4", "1")
    # Intake 2023-2024: C03 C04 C05 C07 C08 C09 C10 C11 C12 C13 = 10. Represented (referred by
    # 2024-12-31, not closed before 2023): all referred cases but K06 (closed 2020) = 10.
    assert (h["Clients screened"], h["Clients represented"]) == ("10", "10")
    # Status reached 2023-2024: C01 confirmed (2023-10-01), C02 C09 projected, C04 not avoided
    # (2024-09-01), C08 partial relief; C06's administrative closure was in 2020.
    assert h["Removal avoided"] == "3"
    removal = table(report, "removal_avoided")
    assert removal[("Not avoided", "Count")] == "1" and removal[("Administrative closure", "Count")] == "0"
    assert table(report, "removal_avoided_split")[("Confirmed", "Count")] == "1"
    # Time entries T01-T08, all 2023-2024: 10 + 4.5 + 3 + 6 + 8 + 2.5 + 7 + 1 = 42 h, x $500.
    assert h["Pro bono hours"] == "42.0"
    assert h["Value of donated time"] == "$21,000"
    pro_bono = next(t for t in report.tables if t.key == "pro_bono")
    assert "$1.00 of donated time per dollar" in pro_bono.note  # $21,000 / $21,000 grant
    assert "2.0 hours per $1,000" in pro_bono.note  # 42 h / 21
    assert deliverables(report) == {
        "Motions filed": ("19", "38", "50.0%"),
        "Vacaturs granted": ("5", "4", "125.0%"),
        "Motions granted": ("12", "24", "50.0%"),
        "Removal avoided": ("3", "6", "50.0%"),
        "Hours": ("42.0", "84", "50.0%"),
    }


def test_scope_counties_and_client_criteria_by_hand(published):
    report = make_report(published, "G-LA", "grant")
    # Los Angeles convictions of clients in removal proceedings at intake: C01 (V01 V02),
    # C04 (V06 V07), C07 (V10 V11); C10 (V15 V16) was not in proceedings.
    # Motions M01 M16 M05 M17 M08 M09, all filed 2023-2024 = 6. Vacaturs M01 M08 M09 = 3;
    # beside M05 M17 = 2; denied M16: decided 6, grant rate 5/6.
    h = headline(report)
    assert (h["Motions filed"], h["Vacaturs granted"], h["Motions decided"], h["Grant rate"]) == ("6", "3", "6", "83.3%")
    assert (h["Clients represented"], h["Clients screened"]) == ("3", "2")  # C01 C04 C07; intake 2023+: C04 C07
    assert h["Removal avoided"] == "1"  # C01 confirmed; C04 not avoided; C07 no effective relief
    assert h["Pro bono hours"] == "18.0"  # K01 10 + 4.5, K04 2.5, K07 1
    assert deliverables(report) == {"Motions filed": ("6", "12", "50.0%"), "Vacaturs granted": ("3", "4", "75.0%"),
                                    "Clients represented": ("3", "6", "50.0%")}


def test_quarter_counts_in_the_period_and_grant_to_date(published):
    report = make_report(published, "G-ALL", "2024Q4")
    h = headline(report)
    # 2024-Q4: no decision, no filing; time entry T07 (2024-12-31, 7 h).
    assert (h["Vacaturs granted"], h["Motions decided"], h["Motions filed"], h["Pro bono hours"]) == ("0", "0", "0", "7.0")
    row = next(r for r in report.deliverables.to_dict("records") if r["Deliverable"] == "Vacaturs granted")
    assert (row["This period"], row["Grant to date"]) == ("0", "5")  # grant start to 2024-12-31
    # The export (dated 2024-12-31) is within 45 days of the quarter's end: published data as is.
    assert report.version.as_of.isoformat() == "2024-12-31" and not report.version.rebuilt


def test_quarter_known_before_any_export_is_refused_not_zeros(published):
    from reports import asof

    # 2024-Q2 as known on 2024-08-14: the only export is dated 2024-12-31.
    refusal = (r"\(2024-Q2, 2024-04-01 to 2024-06-30\) cannot be made as known on 2024-08-14: no export loaded is "
               r"dated on or before 2024-08-14 \(the earliest is dated 2024-12-31\)")
    with pytest.raises(asof.ReportDataError, match=refusal):
        make_report(published, "G-ALL", "2024Q2")


def km_quantile(durations, events, survival_at_most: float) -> float:
    """An independent product-limit estimate to check the database's against: the smallest t
    with S(t) <= the given level (NaN when never reached); S(t) = product over event times
    t_i <= t of (1 - d_i / n_i), n_i = units with duration >= t_i."""
    import numpy as np

    survival = 1.0
    for t in np.unique(durations[events]):
        at_risk = np.count_nonzero(durations >= t)
        survival *= 1 - np.count_nonzero((durations == t) & events) / at_risk
        if survival <= survival_at_most + 1e-9:
            return float(t)
    return float("nan")


def test_kaplan_meier_matches_the_mart(published):
    import duckdb
    import numpy as np

    with duckdb.connect(str(published["db"]), read_only=True) as con:
        units = con.execute("SELECT duration_days, is_event FROM intermediate.int_time_to_resolution_units "
                            "WHERE measure = 'filing_to_decision'").fetchall()
        mart = con.execute("SELECT km_median_days, km_p75_days FROM marts.mart_time_to_resolution "
                           "WHERE measure = 'filing_to_decision' AND dimension = 'all'").fetchone()
    durations = np.array([u[0] for u in units], dtype=float)
    events = np.array([u[1] for u in units], dtype=bool)
    assert (km_quantile(durations, events, 0.5), km_quantile(durations, events, 0.25)) == tuple(float(m) for m in mart)


# --- disclosure control and safe files ----------------------------------------------------

COUNT_TABLES = ("vacaturs", "beside_vacaturs", "not_granted", "motions_filed", "removal_avoided", "removal_avoided_split")


@pytest.mark.parametrize("threshold", [3, 11])
def test_funder_report_has_no_small_cell_and_no_row_level_data(published, threshold):
    from reports import render

    report = make_report(published, "G-ALL", "grant", threshold=threshold)
    marker = f"<{threshold}"
    seen = []
    for t in report.tables:
        columns = [c for c in t.display.columns[1:]] if t.key in COUNT_TABLES else \
            {"pro_bono": ["Cases with time"], "time_to_resolution": ["Units", "Resolved"]}[t.key]
        seen += [v for c in columns for v in t.display[c]]
    counts = [label for label, _, unit in report.headline if unit not in ("hours",) and not label.startswith(("Value", "Grant rate"))]
    seen += [headline(report)[label] for label in counts]
    for value in seen:
        assert value in (marker, "withheld", "0") or int(value.replace(",", "")) >= threshold, value
    assert marker in seen
    if threshold == 3:
        assert any(v not in (marker, "withheld", "0") for v in seen)  # the test can see a published count
    text = render.to_csv(report).decode() + " ".join(
        str(c.value) for ws in openpyxl.load_workbook(io.BytesIO(render.to_xlsx(report))) for row in ws.iter_rows() for c in row)
    # No client, case, conviction, motion, event, entry or attorney ids; no *_id columns.
    assert not re.search(r"\b([CKVMET]\d{2}|T0\d|A[123]|B[12])\b", text)
    assert "_id" not in text


def test_formula_like_input_is_text_in_xlsx_and_csv(published):
    from reports import render

    report = make_report(published, "G-ALL", "grant")
    workbook = openpyxl.load_workbook(io.BytesIO(render.to_xlsx(report)))
    cells = [c for ws in workbook for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    firms = {c.value: c.data_type for c in cells if isinstance(c.value, str) and ("Birch" in c.value or "Alder" in c.value)}
    assert firms == {"'=1+2 Birch LLP": "s", "'@Alder LLP": "s"}
    rows = list(csv.reader(io.StringIO(render.to_csv(report).decode())))
    labels = {row[1] for row in rows if row[0] == "Pro bono time by partner firm"}
    assert {"'=1+2 Birch LLP", "'@Alder LLP"} <= labels
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


# --- reproducible -------------------------------------------------------------------------

def test_same_report_twice_is_the_same_bytes(published):
    from reports import render

    first, second = (make_report(published, "G-ALL", "2024Q4") for _ in range(2))
    for fmt, write in render.WRITERS.items():
        assert write(first) == write(second), fmt
    assert first.version.run_id and first.version.run_id in render.to_csv(first).decode()
    assert len(first.version.inputs) == 6 and all(len(f.sha256) == 64 for f in first.version.inputs)


def _numbers(report) -> str:
    from reports import render

    return "\n".join(line for line in render.to_csv(report).decode().splitlines() if not line.startswith("data version"))


def test_past_quarter_unchanged_after_a_later_export_updates_a_case(published):
    root = published["root"]
    before = {g: _numbers(make_report(published, g, "2024Q4")) for g in ("G-ALL", "G-ALL-LATE")}
    assert before["G-ALL"].replace("G-ALL", "") != ""

    def later(table: str, rows: list[dict]) -> list[dict]:
        # M12 (granted 2024-07-01) corrected to denied; a new client C14 screened 2024-11-01
        # with a motion filed 2024-11-15: both change 2024-Q4 as known now.
        if table == "motions":
            changed = [dict(r, outcome="denied", result_type="", grant_ground="", order_states_ground="") for r in rows if r["motion_id"] == "M12"]
            new = dict(rows[0], motion_id="M21", conviction_id="V19", filing_date="2024-11-15", hearing_date="",
                       decision_date="", outcome="pending", result_type="", grant_ground="", order_states_ground="",
                       order_cites_subsection="", disposition_after_vacatur="")
            return changed + [new]
        new_row = {"clients": ("client_id", "C13", dict(client_id="C14", intake_date="2024-11-01", a_number="A012345684")),
                   "cases": ("case_id", "K13", dict(case_id="K14", client_id="C14", intake_date="2024-11-01", eligibility_date="2024-11-05")),
                   "convictions": ("conviction_id", "V18", dict(conviction_id="V19", case_id="K14", court_case_number="SD-2021-0019"))}
        if table in new_row:
            key, template, values = new_row[table]
            return [dict(next(r for r in rows if r[key] == template), **values)]
        return []

    _write_export(GOLDEN, root / "later", "2025-03-01", later)
    db = root / "later-var" / "pcr.duckdb"
    db.parent.mkdir()
    shutil.copyfile(published["db"], db)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PCR_HMAC_KEY_FILE", str(published["hmac"]))
        mp.setenv("PCR_DATA_DIR", str(db.parent))
        assert cli.main(["run", "--db", str(db), str(root / "later")]) == 0
    after = {g: make_report(published, g, "2024Q4", db=db) for g in ("G-ALL", "G-ALL-LATE")}
    assert _numbers(after["G-ALL"]) == before["G-ALL"]  # exports dated after 2025-02-14 are not counted
    assert after["G-ALL"].version.rebuilt and len(after["G-ALL"].version.inputs) == 6
    # With a window to 2025-04-10 the same quarter does see the later export.
    late = headline(after["G-ALL-LATE"])
    assert (late["Clients screened"], late["Motions filed"]) == ("1", "1")
    assert _numbers(after["G-ALL-LATE"]) != before["G-ALL-LATE"]


# --- the PDF as a person sees it, and the command -----------------------------------------

def test_pdf_renders_with_headline_numbers_and_charts(published, run_pcr, monkeypatch):
    out = published["root"] / "out"
    monkeypatch.setenv("PCR_HMAC_KEY_FILE", str(published["hmac"]))
    result = run_pcr("report", "--grants", published["root"] / "grants-1.yml", "--grant", "G-ALL", "--period", "grant",
                     "--format", "pdf,csv", "--out", out, "--db", published["db"])
    assert result.code == 0, result.err
    assert "No runtime found" not in result.err
    pdf = out / "grant-report_G-ALL_whole_grant.pdf"
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    for expected in ("Grant report: Test Foundation", "Vacaturs granted", "75.0%", "$21,000", "42.0", "125.0%",
                     "As known on 2025-02-14", "Methods: what each number means", "Data version"):
        assert expected in text, expected
    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("grant-report-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "70", "-png", str(pdf), str(ARTIFACTS / "grant-report")], check=True)
    pages = sorted(ARTIFACTS.glob("grant-report-*.png"))
    assert len(pages) >= 3 and all(p.stat().st_size > 10_000 for p in pages)
    images = subprocess.run(["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert len([line for line in images.splitlines()[2:] if " image " in line]) == 3  # the three charts


def test_command_refuses_unknown_grant_and_bad_config(published, run_pcr, tmp_path):
    grants = published["root"] / "grants-1.yml"
    result = run_pcr("report", "--grants", grants, "--grant", "NOPE", "--period", "grant", "--db", published["db"])
    assert result.code == 2 and "no grant 'NOPE'" in result.err and "G-ALL" in result.err
    result = run_pcr("report", "--grants", grants, "--grant", "G-ALL", "--period", "2022Q1", "--db", published["db"])
    assert result.code == 1 and "outside grant G-ALL" in result.err
    bad = tmp_path / "grants.yml"
    bad.write_text("grants:\n  - {id: X, funder: F, start: 2024-01-01, end: 2024-12-31,\n"
                   "     deliverables: [{metric: vacatures, target: 3}]}\n", encoding="utf-8")
    result = run_pcr("report", "--grants", bad, "--grant", "X", "--period", "grant", "--db", published["db"])
    assert result.code == 1 and f"{bad}: grant X: deliverables[1]: 'metric' must be one of" in result.err


def test_the_report_command_does_not_load_streamlit(published, tmp_path):
    """`pcr report` reads through access/, which knows nothing of Streamlit: a grant report and a
    partner report, in every format, are written without loading the dashboards' server."""
    script = ("import sys\nfrom pcr import cli\n"
              "grant, partner = sys.argv[1:sys.argv.index('--')], sys.argv[sys.argv.index('--') + 1:]\n"
              "codes = [cli.main(grant), cli.main(partner)]\n"
              "print('streamlit modules:', sorted(m for m in sys.modules if m.split('.')[0] == 'streamlit'))\n"
              "sys.exit(max(codes))")
    grant = ["report", "--grants", published["root"] / "grants-1.yml", "--grant", "G-ALL", "--period", "grant",
             "--format", "pdf,xlsx,csv", "--out", tmp_path, "--db", published["db"]]
    partner = ["report", "--partner", FIRMS["Alder LLP"], "--period", "2024", "--out", tmp_path, "--db", published["db"]]
    result = subprocess.run([sys.executable, "-c", script, *map(str, grant), "--", *map(str, partner)],
                            capture_output=True, text=True, env={**os.environ, "PCR_HMAC_KEY_FILE": str(published["hmac"])})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "streamlit modules: []" in result.stdout, result.stdout


def test_periods():
    import datetime as dt

    from reports.grants import Grant, parse_period

    grant = Grant("G", "F", "", dt.date(2025, 7, 1), dt.date(2026, 6, 30))
    assert (parse_period("2026Q1", grant).start, parse_period("2026Q1", grant).end) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert parse_period("2025-q4", grant).end == dt.date(2025, 12, 31)
    fy = parse_period("FY2025-26", grant)
    assert (fy.start, fy.end, fy.label) == (dt.date(2025, 7, 1), dt.date(2026, 6, 30), "FY2025-26")
    clipped = parse_period("FY2026-27", Grant("G", "F", "", dt.date(2025, 7, 1), dt.date(2026, 12, 31)))
    assert (clipped.start, clipped.end) == (dt.date(2026, 7, 1), dt.date(2026, 12, 31)) and "within the grant" in clipped.label
    for bad in ("2026Q5", "FY2025-27", "2027Q1", "Q1"):
        with pytest.raises(ValueError):
            parse_period(bad, grant)


def test_time_to_resolution_with_no_unit_is_not_available(published):
    from pcr.commands.report import rebuild_models
    from pcr.settings import Settings
    from reports import asof
    from reports.build import build_report
    from reports.grants import load_grants, parse_period

    # The grant's first quarter, as known now: some measures have no unit by its end.
    grants = load_grants(published["root"] / "grants-1.yml")
    grant = grants.grants["G-LA"]
    period = parse_period("2023Q1", grant)
    version = asof.prepare(period, grant.close_after_days, published["db"], work_dir=published["root"] / "asof",
                           rebuild=rebuild_models(Settings.from_env()), as_known_now=True)
    report = build_report(grant, period, version, grants.threshold)
    rows = next(t for t in report.tables if t.key == "time_to_resolution").display.to_dict("records")
    empty = [row for row in rows if row["Units"] == "0"]
    assert empty, rows
    for row in empty:
        assert [row[c] for c in list(row)[3:]] == ["not available"] * 3, row
    for row in rows:
        if row["Resolved"] == "0" and row["Units"] != "0":
            assert row["Median of closed only (biased low), days"] == "not available", row
