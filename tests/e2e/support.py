"""A real published database for the dashboard tests and the benchmark: synthetic exports
(`pcr samples`) through the real pipeline (`pcr run`: ingest, dbt build, Great Expectations,
publish), built once per test session, and a roles file with one identity per role."""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

PROJECT = Path(__file__).resolve().parents[2]
APP = PROJECT / "pcr" / "dashboard_app.py"  # the Streamlit script; pages are ../dashboards/views/ from it
PAGES = ["overview", "vacaturs", "removal", "time_to_resolution", "partner_firms", "data_quality"]
MANAGER, FUNDER, NOBODY = "pm@example.org", "grants@foundation.example", "stranger@example.org"
PARTNER = "probono@firm.example"
FUNDER_WITHOUT_GRANT = "board@trust.example"  # a funder the roles file links to no grant
UNKNOWN_FIRM, UNKNOWN_FIRM_PARTNER = "Firm A LLP", "coordinator@firm-a.example"  # a firm with no case
IMPOSTOR = "impostor"  # the sign-in provider's account claiming MANAGER's address, unverified
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright never downloads a browser here
# Every browser test module's marks: `pytestmark = BROWSER_TESTS`.
BROWSER_TESTS = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium)"),
]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


# What a person must never read on a page: a column name or code (km_median_days, none_yet) and
# what pandas prints for an empty cell.
RAW_NAME = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
RAW_CELLS = frozenset({"None", "nan", "NaN", "NaT", "<NA>", "(none)", "none", "all"})


def raw_codes(words) -> set[str]:
    """The codes and column names the vocabulary has a label for (``words``: reports.vocabulary.Vocabulary)."""
    from reports import vocabulary

    return {c for c in [*vocabulary.TERMS, *vocabulary.COLUMNS, *words.classes.short_labels] if "_" in c}


def pcr(*argv: str | Path, env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-m", "pcr.cli", *map(str, argv)], env=env, cwd=PROJECT,
                            capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"pcr {' '.join(map(str, argv))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def build_published_db(work: Path, motions: int, seed: int = 7, full_pipeline: bool = True) -> Path:
    """Generate exports and publish them; reuses a database already built in ``work``."""
    db = work / "var" / "pcr.duckdb"
    if db.exists():
        return db
    env = dict(os.environ, PCR_DATA_DIR=str(work / "var"), PCR_HMAC_KEY_FILE=str(work / "hmac.key"))
    env.pop("PCR_DB", None)
    pcr("samples", "--out", work / "exports", "--motions", str(motions), "--seed", str(seed),
        "--layouts", "canonical", "--formats", "csv", env=env)
    if full_pipeline:
        pcr("run", "--db", db, work / "exports" / "canonical" / "csv", env=env)
    else:  # large benchmark data: skip the Great Expectations stage
        pcr("ingest", "--db", db, work / "exports" / "canonical" / "csv", env=env)
        pcr("build", "--db", db, env=env)
    return db


def busiest_firm(db: Path) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT partner_firm FROM marts.fct_cases WHERE partner_firm IS NOT NULL "
                           "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0]


def write_roles(path: Path, firm: str, threshold: int = 11, funder_grants: tuple[str, ...] = ("CBF-2025-PCR",)) -> Path:
    """The funder is linked to ``funder_grants`` (ids of config/grants.example.yml)."""
    path.write_text(
        f"suppression_threshold: {threshold}\nusers:\n"
        f"  {MANAGER}: {{role: program_manager}}\n"
        f"  {PARTNER}: {{role: partner, firm: \"{firm}\"}}\n"
        f"  {FUNDER}: {{role: funder, grants: [{', '.join(funder_grants)}]}}\n",
        encoding="utf-8",
    )
    return path


class Recording(MemoryMediaFileStorage):
    """Keeps what each download button offers (AppTest drops its media store after a run):
    patch it over streamlit.testing.v1.app_test.MemoryMediaFileStorage, then read
    ``Recording.files[button.proto.url]``."""

    files: dict[str, bytes] = {}

    def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
        file_id = super().load_and_get_id(path_or_data, mimetype, kind, filename)
        Recording.files[self.get_url(file_id)] = bytes(path_or_data)
        return file_id


class RecordingManager(MediaFileManager):
    """Keeps the callable of each download button whose file is written only when pressed: patch
    it over streamlit.testing.v1.app_test.MediaFileManager, then read ``offered(button)``."""

    deferred: dict[str, object] = {}

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, *, element_id=""):
        file_id = super().add_deferred(data_callable, mimetype, coordinates, file_name, element_id=element_id)
        RecordingManager.deferred[file_id] = data_callable
        return file_id


def offered(button) -> bytes:
    """The file a download button gives: kept by Recording, or written now, as a press would."""
    if button.proto.url:
        return Recording.files[button.proto.url]
    data = RecordingManager.deferred[button.proto.deferred_file_id]()
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def open_page(at: AppTest, page: str, **state) -> AppTest:
    """Switch an AppTest to a dashboard page with these session-state values; it must not raise."""
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(f"../dashboards/views/{page}.py").run()
    assert not at.exception, f"{page}: {[e.message for e in at.exception]}"
    return at


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serving(url: str) -> bool:
    """Streamlit's health endpoint answers "ok" (never through a proxy)."""
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f"{url}/_stcore/health", timeout=2) as r:
            return r.read() == b"ok"
    except OSError:
        return False


@contextlib.contextmanager
def dashboard_server(db: Path, log: Path, env: dict[str, str], port: int | None = None) -> Iterator[str]:
    """`pcr dashboard` on a free 127.0.0.1 port, as a user starts it; its URL once it serves.
    Stopped at the end with SIGTERM to the command, as a service manager stops it."""
    port = port or free_port()
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "pcr.cli", "dashboard", "--port", str(port), "--db", str(db)],
                                   cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not serving(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the dashboard did not start:\n{log.read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def sign_in(browser, site: dict, subject: str, path: str = "", context=None):
    """A browser session (a new one unless ``context`` is given) signs in as ``subject`` on the
    provider's page; the app's page after it."""
    context = context or browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.goto(f"{site['url']}/{path}")
    page.get_by_role("button", name="Log in").click(timeout=60_000)
    page.locator(f'button[name="sub"][value="{subject}"]').click(timeout=30_000)  # the provider's sign-in page
    page.wait_for_url(f"{site['url']}/**", timeout=30_000)
    return page


@contextlib.contextmanager
def chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
