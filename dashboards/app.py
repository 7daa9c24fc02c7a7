"""PCR outcomes dashboards: `pcr dashboard` (or `streamlit run dashboards/app.py`).

The visitor's scope is settled here before any page runs: without one (not logged in, no
role, server not on loopback without authentication) the app shows why and stops, so no page
and no filter is ever drawn for them. Pages live in dashboards/views/."""
from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboards/app.py` puts dashboards/ on the path, not the project root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboards.access import AccessDenied, DataAccess, DataUnavailable, LoginRequired, Role, current_scope  # noqa: E402
from dashboards.views.common import ALL, ALL_TIME, FILTER_KEYS, PERIOD_KEY  # noqa: E402

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

st.set_page_config(page_title="PCR outcomes", page_icon=":material/balance:", layout="wide")

try:
    scope = current_scope()
except LoginRequired as refusal:
    st.title("PCR outcomes")
    st.info(str(refusal))
    st.button("Log in", on_click=st.login)
    st.stop()
except (AccessDenied, ValueError) as refusal:  # ValueError: a malformed roles file
    st.title("PCR outcomes")
    st.error(str(refusal))
    st.stop()

if scope.banner:
    st.warning(scope.banner, icon=":material/lock_open:")


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


data = DataAccess(scope)
with st.sidebar:
    st.caption(f"Signed in as **{scope.identity}** — {scope.role.value.replace('_', ' ')}"
               + (f" ({scope.firm})" if scope.firm else ""))
    if scope.role is not Role.PROGRAM_MANAGER and not scope.local:
        st.button("Log out", on_click=st.logout)
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
    except DataUnavailable as missing:
        st.error(str(missing))
        st.stop()

navigation = st.navigation([st.Page(VIEWS / file, title=title, icon=icon) for file, title, icon in PAGES])
navigation.run()
