"""Reports on a closed period "as known then" (reports/asof.py, docs/reports.md): refused, with
why and what to do, when that state cannot be rebuilt; made with every export so far only when
asked (--as-known-now), and then said on the first page; and real on the bundled samples,
whose exports carry their dates. Real `pcr run` into real DuckDB files, the real `pcr report`,
the real Grant reports page (AppTest)."""
from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import subprocess
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingest.contract import TABLES
from pcr import cli
from pcr.settings import PROJECT_ROOT

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
SAMPLES = PROJECT_ROOT / "data_samples"
APP = PROJECT_ROOT / "pcr" / "dashboard_app.py"

GRANTS = """
suppression_threshold: 11
grants:
  - id: G-ALL
    funder: Test Foundation
    start: 2023-01-01
    end: 2024-12-31
    close_after_days: 45
  - id: SAMPLES-ALL
    funder: Test Foundation
    start: 2025-07-01
    end: 2027-06-30
    close_after_days: 45
  - id: SAMPLES-SHORT-WINDOW
    funder: Test Foundation
    start: 2025-07-01
    end: 2027-06-30
    close_after_days: 10
"""


def publish(exports: Path, var: Path, *extra: str) -> Path:
    db = var / "pcr.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PCR_HMAC_KEY_FILE", str(var.parent / "hmac.key"))
        mp.setenv("PCR_DATA_DIR", str(var))
        assert cli.main(["run", "--db", str(db), str(exports), *extra]) == 0
    return db


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("asof")
    (root / "grants.yml").write_text(GRANTS, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def undated(root) -> Path:
    """The golden export under names that carry no date, loaded without --exported-at."""
    exports = root / "undated"
    shutil.copytree(GOLDEN, exports)
    return publish(exports, root / "undated-var")


@pytest.fixture(scope="module")
def samples(root) -> Path:
    """The whole bundled samples folder, published."""
    return publish(SAMPLES, root / "samples-var")


def report(run_pcr, root: Path, db: Path, grant: str, period: str, *extra: str):
    return run_pcr("report", "--grants", root / "grants.yml", "--grant", grant, "--period", period,
                   "--db", db, "--out", root / "out" / db.parent.name, *extra)


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def headline(path: Path, label: str) -> str:
    return next(row[3] for row in csv_rows(path) if row[:2] == ["headline", label])


# --- exports without an export date ------------------------------------------------------------

def test_a_closed_quarter_on_undated_exports_is_refused_with_why_and_what_to_do(undated, root, run_pcr):
    result = report(run_pcr, root, undated, "G-ALL", "2024Q4", "--format", "pdf,csv")
    assert result.code == 1
    loaded = dt.date.today().isoformat()
    assert ("pcr report: This report (2024-Q4, 2024-10-01 to 2024-12-31) cannot be made as known on 2025-02-14: "
            f"6 export file(s) carry no export date, only the time they were loaded: cases.csv (loaded {loaded}), "
            f"clients.csv (loaded {loaded}), convictions.csv (loaded {loaded}), immigration_events.csv (loaded "
            f"{loaded}) and 2 more. Whether they were made by 2025-02-14 cannot be told.") in result.err
    for remedy in ("the date in each file name (motions_2026-04-20.csv)", "`pcr run --exported-at DATE`",
                   "`pcr run --fresh`", "`pcr report ... --as-known-now`"):
        assert remedy in result.err, remedy
    assert not (root / "out" / undated.parent.name).exists()  # no file of zeros written
    with duckdb.connect(str(undated), read_only=True) as con:  # the data holds what the quarter lacks
        assert con.execute("SELECT DISTINCT exported_at_source FROM raw.load_manifest").fetchall() == [("load_time",)]
        assert con.execute("SELECT count(*) FROM marts.fct_time_entries WHERE entry_date BETWEEN '2024-10-01' AND "
                           "'2024-12-31'").fetchone()[0] > 0


def test_as_known_now_reports_the_closed_quarter_and_says_so_on_the_first_page(undated, root, run_pcr):
    result = report(run_pcr, root, undated, "G-ALL", "2024Q4", "--format", "pdf,csv", "--as-known-now")
    assert result.code == 0, result.err
    out = root / "out" / undated.parent.name
    first_page = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(out / "grant-report_G-ALL_2024-Q4.pdf"),
                                 "-"], check=True, capture_output=True, text=True).stdout
    notice = "As known now, not as known when the period closed"
    assert notice in " ".join(first_page.split())
    assert notice in result.out
    text = (out / "grant-report_G-ALL_2024-Q4.csv").read_text(encoding="utf-8")
    loaded = dt.date.today().isoformat()
    assert notice in text and f"the newest loaded on {loaded}, without an export date" in text
    assert "whether or not it was made by 2025-02-14" in text


