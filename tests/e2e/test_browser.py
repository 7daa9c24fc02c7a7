"""Every page for every role, end to end in a real browser: `pcr dashboard` with sign-in (a
local OpenID Connect provider, tests/e2e/conftest.py) against a database published by `pcr run`,
driven by Playwright on Debian's Chromium (/usr/bin/chromium; no browser is ever downloaded).

Each role signs in for real (program manager, partner firm, funder with a grant, funder with no
grant) and opens every page its sidebar offers, once, as a person does (clicking the sidebar).
On each page: its key text is visible, no error or exception is shown, no raw column name, code
or "None" is on it (tables and chart labels included), no tile's label or number is cut off,
and nothing was asked of any host but the app and the sign-in provider (a favicon or font from
the internet would be). A full-page screenshot of each is saved as
tests/artifacts/<role>_<page>.png for a person to look at."""
from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from e2e.support import (BROWSER_TESTS, FUNDER, FUNDER_WITHOUT_GRANT, MANAGER, PARTNER, PROJECT, RAW_CELLS, RAW_NAME,
                         raw_codes, sign_in)
from reports import vocabulary

ARTIFACTS = PROJECT / "tests" / "artifacts"
ROLES = {"program_manager": MANAGER, "partner_firm": PARTNER, "funder": FUNDER, "funder_without_grant": FUNDER_WITHOUT_GRANT}
# The pages each role's sidebar offers (app.py's PAGES, and MANAGER_PAGES for program managers).
SHARED_PAGES = ["Overview", "Vacaturs by vehicle", "Removal avoided", "Time to resolution", "Partner firms", "Data quality",
                "Grant reports"]
OFFERED = {"program_manager": [*SHARED_PAGES, "Access log", "Data Docs"], "partner_firm": SHARED_PAGES,
           "funder": SHARED_PAGES, "funder_without_grant": SHARED_PAGES}
# A funder with no grant sees what a funder with one sees everywhere but on the Grant reports page.
VISITED = {**OFFERED, "funder_without_grant": ["Grant reports"]}
# A name that looks like a code inside a line of text (file names and paths are allowed: a
# program manager is told which file to edit).
EMBEDDED_NAME = re.compile(r"(?<![\w./-])[a-z0-9]+(?:_[a-z0-9]+)+(?![\w/-]|\.\w)")
EMPTY_CELL = re.compile(r"(?<!\w)(None|nan|NaN|NaT|<NA>|__none__)(?!\w)")

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def codes(published):
    return raw_codes(vocabulary.read(published).vocabulary())


def key_text(db: Path, role: str) -> dict[str, list[str]]:
    """Text a page must show for ``role``, some read from the marts (formatted as the pages format it)."""
    with duckdb.connect(str(db), read_only=True) as con:
        filed, granted = con.execute("SELECT motions_filed, motions_granted FROM marts.mart_motion_activity "
                                     "WHERE period = 'all' AND dimension = 'all'").fetchone()
        rows_loaded = con.execute("SELECT rows_loaded FROM pipeline.runs ORDER BY finished_at DESC LIMIT 1").fetchone()[0]
    shown = {
        "Overview": ["Motions filed"],
        "Vacaturs by vehicle": ["Motions by vehicle and outcome", "Granted relief by vehicle and recognition class"],
        "Removal avoided": ["Clients by status"],
        "Time to resolution": ["Medians with their 95% intervals, and 75th percentiles"],
        "Partner firms": ["Pro bono time"],
        "Data quality": {"program_manager": ["Last pipeline run", f"{rows_loaded:,}"],
                         "partner_firm": ["shown to program managers only"]}.get(role, ["Quarantined rows by export"]),
        "Grant reports": {"program_manager": ["Deliverables", "Download CSV"], "funder": ["Deliverables", "Download CSV"],
                          "partner_firm": ["available to program managers and funders"],
                          "funder_without_grant": [f"No grant is linked to your sign-in ({FUNDER_WITHOUT_GRANT})"]}[role],
        "Access log": ["By person and event"],
        "Data Docs": [],
    }
    if role == "program_manager":
        shown["Overview"] += [f"{filed:,}", f"{granted:,}"]
        shown["Time to resolution"].append("Oldest open motions")
        shown["Partner firms"] += ["Firms compared", "Grant rate by firm", "Motion outcomes by firm"]
    if role == "funder":
        shown["Overview"].append(f"{filed:,}")  # a large total is shown as is
    return shown


def raw_words(text: str, codes: set[str]) -> list[str]:
    """What in a page's text is a raw name, a code or an empty cell printed by pandas."""
    found = []
    for line in filter(None, (part.strip() for part in re.split(r"[\n\t]", text))):
        if RAW_NAME.match(line) or line in codes or line in RAW_CELLS:
            found.append(line)
        else:
            found += [f"{word!r} in {line[:80]!r}" for word in EMBEDDED_NAME.findall(line) + EMPTY_CELL.findall(line)]
    return found


def page_text(page) -> str:
    """The main area's text as read, and the text of table cells and chart labels, one per line;
    without the names of icons (an icon is drawn from its name's ligature: keyboard_arrow_down)."""
    return page.evaluate("""() => {
        const main = document.querySelector('[data-testid="stMain"]');
        const icons = new Set([...main.querySelectorAll('[data-testid="stIconMaterial"]')].map(e => e.textContent.trim()));
        const parts = main.innerText.split('\\n').filter(line => !icons.has(line.trim()));
        main.querySelectorAll('[data-testid="stDataFrame"] [role="columnheader"], [data-testid="stDataFrame"] td, '
                              + '[data-testid="stPlotlyChart"] svg text').forEach(e => parts.push(e.textContent));
        return parts.join('\\n');
    }""")


