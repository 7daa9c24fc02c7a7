"""PCR outcomes dashboards: `pcr dashboard` (or `streamlit run dashboards/app.py`).

The visitor's scope is settled here before any page runs: without one (not logged in, no
role, an e-mail address the identity provider did not verify, server not on loopback without
authentication) the app shows why and stops, so no page and no filter is ever drawn for them.
A program manager may preview the pages as a partner firm or a funder ("Preview as"); every
page opened and every download is recorded in the access log first. Pages live in
dashboards/views/."""
from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboards/app.py` puts dashboards/ on the path, not the project root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboards import access_log  # noqa: E402
from dashboards.access import (  # noqa: E402
    FIRM_COLUMN, PREVIEW_KEY, AccessDenied, DataAccess, DataUnavailable, LoginRequired, Role, Scope, configured_roles,
    current_scope, describe_choice, preview_choices, signed_in_scope,
)
from dashboards.views.common import ALL, ALL_TIME, FILTER_KEYS, FILTER_LABELS, PERIOD_KEY  # noqa: E402

VIEWS = Path(__file__).resolve().parent / "views"
PAGES = [
    ("overview.py", "Overview", ":material/dashboard:"),
    ("vacaturs.py", "Vacaturs by vehicle", ":material/gavel:"),
    ("removal.py", "Removal avoided", ":material/shield:"),
    ("time_to_resolution.py", "Time to resolution", ":material/timer:"),
    ("partner_firms.py", "Partner firms", ":material/handshake:"),
    ("data_quality.py", "Data quality", ":material/fact_check:"),
    ("grant_report.py", "Grant reports", ":material/description:"),
]
# Program managers only (not while previewing another role).
MANAGER_PAGES = [("access_log.py", "Access log", ":material/history:")]

# A sidebar wide enough for a firm name or a funder's address in "Preview as" and "Signed in as"
# (the default width cuts them off).
st.set_page_config(page_title="PCR outcomes", page_icon=":material/balance:", layout="wide", initial_sidebar_state=360)


def _refuse(message: str) -> None:
    st.title("PCR outcomes")
    st.error(message)
    if st.user.to_dict().get("is_logged_in"):
        st.button("Log out", on_click=st.logout)  # to sign in with another account
    st.stop()


try:
    own_scope = signed_in_scope()
except LoginRequired as refusal:
    st.title("PCR outcomes")
    st.info(str(refusal))
    st.button("Log in", on_click=st.login)
    st.stop()
except AccessDenied as refusal:
    try:
        access_log.record_refusal(str(st.user.to_dict().get("email") or ""), refusal)
    except access_log.AccessLogUnavailable as unavailable:
        _refuse(str(unavailable))
    _refuse(str(refusal))
except ValueError as refusal:  # a malformed roles file
    _refuse(str(refusal))
if (failed_write := st.session_state.pop(access_log.ERROR_KEY, None)):
    _refuse(failed_write)


def _options(data: DataAccess) -> dict[str, list[str]]:
    """Values of each filtered fct_motions column present in the visitor's scope, in one read
    (a funder's list reveals no more than a suppressed table: "<11" already says "at least one")."""
    table = data.aggregate("mart_dashboard_filter_values", ["filter_column", "filter_value"], weight="motions", with_margins=False)
    options: dict[str, list[str]] = {}
    for column, value in table.numeric.index:
        if str(value) != "(none)":
            options.setdefault(column, []).append(str(value))
    return options


def _periods(options: dict[str, list[str]]) -> list[str]:
    quarters = {q for column in ("filing_quarter", "decision_quarter") for q in options.get(column, []) if "-Q" in q}
    years = sorted({q[:4] for q in quarters}, reverse=True)
    return [ALL_TIME, *years, *sorted(quarters, reverse=True)]


def _reset_filters() -> None:
    """Another preview is another scope: filter values of the previous one may not exist in it."""
    for key in [PERIOD_KEY, *FILTER_KEYS.values()]:
        st.session_state.pop(key, None)


def _preview_picker() -> None:
    """The program manager's "Preview as" choice (dashboards.access.preview_scope)."""
    try:
        firms = _options(DataAccess(own_scope)).get(FIRM_COLUMN, [])
        choices = preview_choices(own_scope, firms, configured_roles())
    except DataUnavailable:
        return  # the page says why below
    if st.session_state.get(PREVIEW_KEY, "") not in choices:
        st.session_state.pop(PREVIEW_KEY, None)  # a firm or funder no longer offered
    st.selectbox("Preview as", choices, key=PREVIEW_KEY, format_func=describe_choice, on_change=_reset_filters,
                 help="See every page as a partner firm or a funder sees it: their scope and suppression, never more "
                      "than you can see. See docs/deployment.md.")


def _filters_text(scope: Scope) -> str:
    """The sidebar's choices in words, for the access log."""
    chosen = [f"period {st.session_state.get(PERIOD_KEY, ALL_TIME)}"]
    for column, key in FILTER_KEYS.items():
        if st.session_state.get(key, ALL) != ALL and not (column == "partner_firm" and scope.role is Role.PARTNER):
            chosen.append(f"{FILTER_LABELS[column]} {st.session_state[key]}")
    return "; ".join(chosen)


with st.sidebar:
    st.caption(f"Signed in as **{own_scope.identity}** — {own_scope.role.value.replace('_', ' ')}"
               + (f" ({own_scope.firm})" if own_scope.firm else ""))
    if not own_scope.local:
        st.button("Log out", on_click=st.logout)
    if own_scope.role is Role.PROGRAM_MANAGER:
        _preview_picker()
try:
    scope = current_scope()
except (AccessDenied, ValueError) as refusal:
    _refuse(str(refusal))
if scope.banner:
    st.warning(scope.banner, icon=":material/visibility:" if scope.previewed_by else ":material/lock_open:")

data = DataAccess(scope)
with st.sidebar:
    try:
        options = _options(data)
        st.selectbox("Period", _periods(options), key=PERIOD_KEY,
                     help="Filings count in the quarter of filing, outcomes in the quarter of the decision.")
        filters = {"county": "County", "partner_firm": "Partner firm", "vehicle": "Vehicle"}
        if scope.role is Role.PARTNER:
            del filters["partner_firm"]
            st.caption(f"Partner firm: **{scope.firm}** (your firm only)")
        for column, label in filters.items():
            st.selectbox(label, [ALL, *options.get(column, [])], key=FILTER_KEYS[column])
        firm_has_cases = scope.role is not Role.PARTNER or len(data.aggregate("fct_cases", FIRM_COLUMN, with_margins=False).numeric)
    except DataUnavailable as missing:
        st.error(str(missing))
        st.stop()

if not firm_has_cases:
    # A firm new to the program, or a firm name in the roles file spelled unlike the exports:
    # the partner cannot tell which, the program manager can (Access log page, Roles file).
    st.warning(f"No case of **{scope.firm}** is in the published data, so every page is empty. If your firm has "
               "cases with the program, the firm name your sign-in is linked to may be spelled differently from the "
               "program's exports: ask the program manager to check the roles file.", icon=":material/search_off:")

pages = PAGES + (MANAGER_PAGES if scope.role is Role.PROGRAM_MANAGER else [])
navigation = st.navigation([st.Page(VIEWS / file, title=title, icon=icon) for file, title, icon in pages])
try:
    access_log.record_visit(scope, navigation.title, _filters_text(scope))
except access_log.AccessLogUnavailable as unavailable:
    st.error(str(unavailable))
    st.stop()
navigation.run()