def test_the_grant_reports_page_shows_the_refusal_as_a_message(undated, root, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PCR_DB", str(undated))
    monkeypatch.setenv("PCR_GRANTS_FILE", str(root / "grants.yml"))
    monkeypatch.delenv("PCR_ROLES_FILE", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("../dashboards/views/grant_report.py").run()
    period = next(s for s in at.selectbox if s.label == "Period")
    period.set_value("2024Q4").run()
    assert not at.exception, [e.message for e in at.exception]
    (error,) = at.error
    assert error.value.startswith("This report (2024-Q4, 2024-10-01 to 2024-12-31) cannot be made as known on 2025-02-14")
    assert not at.metric and not at.download_button and not at.dataframe


def test_loaded_again_with_an_export_date_the_quarter_is_reported_as_known_then(root, run_pcr):
    var = root / "redated-var"
    db = publish(root / "undated", var, "--fresh", "--exported-at", "2024-12-31")
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT DISTINCT exported_at::DATE::VARCHAR, exported_at_source FROM raw.load_manifest"
                           ).fetchall() == [("2024-12-31", "option")]
    result = report(run_pcr, root, db, "G-ALL", "2024Q4", "--format", "csv")
    assert result.code == 0, result.err
    assert "As known on 2025-02-14: only exports dated on or before 2025-02-14" in result.out
    # Before any export: refused, not a report of zeros.
    result = report(run_pcr, root, db, "G-ALL", "2024Q2", "--format", "csv")
    assert result.code == 1
    assert ("no export loaded is dated on or before 2024-08-14 (the earliest is dated 2024-12-31), so as known then "
            "there is nothing to count, and a report of zeros would read as a real one") in result.err


# --- the bundled samples: dated exports ----------------------------------------------------------

def independent_motions_filed(start: dt.date, end: dt.date, known_at: dt.date) -> tuple[int, str]:
    """Motions filed in [start, end] as the newest sample export dated by ``known_at`` carries
    them, read from that file alone (pandas, not ingest): rows ingest would refuse left out,
    each motion once. Exports only grow and a refused row is refused in every export, so the
    newest one holds every motion filed by then that the store has. Returns (count, file)."""
    manifest = json.loads((SAMPLES / "generator_manifest.json").read_text(encoding="utf-8"))
    newest = max((e for e in manifest["exports"] if e["exported_at"] <= known_at.isoformat()),
                 key=lambda e: e["exported_at"])
    assert (newest["layout"], newest["format"]) == ("canonical", "xlsx")  # read below as the canonical layout
    assert newest["exported_at"] >= end.isoformat()  # made after the quarter closed
    (path,) = (SAMPLES / "canonical" / "xlsx").glob(f"canonical_{newest['exported_at']}.xlsx")
    motions = pd.read_excel(path, sheet_name="motions", dtype=object, engine="calamine")
    text = motions[["motion_id", "vehicle", "outcome"]].apply(lambda c: c.astype(str).str.strip())
    filing, decision = (pd.to_datetime(motions[c]) for c in ("filing_date", "decision_date"))
    with (PROJECT_ROOT / "seeds" / "vehicle_taxonomy.csv").open(encoding="utf-8", newline="") as f:
        vehicles = {row["vehicle"] for row in csv.DictReader(f)}
    decided = text["outcome"].isin(["granted", "granted_in_part", "denied", "withdrawn"])
    loads = (text["vehicle"].isin(vehicles) & text["outcome"].isin(TABLES["motions"].column("outcome").allowed)
             & ~(decided & decision.isna()) & ~(decision < filing))
    filed = loads & filing.between(pd.Timestamp(start), pd.Timestamp(end))
    return text.loc[filed, "motion_id"].nunique(), path.name


def test_a_past_quarter_on_the_samples_is_that_quarter_as_known_then(samples, root, run_pcr):
    expected, export = independent_motions_filed(dt.date(2026, 1, 1), dt.date(2026, 3, 31), dt.date(2026, 5, 15))
    assert expected > 11 and export == "canonical_2026-04-20.xlsx"
    result = report(run_pcr, root, samples, "SAMPLES-ALL", "2026Q1", "--format", "csv")
    assert result.code == 0, result.err
    assert "As known on 2026-05-15" in result.out
    out = root / "out" / samples.parent.name / "grant-report_SAMPLES-ALL_2026-Q1.csv"
    assert headline(out, "Motions filed") == str(expected)
    rows = csv_rows(out)
    assert any(export in " ".join(row) for row in rows)  # the data version lists the export counted
    assert not any("motions_2026-10-31.csv" in " ".join(row) for row in rows)  # not the later ones

    # The example grant (config/grants.example.yml) on the same quarter: a real report.
    result = run_pcr("report", "--grants", PROJECT_ROOT / "config" / "grants.example.yml", "--grant", "CBF-2025-PCR",
                     "--period", "2026Q1", "--format", "csv", "--db", samples, "--out", root / "out" / "example")
    assert result.code == 0, result.err
    filed = headline(root / "out" / "example" / "grant-report_CBF-2025-PCR_2026-Q1.csv", "Motions filed")
    assert filed.isdigit() and 0 < int(filed) <= expected


def _labels(node):
    """Every label in a page's element tree (a status box is a block, not a listed element)."""
    for child in getattr(node, "children", {}).values():
        yield getattr(child, "label", None) or ""
        yield from _labels(child)


def test_the_grant_reports_page_rebuilds_a_past_quarter_in_a_child_process(samples, root, monkeypatch):
    """The page never rebuilds on its own thread: a `pcr report --prepare-only` child process
    makes the data as known then (its log says so), and the page then shows that quarter."""
    from streamlit.testing.v1 import AppTest

    expected, _ = independent_motions_filed(dt.date(2026, 1, 1), dt.date(2026, 3, 31), dt.date(2026, 5, 15))
    data_dir = root / "page-var"  # no rebuilt copy there yet
    monkeypatch.setenv("PCR_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PCR_DB", str(samples))
    monkeypatch.setenv("PCR_GRANTS_FILE", str(root / "grants.yml"))
    monkeypatch.delenv("PCR_ROLES_FILE", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=300).run()
    at.switch_page("../dashboards/views/grant_report.py").run()
    next(s for s in at.selectbox if s.label == "Grant").set_value("SAMPLES-ALL").run()
    next(s for s in at.selectbox if s.label == "Period").set_value("2026Q1").run()
    # The page's run ends while the child works (its status polls on its own); a visitor's next
    # run after the child is done finds the data.
    assert not at.metric and any(label.startswith("Rebuilding the data as known when 2026Q1 closed")
                                 for label in _labels(at.main))
    deadline = time.monotonic() + 300
    while not at.metric and not at.exception and not at.error and time.monotonic() < deadline:
        time.sleep(2)
        at.run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert {m.label: m.value for m in at.metric}["Motions filed"] == str(expected)
    assert any(i.value.startswith("As known on 2026-05-15") for i in at.info)
    (log,) = (data_dir / "reports").glob("*.log")
    assert "pcr report: the data is ready" in log.read_text(encoding="utf-8")


def test_a_window_that_closes_before_the_next_export_is_refused(samples, root, run_pcr):
    # 2026 Q1 known on 2026-04-10: the newest export by then was made on 2026-01-20, inside the quarter.
    result = report(run_pcr, root, samples, "SAMPLES-SHORT-WINDOW", "2026Q1", "--format", "csv")
    assert result.code == 1
    assert ("This report (2026-Q1, 2026-01-01 to 2026-03-31) cannot be made as known on 2026-04-10: the newest "
            "export dated on or before 2026-04-10 was made on 2026-01-20, before the period ended on 2026-03-31, so "
            "the period's work after 2026-01-20 is missing.") in result.err
    assert "close_after_days" in result.err