def cut_off(page) -> list[str]:
    """Tile labels and values, headings and captions whose text is wider than their box (ellipsis)."""
    return page.evaluate("""() => [...document.querySelectorAll(
            '[data-testid="stMain"] [data-testid="stMetricLabel"] *, [data-testid="stMain"] [data-testid="stMetricValue"] *, '
            + '[data-testid="stMain"] h1, [data-testid="stMain"] h2, [data-testid="stMain"] h3')]
        .filter(e => e.children.length === 0 && e.scrollWidth > e.clientWidth + 1)
        .map(e => e.textContent)""")


def wait_until_drawn(page) -> None:
    """The script run is over (no running indicator) and every chart has been drawn."""
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                               .every(c => c.querySelector('.main-svg'))
                           && !document.querySelector('[data-testid="stMain"] [data-testid="stSkeleton"]')""", timeout=60_000)
    # Tables and charts paint after they are in the page (a canvas, plotly's drawing).
    page.wait_for_timeout(300)


def screenshot(page, path: Path) -> None:
    """The whole page: the app scrolls inside its main area, so the window is made as tall as
    what it holds for the picture, then set back."""
    size = page.viewport_size
    height = page.evaluate("""() => Math.max(document.querySelector('[data-testid="stMain"]').scrollHeight,
                                             document.querySelector('[data-testid="stSidebarContent"]')?.scrollHeight || 0)""")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    wait_until_drawn(page)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


def data_docs_checks(page, db: Path) -> str:
    """The Data Docs page serves the last run's Great Expectations pages inside the app: the
    validation table is filled (one row per validation); their text, for the page's checks."""
    with duckdb.connect(str(db), read_only=True) as con:
        (validations,) = con.execute("SELECT count(DISTINCT suite || '.' || dataset) FROM pipeline.validation_results "
                                     "WHERE run_id = (SELECT run_id FROM pipeline.runs ORDER BY finished_at DESC LIMIT 1)").fetchone()
    docs = page.frame_locator('[data-testid="stMain"] iframe').first
    rows = docs.locator("#section-1-content-block-2-1-body-table tbody tr")
    rows.first.wait_for(state="visible", timeout=60_000)
    assert rows.count() == validations
    text = docs.locator("body").inner_text()
    # A link that wraps (a long validation's name in a narrow column) breaks between words, never inside one.
    broken = docs.locator("body").evaluate("""body => [...body.querySelectorAll('a')].flatMap(a => {
        const node = [...a.childNodes].find(n => n.nodeType === Node.TEXT_NODE);
        if (!node) return [];
        const text = node.textContent;
        let last = null;  // the last character drawn: its index and the top of its line
        for (let i = 0; i < text.length; i++) {
            const range = document.createRange();
            range.setStart(node, i);
            range.setEnd(node, i + 1);
            const box = range.getBoundingClientRect();
            if (!box.width || /\\s/.test(text[i])) continue;  // a space: where a line may end (or after a hyphen)
            const between = text.slice(last ? last.i + 1 : 0, i);
            if (last && box.top > last.top + 2 && !/\\s/.test(between) && text[last.i] !== '-') return [text.trim()];
            last = {i, top: box.top};
        }
        return [];
    })""")
    assert broken == [], f"links broken inside a word: {broken[:5]}"
    assert "privacy: published table columns" in text  # a validation in the app's words, not privacy.mart_columns
    return text


@pytest.mark.parametrize("role", ROLES)
def test_every_page_a_role_is_offered_renders_plainly_and_stays_local(browser, site, codes, role):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    elsewhere: list[str] = []

    def only_the_app(route):
        # The provider's own pages stand in for a real identity provider's, styles from the internet included.
        from_provider = route.request.frame.url.startswith(site["provider"])
        if from_provider or route.request.url.startswith((site["url"], site["provider"], "about:", "data:", "blob:")):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_app)
    page = sign_in(browser, site, ROLES[role], context=context)
    nav = page.locator('[data-testid="stSidebarNav"] a')
    nav.first.wait_for(state="visible", timeout=60_000)
    # A link's text is its icon's name (a ligature) and its title.
    assert [a.inner_text().strip().splitlines()[-1] for a in nav.all()] == OFFERED[role]
    expected = key_text(site["db"], role)
    problems = []
    for title in VISITED[role]:
        nav.nth(OFFERED[role].index(title)).click()
        main = page.locator('[data-testid="stMain"]')
        main.locator("h1").filter(has_text=title).first.wait_for(state="visible", timeout=60_000)
        for text in expected[title]:
            main.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=60_000)
        wait_until_drawn(page)
        where = f"{role}: {title}"
        assert page.locator('[data-testid="stException"]').count() == 0, f"{where}: an exception is shown"
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0, f"{where}: an error is shown"
        text = page_text(page)
        if title == "Data Docs":
            text += "\n" + data_docs_checks(page, site["db"])
            assert "Subscribe" not in text, "Great Expectations' newsletter"
        assert "Traceback" not in text
        problems += [f"{where}: {word}" for word in raw_words(text, codes)]
        problems += [f"{where}: cut off {label!r}" for label in cut_off(page)]
        slug = title.lower().replace(" ", "_")
        screenshot(page, ARTIFACTS / f"{role}_{slug}.png")
    context.close()
    assert not problems, "\n".join(problems)
    assert elsewhere == [], f"asked of other hosts: {sorted(set(elsewhere))[:5]}"
