"""PCR outcomes dashboards: `pcr dashboard` starts them (its Streamlit script is
pcr/dashboard_app.py, which calls ``main`` with the settings read once from the environment).

The visitor's scope is settled here before any page runs: without one (not logged in, no
role, an e-mail address the identity provider did not verify, server not on loopback without
authentication) the app shows why and stops, so no page and no filter is ever drawn for them.
A program manager may preview the pages as a partner firm or a funder ("Preview as"); every
page opened and every download is recorded in the access log first. Pages live in
dashboards/views/."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from access.access_log import AccessLogUnavailable
from access.queries import FIRM_COLUMN, DataAccess
from access.reader import DataUnavailable
from access.scope import AccessDenied, LoginRequired, Role, Scope, describe_choice, preview_choices
from dashboards import session
from dashboards.session import PREVIEW_KEY
from dashboards.views.common import (TILE_STYLE, ALL, ALL_TIME, CUSTOM_RANGE, FILTER_KEYS, FILTER_LABELS, PERIOD_KEY, RANGE_KEYS, as_of_date,
                                     chosen_period, day_text, fiscal_year_start_month)
from reports.periods import fiscal_year_label, parse

VIEWS = Path(__file__).resolve().parent / "views"
# Served from the app itself (a Material icon name would make every browser fetch it from Google's font server).
FAVICON = Path(__file__).resolve().parent / "favicon.svg"
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
MANAGER_PAGES = [("access_log.py", "Access log", ":material/history:"), ("data_docs.py", "Data Docs", ":material/rule:")]


def _refuse(message: str) -> None:
    st.title("PCR outcomes")
    st.error(message)
    if st.user.to_dict().get("is_logged_in"):
        st.button("Log out", on_click=st.logout)  # to sign in with another account
    st.stop()


def _own_scope() -> Scope:
    """The signed-in visitor's scope; anyone without one is told why and the run stops."""
    try:
        return session.signed_in_scope()
    except LoginRequired as refusal:
        st.title("PCR outcomes")
        st.info(str(refusal))
        st.button("Log in", on_click=st.login)
        st.stop()
    except AccessDenied as refusal:
        try:
            session.record_refusal(str(st.user.to_dict().get("email") or ""), refusal)
        except AccessLogUnavailable as unavailable:
            _refuse(str(unavailable))
        _refuse(str(refusal))
    except ValueError as refusal:  # a malformed roles file
        _refuse(str(refusal))


def _options(data: DataAccess) -> dict[str, list[str]]:
    """Values of each filtered fct_motions column present in the visitor's scope, in one read
    (a funder's list reveals no more than a suppressed table: "<11" already says "at least one")."""
    table = data.aggregate("mart_dashboard_filter_values", ["filter_column", "filter_value"], weight="motions", with_margins=False)
    options: dict[str, list[str]] = {}
    for column, value in table.numeric.index:
        if str(value) != "(none)":
            options.setdefault(column, []).append(str(value))
    return options


def _quarters(options: dict[str, list[str]]) -> list[str]:
    """The quarters with a filing or a decision in the visitor's scope, latest first."""
    return sorted({q for column in ("filing_quarter", "decision_quarter") for q in options.get(column, []) if "-Q" in q},
                  reverse=True)


def _periods(quarters: list[str], fiscal_year_start_month: int) -> list[str]:
    """Fiscal years, calendar years and quarters that hold data, latest first, and a custom range."""
    starts = [parse(q).start for q in quarters]
    fiscal_years = sorted({fiscal_year_label(day, fiscal_year_start_month) for day in starts}, reverse=True)
    years = sorted({q[:4] for q in quarters}, reverse=True)
    return [ALL_TIME, *fiscal_years, *years, *quarters, *([CUSTOM_RANGE] if quarters else [])]


def _period_words(label: str, fiscal_year_start_month: int) -> str:
    """A period as the sidebar lists it: what kind it is, its months, and "so far" when the data
    stops inside it."""
    if label in (ALL_TIME, CUSTOM_RANGE):
        return label
    period = parse(label, fiscal_year_start_month)
    kind = {"fiscal_year": "fiscal year", "year": "calendar year", "quarter": "quarter", "range": "quarters"}[period.kind]
    as_of = as_of_date()
    so_far = f" (not over: data to {day_text(as_of)})" if period.partial(as_of) else ""
    return f"{label}: {kind}, {day_text(period.start)} – {day_text(period.end)}{so_far}"


