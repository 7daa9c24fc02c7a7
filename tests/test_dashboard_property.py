"""Empty is not an error: every dashboard page, for every role and any sidebar filters the app
offers, renders without a traceback, and where nothing matches it says so in a sentence instead
of drawing an empty table.

A real published database (synthetic exports through `pcr run`, the one tests/test_dashboard.py
uses) is read by the real app under AppTest. Hypothesis draws a role (program manager, a partner
firm with cases, a partner firm with no rows at all, a funder), a page and a value for each
sidebar filter from the options the app offers that role; county, firm, vehicle and period drawn
independently make many combinations that match no motion."""
from __future__ import annotations

import re

import duckdb
import pytest
import streamlit as st
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as some
from streamlit.testing.v1 import AppTest

from e2e.support import APP, FUNDER, MANAGER, PARTNER, build_published_db, busiest_firm

# A partner firm spelled in the roles file that has no case in the exports (as the example
# roles file's "Firm A LLP").
EMPTY_FIRM = "Firm A LLP"
EMPTY_PARTNER = "coordinator@firm-a.example"
USERS = {"manager": MANAGER, "partner": PARTNER, "partner_without_rows": EMPTY_PARTNER, "funder": FUNDER}
PAGES = ["overview", "vacaturs", "removal", "time_to_resolution", "partner_firms", "data_quality"]
# Pages whose every section counts motions, so a filter that matches no motion leaves them
# nothing to show but a sentence (removal counts clients, time to resolution is not limited
# to the period, data quality ignores the filters).
MOTION_PAGES = {"overview", "vacaturs", "partner_firms"}
FILTERS = {"Period": "filter_period", "County": "filter_county", "Partner firm": "filter_firm", "Vehicle": "filter_vehicle"}
NOTHING_MATCHES = re.compile(r"^No .*(match these filters|are in the published data)")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    db = build_published_db(tmp_path_factory.getbasetemp() / "dashboard_db", motions=1500)
    with duckdb.connect(str(db), read_only=True) as con:
        assert not con.execute("SELECT count(*) FROM marts.fct_cases WHERE partner_firm = ?", [EMPTY_FIRM]).fetchone()[0]
    return db


@pytest.fixture(scope="module")
def app_env(published, tmp_path_factory):
    firm = busiest_firm(published)
    roles = tmp_path_factory.mktemp("property_roles") / "roles.yml"
    roles.write_text(
        "suppression_threshold: 11\nusers:\n"
        f"  {MANAGER}: {{role: program_manager}}\n"
        f"  {PARTNER}: {{role: partner, firm: \"{firm}\"}}\n"
        f"  {EMPTY_PARTNER}: {{role: partner, firm: \"{EMPTY_FIRM}\"}}\n"
        f"  {FUNDER}: {{role: funder}}\n",
        encoding="utf-8",
    )
    settings = {"db": published, "roles": roles, "firms": {"partner": firm, "partner_without_rows": EMPTY_FIRM}}
    with pytest.MonkeyPatch.context() as mp:  # for the module's own fixtures (offered)
        use(settings, mp)
        yield settings


