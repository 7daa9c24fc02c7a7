"""Real sign-in in a real browser: `pcr dashboard` with st.login configured against a local
OpenID Connect provider (oidc-provider-mock, started here), driven by Playwright on Debian's
Chromium. Each identity signs in through the provider's own pages, as a person would, and
must see exactly its role's scope: a program manager everything (and a preview of a partner
firm), a partner firm its own cases, a funder suppressed aggregates and its grant, and an
identity with no role, an address the provider did not verify, and a partner whose firm
matches no case a clear page. No page may show a traceback.

One provider and one dashboard server for the module (tests/e2e/conftest.py); each identity
gets a fresh browser context (its own cookies)."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from access import access_log
from access.disclosure import legend
from e2e.support import (BROWSER_TESTS, FUNDER, IMPOSTOR, MANAGER, NOBODY, PARTNER, PROJECT, UNKNOWN_FIRM, UNKNOWN_FIRM_PARTNER,
                         sign_in)

ARTIFACTS = PROJECT / "tests" / "artifacts"

pytestmark = BROWSER_TESTS


def motions_filed(db: Path, firm: str | None = None) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        n = con.execute("SELECT motions_filed FROM marts.mart_motion_activity WHERE period = 'all' AND dimension = ? "
                        "AND dimension_value = ?", ["partner_firm", firm] if firm else ["all", "all"]).fetchone()[0]
    return f"{n:,}"


def main_text(page, *expected: str) -> str:
    main = page.locator('[data-testid="stMain"]')
    try:
        for text in expected:
            main.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=60_000)
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "login_failure.png"), full_page=True)  # what the page showed instead
        raise
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0, "an exception is shown"
    body = page.locator("body").inner_text()
    assert "Traceback" not in body
    return main.inner_text()


def metric(page, label: str) -> str:
    tile = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return tile.locator('[data-testid="stMetricValue"]').inner_text()


def sidebar(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def choose(page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option).click()


def test_a_program_manager_signs_in_sees_everything_and_previews_a_partner(browser, site):
    page = sign_in(browser, site, MANAGER)
    main_text(page, "Overview", "Motions filed")
    assert metric(page, "Motions filed") == motions_filed(site["db"])
    assert f"Signed in as {MANAGER} — program manager" in sidebar(page)
    assert "Access log" in sidebar(page) and "Authentication is not configured" not in page.locator("body").inner_text()

    choose(page, "Preview as", f"Partner firm: {site['firm']}")
    shown = main_text(page, "Preview: you", f"partner firm {site['firm']}")
    page.get_by_text(motions_filed(site["db"], site["firm"]), exact=True).first.wait_for(timeout=60_000)
    assert metric(page, "Motions filed") == motions_filed(site["db"], site["firm"])
    assert "Access log" not in sidebar(page), "a preview shows the partner's pages only"
    assert "Preview:" in shown
    page.screenshot(path=str(ARTIFACTS / "login_manager_preview_partner.png"), full_page=True)

    page.goto(f"{site['url']}/access_log")
    main_text(page, "Access log", "By person and event")
    page.context.close()
    entries = access_log.read(site["access_log"])
    mine = entries[entries.who == MANAGER]
    assert {"page"} <= set(mine.event) and (mine.role == "program_manager").all()
    assert (mine.viewing_as == f"partner: partner firm {site['firm']} (its own cases only)").any()


def test_a_partner_signs_in_and_sees_its_own_firm_only(browser, site):
    page = sign_in(browser, site, PARTNER)
    main_text(page, "Overview", "Motions filed")
    assert metric(page, "Motions filed") == motions_filed(site["db"], site["firm"])
    assert f"Partner firm: {site['firm']} (your firm only)" in sidebar(page)
    assert "Access log" not in sidebar(page) and "Preview as" not in sidebar(page)
    page.goto(f"{site['url']}/partner_firms")
    main_text(page, "Partner firms", "Pro bono time")
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for(state="visible", timeout=60_000)
    shown = page.evaluate("document.body.textContent")  # table cells and chart labels too
    assert site["firm"] in shown
    with duckdb.connect(str(site["db"]), read_only=True) as con:
        others = [f for (f,) in con.execute("SELECT DISTINCT partner_firm FROM marts.fct_cases WHERE partner_firm <> ?",
                                            [site["firm"]]).fetchall()]
    assert others and not [f for f in others if f in shown], "another firm's name is on the partner's page"
    page.context.close()


def test_a_funder_signs_in_and_sees_suppressed_aggregates_and_its_grant(browser, site):
    page = sign_in(browser, site, FUNDER)
    shown = main_text(page, "Overview", "Motions filed")
    assert metric(page, "Motions filed") == motions_filed(site["db"])  # a large total is shown as is
    assert legend(11)[0] in shown
    page.goto(f"{site['url']}/grant_report")
    main_text(page, "Grant reports", "Deliverables", "Download CSV")
    assert page.get_by_role("combobox", name="Grant", exact=True).input_value().startswith("CBF-2025-PCR")
    page.context.close()


@pytest.mark.parametrize("subject, message", [
    (NOBODY, f"No role is assigned to {NOBODY}"),
    (IMPOSTOR, f"Your identity provider has not verified the e-mail address {MANAGER}"),
])
def test_identities_without_a_role_or_a_verified_address_get_a_clear_page_and_no_data(browser, site, subject, message):
    page = sign_in(browser, site, subject)
    main_text(page, message)
    assert page.locator('[data-testid="stMetric"]').count() == 0 and page.locator('[data-testid="stDataFrame"]').count() == 0
    assert page.locator('[data-testid="stSidebar"]').count() == 0 or "Motions" not in sidebar(page)
    page.get_by_role("button", name="Log out").wait_for(timeout=30_000)
    page.context.close()


def test_a_partner_whose_firm_matches_no_case_is_told_so(browser, site):
    page = sign_in(browser, site, UNKNOWN_FIRM_PARTNER)
    main_text(page, f"No case of {UNKNOWN_FIRM} is in the published data", f"of {UNKNOWN_FIRM} are in the published data")
    assert f"Partner firm: {UNKNOWN_FIRM} (your firm only)" in sidebar(page)
    page.context.close()
