"""Every download the dashboards offer is safe to open in a spreadsheet: exports whose partner
firm names start a formula (= + - @) go through the real pipeline, and every page's CSV
downloads and the Grant reports page's CSV and XLSX, for a program manager, a partner firm and
a funder, hold those names as text (a leading apostrophe), never a cell that Excel or
LibreOffice would run. One helper does it for all of them (reports/spreadsheet.py)."""
from __future__ import annotations

import csv
import io
import os
import re

import openpyxl
import pandas as pd
import pytest
import streamlit as st
import streamlit.testing.v1.app_test as app_test_module
from streamlit.testing.v1 import AppTest

from e2e.support import APP, FUNDER, MANAGER, PAGES, PARTNER, PROJECT, Recording, RecordingManager, offered, pcr, write_roles
from reports.spreadsheet import FORMULA_STARTS, csv_bytes, neutralise

# The generator's firms renamed in the exports: each name starts a formula in a spreadsheet.
RENAMED = {
    "Whitcombe & Ames LLP": '=HYPERLINK("http://evil.example","Whitcombe & Ames LLP")',
    "Hollis Brandt Okafor LLP": "@SUM(1+1) Hollis Brandt Okafor LLP",
    "Sato, Merriweather & Vance LLP": "+1+1 Sato, Merriweather & Vance LLP",
    "Delgado Finch LLP": "-2+3 Delgado Finch LLP",
}
PARTNER_FIRM = RENAMED["Whitcombe & Ames LLP"]
NUMBER = re.compile(r"-?\d+(\.\d+)?")  # a number written by pandas is read as a number, never run


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    work = tmp_path_factory.mktemp("formula_firms")
    env = dict(os.environ, PCR_DATA_DIR=str(work / "var"), PCR_HMAC_KEY_FILE=str(work / "hmac.key"))
    env.pop("PCR_DB", None)
    pcr("samples", "--out", work / "exports", "--motions", "300", "--seed", "3", "--layouts", "canonical",
        "--formats", "csv", env=env)
    renamed = 0
    for path in (work / "exports" / "canonical" / "csv").glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "partner_firm" in frame:
            spelled = frame.partner_firm.str.strip()
            renamed += spelled.isin(list(RENAMED)).sum()
            frame["partner_firm"] = spelled.map(RENAMED).fillna(frame.partner_firm)
            frame.to_csv(path, index=False)
    assert renamed > 100
    db = work / "var" / "pcr.duckdb"
    pcr("run", "--db", db, work / "exports" / "canonical" / "csv", env=env)
    return db


@pytest.fixture
def env(pcr_env, published, monkeypatch, tmp_path):
    monkeypatch.setenv("PCR_DB", str(published))
    monkeypatch.setenv("PCR_ROLES_FILE", str(write_roles(tmp_path / "roles.yml", PARTNER_FIRM.replace('"', '\\"'))))
    monkeypatch.setenv("PCR_GRANTS_FILE", str(PROJECT / "config" / "grants.example.yml"))
    st.config.set_option("server.address", "127.0.0.1")
    Recording.files.clear()
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Recording)
    monkeypatch.setattr(app_test_module, "MediaFileManager", RecordingManager)
    return published


def downloads(user: str, pages: list[str]) -> dict[str, bytes]:
    """Every file the download buttons of ``pages`` offer to ``user``, by page and label."""
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.user = {"is_logged_in": True, "email": user, "email_verified": True}
    at.run()
    files = {}
    for page in pages:
        at.switch_page(f"../dashboards/views/{page}.py").run()
        assert not at.exception, (page, [e.message for e in at.exception])
        files |= {f"{page}: {b.label}": offered(b) for b in at.download_button}
    return files


def formula_cells(name: str, data: bytes) -> list[str]:
    """Cells of a CSV or XLSX download that a spreadsheet would run as a formula."""
    if name.endswith("XLSX"):
        workbook = openpyxl.load_workbook(io.BytesIO(data))
        cells = [c for sheet in workbook for row in sheet.iter_rows() for c in row if c.value is not None]
        return [f"{c.coordinate}={c.value}" for c in cells
                if c.data_type == "f" or (isinstance(c.value, str) and c.value.startswith(FORMULA_STARTS))]
    if name.endswith("PDF"):
        return []
    return [cell for row in csv.reader(io.StringIO(data.decode("utf-8"), newline="")) for cell in row
            if cell.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(cell)]


@pytest.mark.parametrize("user", [MANAGER, PARTNER, FUNDER])
def test_every_download_holds_formula_like_names_as_text(env, user):
    pages = PAGES + ["grant_report"] + (["access_log"] if user == MANAGER else [])
    files = downloads(user, pages)
    assert {"vacaturs", "removal", "time_to_resolution", "partner_firms"} <= {name.split(":")[0] for name in files}
    if user != PARTNER:  # partners get no grant report
        assert {"grant_report: Download CSV", "grant_report: Download XLSX"} <= set(files)
        assert files["grant_report: Download PDF"].startswith(b"%PDF-")  # written when pressed, not with the page
    unsafe = {name: cells[:3] for name, data in files.items() if (cells := formula_cells(name, data))}
    assert not unsafe
    text = b"".join(data for name, data in files.items() if not name.endswith("PDF")).decode("utf-8", "replace")
    # The firms are there, as text: a partner sees its own name; others see every firm.
    expected = [PARTNER_FIRM] if user == PARTNER else list(RENAMED.values())
    for firm in expected:
        assert "'" + firm.split('"')[0] in text or "'" + firm in text, firm


def test_the_one_helper_neutralises_text_only():
    frame = pd.DataFrame({"=label": ["=1+2", "@x", "+y", "-z", "\tTab", "\rCR", "plain", None], "n": [-1, 2, 3, 4, 5, 6, 7, 8]})
    rows = list(csv.reader(io.StringIO(csv_bytes(frame).decode("utf-8"), newline="")))
    assert rows[0] == ["'=label", "n"]
    assert [r[0] for r in rows[1:]] == ["'=1+2", "'@x", "'+y", "'-z", "'\tTab", "'\rCR", "plain", ""]
    assert [r[1] for r in rows[1:]] == ["-1", "2", "3", "4", "5", "6", "7", "8"]  # numbers stay numbers
    assert neutralise("Whitcombe & Ames LLP") == "Whitcombe & Ames LLP"
    # A negative number written as text (a funder's column of numbers and "withheld") is read as a number.
    assert [neutralise(t) for t in ("-2", "-1,234", "-0.5", "-1,2", "-2+3", "-1,234=1")] == ["-2", "-1,234", "-0.5", "'-1,2", "'-2+3", "'-1,234=1"]
