"""End to end in a real browser: `pcr dashboard` (Streamlit on a free 127.0.0.1 port, local
program-manager mode) against a database published by `pcr run`, driven by Playwright on
Debian's Chromium (/usr/bin/chromium; no browser is ever downloaded). Each page is opened,
its key numbers must be visible, no error element may appear, and a screenshot is saved
under tests/artifacts/."""
from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from e2e.support import BROWSER_TESTS, PROJECT, chromium, dashboard_server

ARTIFACTS = PROJECT / "tests" / "artifacts"

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def server(published, tmp_path_factory):
    env = dict(os.environ, PCR_DB=str(published), PCR_DATA_DIR=str(tmp_path_factory.mktemp("browser_var")))
    env.pop("PCR_ROLES_FILE", None)
    env.pop("PCR_SECRETS_FILE", None)
    with dashboard_server(published, tmp_path_factory.mktemp("streamlit") / "server.log", env) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def key_numbers(db: Path) -> dict[str, list[str]]:
    """Text each page must show, read from the marts (formatted as the pages format it)."""
    with duckdb.connect(str(db), read_only=True) as con:
        filed, granted = con.execute("SELECT motions_filed, motions_granted FROM marts.mart_motion_activity "
                                     "WHERE period = 'all' AND dimension = 'all'").fetchone()
        rows_loaded = con.execute("SELECT rows_loaded FROM pipeline.runs ORDER BY finished_at DESC LIMIT 1").fetchone()[0]
    return {
        "": ["Overview", "Motions filed", f"{filed:,}", f"{granted:,}", "Authentication is not configured"],
        "vacaturs": ["Vacaturs by vehicle", "Motions by vehicle and outcome", "Granted relief by vehicle and recognition class"],
        "removal": ["Removal avoided", "Clients by status", "By county"],
        "time_to_resolution": ["Time to resolution", "Medians and 75th percentiles", "Oldest open motions"],
        "partner_firms": ["Partner firms", "Pro bono time", "Firms compared", "Grant rate by firm", "Motion outcomes by firm"],
        "data_quality": ["Data quality", "Last pipeline run", f"{rows_loaded:,}", "Validation results of the last run"],
    }


def test_every_page_renders_in_chromium(server, browser, published):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    for path, expected in key_numbers(published).items():
        page.goto(f"{server}/{path}")
        main = page.locator('[data-testid="stMain"]')
        for text in expected:
            main.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=30_000)
        # Wait until the script run has finished (no running indicator) so the page is complete.
        page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000)
        if path not in ("", "data_quality"):
            page.locator('[data-testid="stPlotlyChart"]').first.wait_for(state="visible", timeout=30_000)
        assert page.locator('[data-testid="stException"]').count() == 0, f"/{path}: an exception is shown"
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0, f"/{path}: an error is shown"
        assert "Traceback" not in main.inner_text()
        page.screenshot(path=str(ARTIFACTS / f"dashboard_{path or 'overview'}.png"), full_page=True)
    page.close()