def _period_picker(options: dict[str, list[str]]) -> None:
    """The sidebar's period: fiscal years (the program's start month), calendar years, quarters,
    or a custom range of quarters."""
    fy_month, problem = fiscal_year_start_month()
    quarters = _quarters(options)
    choices = _periods(quarters, fy_month)
    if st.session_state.get(PERIOD_KEY, ALL_TIME) not in choices:
        st.session_state.pop(PERIOD_KEY, None)  # a fiscal year of another start month, or a period of another scope
    # Plain labels as options (the value is the label: tests and links set it); the words below.
    st.selectbox("Period", choices, key=PERIOD_KEY,
                 help=f"Filings count in the quarter of filing, outcomes in the quarter of the decision. Fiscal years "
                      f"start in {dt.date(2000, fy_month, 1):%B} (fiscal_year_start_month in the grants file, "
                      "docs/periods.md). Compared with the period of the same length just before.")
    if st.session_state.get(PERIOD_KEY) == CUSTOM_RANGE and quarters:
        first, last = st.columns(2)
        first.selectbox("From quarter", list(reversed(quarters)), key=RANGE_KEYS[0])
        last.selectbox("To quarter", quarters, key=RANGE_KEYS[1])
    if (words := _period_words(chosen_period().label, fy_month)) != ALL_TIME:
        st.caption(words)
    if problem:
        st.caption(problem)


def _reset_filters() -> None:
    """Another preview is another scope: filter values of the previous one may not exist in it."""
    for key in [PERIOD_KEY, *RANGE_KEYS, *FILTER_KEYS.values()]:
        st.session_state.pop(key, None)


def _preview_picker(own_scope: Scope) -> None:
    """The program manager's "Preview as" choice (access.scope.preview_scope)."""
    try:
        firms = _options(session.data_access(own_scope)).get(FIRM_COLUMN, [])
        choices = preview_choices(own_scope, firms, session.configured_roles())
    except DataUnavailable:
        return  # the page says why below
    if st.session_state.get(PREVIEW_KEY, "") not in choices:
        st.session_state.pop(PREVIEW_KEY, None)  # a firm or funder no longer offered
    st.selectbox("Preview as", choices, key=PREVIEW_KEY, format_func=describe_choice, on_change=_reset_filters,
                 help="See every page as a partner firm or a funder sees it: their scope and suppression, never more "
                      "than you can see. See docs/deployment.md.")


def _filters_text(scope: Scope) -> str:
    """The sidebar's choices in words, for the access log."""
    chosen = [f"period: {chosen_period().label}"]
    for column, key in FILTER_KEYS.items():
        if st.session_state.get(key, ALL) != ALL and not (column == "partner_firm" and scope.role is Role.PARTNER):
            chosen.append(f"{FILTER_LABELS[column]}: {st.session_state[key]}")
    return "; ".join(chosen)


def main(settings) -> None:
    """One run of the app for one visitor, with the server's settings (pcr.settings.Settings)."""
    # A sidebar wide enough for a firm name or a funder's address in "Preview as" and "Signed in as"
    # (the default width cuts them off).
    st.set_page_config(page_title="PCR outcomes", page_icon=str(FAVICON), layout="wide", initial_sidebar_state=360)
    session.start(settings)
    own_scope = _own_scope()
    if (failed_write := session.write_failure()):
        _refuse(failed_write)

    with st.sidebar:
        st.caption(f"Signed in as **{own_scope.identity}** — {own_scope.role.value.replace('_', ' ')}"
                   + (f" ({own_scope.firm})" if own_scope.firm else ""))
        if not own_scope.local:
            st.button("Log out", on_click=st.logout)
        if own_scope.role is Role.PROGRAM_MANAGER:
            _preview_picker(own_scope)
    try:
        scope = session.current_scope()
    except (AccessDenied, ValueError) as refusal:
        _refuse(str(refusal))
    if scope.banner:
        st.warning(scope.banner, icon=":material/visibility:" if scope.previewed_by else ":material/lock_open:")

    data = session.data_access(scope)
    with st.sidebar:
        try:
            options = _options(data)
            _period_picker(options)
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
        session.record_visit(scope, navigation.title, _filters_text(scope))
    except AccessLogUnavailable as unavailable:
        st.error(str(unavailable))
        st.stop()
    st.html(TILE_STYLE)  # one style for every page's tiles
    navigation.run()
