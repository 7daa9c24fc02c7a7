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
        "time_to_resolution": ["Time to resolution", "Medians with their 95% intervals, and 75th percentiles", "Oldest open motions"],
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


def test_data_docs_open_from_the_app_and_render_with_the_network_blocked(server, browser, published):
    """The Data Docs page serves the last run's Great Expectations pages inside the app: with every
    request to anything but the app refused, the validation table is filled (one row per
    validation) and nothing was asked of another host."""
    with duckdb.connect(str(published), read_only=True) as con:
        (validations,) = con.execute("SELECT count(DISTINCT suite || '.' || dataset) FROM pipeline.validation_results "
                                     "WHERE run_id = (SELECT run_id FROM pipeline.runs ORDER BY finished_at DESC LIMIT 1)").fetchone()
    context = browser.new_context(viewport={"width": 1400, "height": 1600})
    elsewhere: list[str] = []

    def only_the_app(route):
        if route.request.url.startswith(server) or route.request.url.startswith(("about:", "data:", "blob:")):
            route.continue_()
        else:
            # The app's own favicon (a Material icon) comes from Google's font server: refused like
            # the rest, but only what the Data Docs' frame asks for is theirs.
            if route.request.frame.parent_frame is not None:
                elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_app)
    page = context.new_page()
    page.goto(f"{server}/data_docs")
    page.locator('[data-testid="stMain"]').get_by_text("Data Docs", exact=True).first.wait_for(state="visible", timeout=60_000)
    docs = page.frame_locator('[data-testid="stMain"] iframe').first
    rows = docs.locator("#section-1-content-block-2-1-body-table tbody tr")
    rows.first.wait_for(state="visible", timeout=60_000)
    assert rows.count() == validations
    assert "privacy.mart_columns" in docs.locator("body").inner_text()  # the asset names the script would have written
    assert elsewhere == [], f"the Data Docs asked for {elsewhere[:5]}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard_data_docs.png"), full_page=True)
    context.close()
