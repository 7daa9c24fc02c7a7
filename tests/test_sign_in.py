"""Sign-in rules, Preview as a role and the access log, on the real app (AppTest) and a real
published database (synthetic exports through `pcr run`).

An identity counts only with an e-mail address its provider verified; the roles file can make
that stricter, never looser. A program manager previewing a partner firm or a funder sees
exactly what that role sees, page by page; nobody else can preview. Every page opened and
every download is in the access log with role and scope and nothing about clients, and a log
that cannot be written stops the app instead of leaving gaps."""
from __future__ import annotations

import json
import re

import duckdb
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from access import access_log
from access.scope import AccessDenied, Role, UnverifiedEmail, load_roles, preview_choices, preview_scope, scope_for
from dashboards.session import PREVIEW_KEY
from e2e.support import APP, FUNDER, MANAGER, NOBODY, PAGES, PARTNER, build_published_db, busiest_firm, write_roles

UNKNOWN_FIRM, UNKNOWN_FIRM_PARTNER = "Firm A LLP", "coordinator@firm-a.example"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return build_published_db(tmp_path_factory.getbasetemp() / "dashboard_db", motions=1500)


@pytest.fixture(scope="module")
def firm(published):
    return busiest_firm(published)


@pytest.fixture
def env(pcr_env, published, firm, monkeypatch, tmp_path):
    roles = write_roles(tmp_path / "roles.yml", firm)
    with roles.open("a", encoding="utf-8") as f:
        f.write(f'  {UNKNOWN_FIRM_PARTNER}: {{role: partner, firm: "{UNKNOWN_FIRM}"}}\n')
    monkeypatch.setenv("PCR_DB", str(published))
    monkeypatch.setenv("PCR_ROLES_FILE", str(roles))
    st.config.set_option("server.address", "127.0.0.1")
    return {"db": published, "firm": firm, "roles": roles, "log": pcr_env / "var" / "access_log.jsonl"}