def use(settings: dict, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("PCR_DB", str(settings["db"]))
    mp.setenv("PCR_ROLES_FILE", str(settings["roles"]))
    st.config.set_option("server.address", "127.0.0.1")


@pytest.fixture
def env(app_env, pcr_env, monkeypatch):
    """The app's settings again after conftest's per-test environment has cleared PCR_DB."""
    use(app_env, monkeypatch)
    return app_env


def run_page(role: str, page: str, state: dict[str, str]) -> AppTest:
    """A new session of ``role`` opening ``page`` with these sidebar values."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.user = {"is_logged_in": True, "email": USERS[role], "email_verified": True}
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(f"views/{page}.py")
    return at.run()


@pytest.fixture(scope="module")
def offered(app_env) -> dict[str, dict[str, list[str]]]:
    """The sidebar's options for each role, as the app draws them."""
    options = {}
    for role in USERS:
        at = run_page(role, "overview", {})
        assert not at.exception, [e.message for e in at.exception]
        options[role] = {box.label: list(box.options) for box in at.sidebar.selectbox if box.label in FILTERS}
    assert options["partner_without_rows"] == {"Period": ["All time"], "County": ["All"], "Vehicle": ["All"]}
    assert len(options["manager"]["County"]) > 10 and len(options["funder"]["Vehicle"]) > 10
    return options


def matching_motions(db, firm: str | None, state: dict[str, str]) -> int:
    """Motions of the scope filed or decided in the period under the chosen filters, counted
    straight from the fact table."""
    conditions, params = ["true"], []
    for column, value in (("partner_firm", firm), ("county", state.get("filter_county")),
                          ("partner_firm", state.get("filter_firm")), ("vehicle", state.get("filter_vehicle"))):
        if value not in (None, "All"):
            conditions.append(f"{column} = ?")
            params.append(value)
    period = state.get("filter_period", "All time")
    if period != "All time":
        conditions.append("(starts_with(filing_quarter, ?) OR starts_with(decision_quarter, ?))")
        params += [period, period]
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM marts.fct_motions WHERE {' AND '.join(conditions)}", params).fetchone()[0]


def assert_renders(at: AppTest, page: str) -> list[str]:
    """No traceback, no error, something on the page, and no table that holds only a Total."""
    assert not at.exception, f"{page}: {[e.message for e in at.exception]}"
    assert not at.error, f"{page}: {[e.value for e in at.error]}"
    sentences = [i.value for i in at.info]
    assert at.dataframe or at.metric or sentences, f"{page}: nothing on the page"
    for shown in at.dataframe:
        frame = shown.value
        assert len(frame.columns) and (frame.iloc[:, 0].astype(str) != "Total").any(), f"{page}: an empty table instead of a sentence"
    return sentences


# No shrinking: at about a second per page run it took minutes; the failing draws are printed as drawn.
@settings(max_examples=50, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=some.data())
def test_no_page_raises_for_any_role_and_sidebar_filters(env, offered, data):
    role = data.draw(some.sampled_from(list(USERS)), label="role")
    page = data.draw(some.sampled_from(PAGES), label="page")
    state = {}
    for label, options in offered[role].items():
        # Half the draws leave a filter at its default, so scopes that match something come up too.
        state[FILTERS[label]] = data.draw(some.one_of(some.just(options[0]), some.sampled_from(options)), label=label)
    at = run_page(role, page, state)
    sentences = assert_renders(at, page)
    if page in MOTION_PAGES and not matching_motions(env["db"], env["firms"].get(role), state):
        assert [s for s in sentences if NOTHING_MATCHES.match(s)], f"{page}: no sentence says nothing matches: {sentences}"


def pair_without_motions(db, firm: str | None, options: dict[str, list[str]]) -> tuple[str, str]:
    """A county and a vehicle the sidebar offers with no motion of that vehicle in that county
    (as Colusa and PC 236.15 in the bundled samples)."""
    with duckdb.connect(str(db), read_only=True) as con:
        present = set(con.execute("SELECT DISTINCT county, vehicle FROM marts.fct_motions WHERE ? IS NULL OR partner_firm = ?",
                                  [firm, firm]).fetchall())
    return next((c, v) for c in options["County"][1:] for v in options["Vehicle"][1:] if (c, v) not in present)


@pytest.mark.parametrize("role", ["manager", "partner", "funder"])
def test_an_offered_county_and_vehicle_that_never_meet_give_sentences(env, offered, role):
    county, vehicle = pair_without_motions(env["db"], env["firms"].get(role), offered[role])
    state = {"filter_county": county, "filter_vehicle": vehicle}
    for page in PAGES:
        sentences = assert_renders(run_page(role, page, state), page)
        if page in MOTION_PAGES:
            assert any(NOTHING_MATCHES.match(s) and f"county {county}" in s and f"vehicle {vehicle}" in s for s in sentences), (
                page, sentences)


def test_a_partner_firm_with_no_rows_reads_sentences_on_every_page(env):
    for page in PAGES:
        sentences = assert_renders(run_page("partner_without_rows", page, {}), page)
        if page == "data_quality":
            assert sentences == ["Data quality covers every firm's exports, so it is shown to program managers only."]
        else:
            assert any(NOTHING_MATCHES.match(s) and EMPTY_FIRM in s for s in sentences), (page, sentences)