def session(user: dict | str | None, page: str = "overview", **state) -> AppTest:
    """A new browser session of ``user`` (an e-mail with a verified address, or the claims as
    st.user holds them) opening ``page`` with these session-state values."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    if isinstance(user, str):
        at.user = {"is_logged_in": True, "email": user, "email_verified": True}
    elif user is not None:
        at.user = user
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(f"../dashboards/views/{page}.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def shown(at: AppTest) -> dict:
    """Everything a page shows that holds a number: tiles, tables, and the sentences."""
    return {
        "metrics": [(m.label, m.value) for m in at.metric],
        "tables": [d.value.reset_index(drop=True).to_json() for d in at.dataframe],
        "info": [i.value for i in at.info],
        "captions": [c.value for c in at.caption if not c.value.startswith("Signed in as")],
    }


def no_data(at: AppTest) -> bool:
    return not (at.dataframe or at.metric or at.get("plotly_chart") or at.download_button or at.selectbox)


# --- a verified address ------------------------------------------------------------------------

@pytest.mark.parametrize("claims", [
    {"is_logged_in": True, "email": MANAGER},  # the provider says nothing
    {"is_logged_in": True, "email": MANAGER, "email_verified": False},
    {"is_logged_in": True, "email": MANAGER, "email_verified": "true"},  # a string is not the boolean true
])
def test_an_address_the_provider_did_not_verify_gets_no_role(env, claims):
    roles = load_roles(env["roles"])
    with pytest.raises(UnverifiedEmail, match=f"not verified the e-mail address {MANAGER}"):
        scope_for(claims, roles, "127.0.0.1")
    at = session(claims)
    assert "has not verified the e-mail address" in at.error[0].value and no_data(at)
    assert [b.label for b in at.button] == ["Log out"]
    entry = access_log.read(env["log"]).iloc[-1]
    assert (entry["who"], entry["role"], entry["event"], entry["item"]) == (MANAGER, "none", "refused", "e-mail not verified")


def test_the_roles_file_can_only_make_sign_in_stricter(tmp_path):
    path = tmp_path / "roles.yml"
    path.write_text("login:\n  email_domains: [example.org]\nusers:\n"
                    f"  {MANAGER}: {{role: program_manager}}\n  {FUNDER}: {{role: funder}}\n")
    roles = load_roles(path)
    assert scope_for({"is_logged_in": True, "email": MANAGER, "email_verified": True}, roles, None).role is Role.PROGRAM_MANAGER
    with pytest.raises(AccessDenied, match="foundation.example addresses is not accepted"):
        scope_for({"is_logged_in": True, "email": FUNDER, "email_verified": True}, roles, None)
    for relaxing in ("require_email_verified: false", "email_verified: optional"):
        path.write_text(f"login:\n  {relaxing}\nusers: {{}}\n")
        with pytest.raises(ValueError, match=f"{path}: login: unknown key.*cannot be turned off"):
            load_roles(path)


def test_an_identity_without_a_role_is_refused_and_logged(env):
    at = session(NOBODY)
    assert f"No role is assigned to {NOBODY}" in at.error[0].value and no_data(at)
    log = access_log.read(env["log"])
    assert list(log[["who", "role", "event"]].itertuples(index=False, name=None)) == [(NOBODY, "none", "refused")]


# --- a partner whose firm matches no case --------------------------------------------------------

def test_a_partner_whose_firm_matches_no_case_is_told_so_and_the_manager_sees_why(env):
    for page in PAGES:
        at = session(UNKNOWN_FIRM_PARTNER, page)
        assert not at.error and f"No case of **{UNKNOWN_FIRM}** is in the published data" in at.warning[0].value, page
        assert not at.metric and not at.dataframe, page
    assert not [w for w in session(PARTNER).warning]  # a firm with cases gets no such notice
    manager = session(MANAGER, "access_log")
    assert any(UNKNOWN_FIRM in w.value and env["firm"] in w.value for w in manager.warning)


# --- Preview as a role ------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["partner", "funder"])
def test_a_program_manager_previewing_a_role_sees_exactly_what_it_sees(env, role):
    choice, user = (f"partner:{env['firm']}", PARTNER) if role == "partner" else (f"funder:{FUNDER}", FUNDER)
    # A funder's pages solve suppression on every table (seconds each): three of them suffice.
    for page in PAGES if role == "partner" else ["overview", "removal", "partner_firms"]:
        preview = session(MANAGER, page, **{PREVIEW_KEY: choice})
        real = session(user, page)
        assert shown(preview) == shown(real), page
        assert preview.warning[0].value.startswith(f"Preview: you ({MANAGER}) are seeing what")
        assert [s.label for s in preview.sidebar.selectbox][0] == "Preview as"
        assert [s.label for s in preview.sidebar.selectbox][1:] == [s.label for s in real.sidebar.selectbox]
    if role == "partner":  # the partner's numbers are not the program's
        assert shown(session(MANAGER))["metrics"] != shown(session(PARTNER))["metrics"]


def test_only_a_program_manager_can_preview_and_never_more_than_the_role(env):
    roles = load_roles(env["roles"])
    manager = scope_for({"is_logged_in": True, "email": MANAGER, "email_verified": True}, roles, None)
    firms = sorted({env["firm"], "Other LLP", UNKNOWN_FIRM})  # of the data, and of the roles file
    assert preview_choices(manager, [env["firm"], "Other LLP"], roles) == [
        "", *[f"partner:{f}" for f in firms], "funder:", f"funder:{FUNDER}"]
    funder = preview_scope(manager, f"funder:{FUNDER}", roles)
    assert (funder.role, funder.grants, funder.threshold, funder.previewed_by) == (Role.FUNDER, {"CBF-2025-PCR"}, 11, MANAGER)
    partner = preview_scope(manager, f"partner:{env['firm']}", roles)
    assert (partner.role, partner.firm, partner.viewer) == (Role.PARTNER, env["firm"], MANAGER)
    with pytest.raises(AccessDenied, match="program managers only"):
        preview_scope(partner, "funder:", roles)  # no preview of a preview
    with pytest.raises(ValueError, match="not a role that can be previewed"):
        preview_scope(manager, f"funder:{MANAGER}", roles)  # a program manager is not a funder to preview
    for user in (PARTNER, FUNDER):
        own = scope_for({"is_logged_in": True, "email": user, "email_verified": True}, roles, None)
        assert preview_choices(own, [env["firm"]], roles) == []
        at = session(user, **{PREVIEW_KEY: f"partner:{env['firm']}" if user == FUNDER else "funder:"})
        assert "Preview as a role is for program managers only" in at.error[0].value and not (at.metric or at.dataframe)


# --- the access log ---------------------------------------------------------------------------------

def test_pages_and_downloads_are_logged_with_role_and_scope_and_no_client_data(env):
    at = session(PARTNER, "vacaturs", filter_period="All time")
    at.run()  # a rerun of the same page (a click) is not a new visit
    at.switch_page("../dashboards/views/partner_firms.py").run()
    button = at.download_button[0]
    button.click().run()
    at = session(MANAGER, "overview", **{PREVIEW_KEY: "funder:"})

    log = access_log.read(env["log"])
    partner_scope = f"partner firm {env['firm']} (its own cases only)"
    assert log[["who", "role", "scope", "event", "page"]].values.tolist() == [
        [PARTNER, "partner", partner_scope, "page", "Vacaturs by vehicle"],
        [PARTNER, "partner", partner_scope, "page", "Partner firms"],
        [PARTNER, "partner", partner_scope, "download", "Partner firms"],
        [MANAGER, "program_manager", "a funder (aggregates with counts under 11 suppressed; no grant linked)", "page", "Overview"],
    ]
    name = re.fullmatch(r"Download (.+) \(CSV\)", button.label).group(1)
    assert log["item"][2] == f"{name} ({re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')}.csv)"
    assert log.filters[0] == "period: All time" and log.viewing_as[3].startswith("funder: a funder")
    assert all(pd.Timestamp(t).tz is not None for t in log["at"])

    text = env["log"].read_text(encoding="utf-8")
    assert all(set(json.loads(line)) == set(access_log.FIELDS) for line in text.splitlines())
    with duckdb.connect(str(env["db"]), read_only=True) as con:
        identifiers = {v for (v,) in con.execute(
            "SELECT client_id FROM marts.fct_cases UNION SELECT case_id FROM marts.fct_cases "
            "UNION SELECT motion_id FROM marts.fct_motions").fetchall()}
    assert not [i for i in identifiers if re.search(rf"\b{re.escape(str(i))}\b", text)]


def test_the_access_log_is_shown_to_program_managers_only(env):
    session(PARTNER, "overview")
    manager = session(MANAGER, "access_log")
    assert manager.title[0].value == "Access log"
    entries = next(d.value for d in manager.dataframe if "filters" in d.value.columns)
    assert PARTNER in set(entries.who) and MANAGER in set(entries.who)
    for user, state in ((PARTNER, {}), (FUNDER, {}), (MANAGER, {PREVIEW_KEY: f"partner:{env['firm']}"})):
        at = session(user, "overview", **state)
        with pytest.raises(ValueError, match="Could not find a navigation page"):  # not one of their pages
            at.switch_page("../dashboards/views/access_log.py")


def test_a_log_that_cannot_be_written_stops_the_app(env, monkeypatch, tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the log's folder should be")
    monkeypatch.setenv("PCR_ACCESS_LOG", str(blocked / "access_log.jsonl"))
    at = session(MANAGER)
    assert "cannot be written" in at.error[0].value and not (at.metric or at.dataframe)
