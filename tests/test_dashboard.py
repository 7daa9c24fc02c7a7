"""The Streamlit dashboards run by AppTest against a real published database (synthetic
exports through `pcr run`): every page for every role, numbers equal to the marts, a
partner never sees another firm, a funder never sees a small count or a row, an identity
without a role sees nothing."""
from __future__ import annotations

import io
import json
import re

import duckdb
import pandas as pd
import pytest
import streamlit as st
import streamlit.testing.v1.app_test as app_test_module
from streamlit.testing.v1 import AppTest

from access import access_log
from e2e.support import (APP, FUNDER, MANAGER, NOBODY, PAGES, PARTNER, Recording, RecordingManager, build_published_db,
                          busiest_firm, offered, open_page, write_roles)

THRESHOLD = 11
# Columns that hold measures other than counts of people or cases (days, rates, hours, money, and
# a change between two years: the difference of two counts the table shows, or 'withheld').
NOT_COUNTS = re.compile(r"days|rate|hours|value|usd|per_|survival|change", re.IGNORECASE)


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    return build_published_db(tmp_path_factory.getbasetemp() / "dashboard_db", motions=1500)


@pytest.fixture(scope="session")
def firm(published):
    return busiest_firm(published)


@pytest.fixture
def env(pcr_env, published, firm, monkeypatch, tmp_path):
    monkeypatch.setenv("PCR_DB", str(published))
    monkeypatch.setenv("PCR_ROLES_FILE", str(write_roles(tmp_path / "roles.yml", firm, THRESHOLD)))
    st.config.set_option("server.address", "127.0.0.1")
    Recording.files.clear()
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Recording)
    monkeypatch.setattr(app_test_module, "MediaFileManager", RecordingManager)
    return published


def mart(db, sql: str, params=None):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def app(user: str | None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    if user:
        at.user = {"is_logged_in": True, "email": user, "email_verified": True}
    return at.run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def number(shown: str) -> float:
    return float(shown.replace(",", "").replace("%", ""))


def tables(at: AppTest) -> list[pd.DataFrame]:
    """Every dataframe on the page and every CSV its download buttons offer."""
    frames = [d.value for d in at.dataframe]
    downloads = [pd.read_csv(io.BytesIO(Recording.files[b.proto.url]), dtype=str, keep_default_na=False) for b in at.download_button]
    assert len(downloads) == len(frames), "every table has a download"
    return frames + downloads


def download(at: AppTest, name: str) -> pd.DataFrame:
    button = next(b for b in at.download_button if b.label == f"Download {name} (CSV)")
    return pd.read_csv(io.BytesIO(Recording.files[button.proto.url]))


def recent_year(db) -> tuple[str, list[str]]:
    """The last complete year with decisions, and its quarters."""
    year = mart(db, "SELECT max(left(decision_quarter, 4))::INT - 1 FROM marts.fct_motions")[0][0]
    return str(year), [f"{year}-Q{q}" for q in range(1, 5)]


# --- every page, every role ---------------------------------------------------------------------

@pytest.mark.parametrize("user", [None, MANAGER, PARTNER, FUNDER])
def test_every_page_runs_for_every_role(env, user):
    at = app(user)
    assert not at.exception
    assert bool(at.warning) == (user is None) and (not at.warning or "Authentication is not configured" in at.warning[0].value)
    for page in PAGES:
        open_page(at, page)
        assert not at.error, f"{page}: {[e.value for e in at.error]}"
        if not (user == PARTNER and page == "data_quality"):
            assert at.dataframe or at.metric, f"{page} shows nothing to {user}"


def test_an_identity_without_a_role_sees_no_data(env):
    at = app(NOBODY)
    assert "No role is assigned" in at.error[0].value
    assert not (at.dataframe or at.metric or at.get("plotly_chart") or at.download_button or at.selectbox)


def test_a_logged_out_visitor_is_asked_to_log_in_and_sees_no_data(env):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.user = {"is_logged_in": False}
    at.run()
    assert "log in" in at.info[0].value.lower() and at.button[0].label == "Log in"
    assert not (at.dataframe or at.metric or at.download_button)


def test_without_authentication_the_app_refuses_a_public_address(env):
    st.config.set_option("server.address", "0.0.0.0")
    try:
        at = app(None)
    finally:
        st.config.set_option("server.address", "127.0.0.1")
    assert "not bound to 127.0.0.1" in at.error[0].value
    assert not (at.dataframe or at.metric)


# --- the numbers equal the marts ----------------------------------------------------------------

def expected_overview(db, quarters: list[str] | None, dimension: str = "all", value: str = "all") -> dict[str, float]:
    """Headline numbers read straight from the marts (quarters None = all time)."""
    in_period = "period = 'all'" if quarters is None else f"period IN ({', '.join(repr(q) for q in quarters)})"
    filed, decided, granted = mart(db, f"SELECT sum(motions_filed), sum(motions_decided), sum(motions_granted) FROM marts.mart_motion_activity "
                                       f"WHERE {in_period} AND dimension = ? AND dimension_value = ?", [dimension, value])[0]
    relief_period = "true" if quarters is None else f"decision_quarter IN ({', '.join(repr(q) for q in quarters)})"
    relief_filter = "true" if dimension == "all" else f"{dimension} = ?"
    vacaturs, reductions, sentences = mart(db, f"SELECT sum(vacaturs_granted), sum(offense_reductions_granted), sum(sentence_modifications_granted) "
                                                f"FROM marts.mart_relief_granted WHERE {relief_period} AND {relief_filter}",
                                           [] if dimension == "all" else [value])[0]
    hours_period = "period = 'all'" if quarters is None else f"period IN ({', '.join(repr(q) for q in quarters)})"
    hours = mart(db, f"SELECT coalesce(sum(hours), 0) FROM marts.mart_pro_bono WHERE {hours_period} AND partner_firm = ?",
                 [value if dimension == "partner_firm" else "all"])[0][0]
    median = mart(db, "SELECT km_median_days FROM marts.mart_time_to_resolution WHERE measure = 'referral_to_decision' "
                      "AND dimension = ? AND dimension_value = ?", [dimension, value])[0][0]
    result = {
        "Motions filed": filed, "Motions decided": decided, "Motions granted": granted,
        "Grant rate": round(100 * granted / decided, 1), "Vacaturs granted": vacaturs,
        "Offense reductions": reductions, "Sentence modifications": sentences, "Pro bono hours": round(hours),
        "Median days, referral to decision (Kaplan–Meier)": median,
    }
    if quarters is None:  # the removal rollup is not crossed by quarter and firm
        confirmed, projected = mart(db, "SELECT clients_confirmed, clients_projected FROM marts.mart_removal_avoided_rollup "
                                        "WHERE dimension = ? AND dimension_value = ?", [dimension, value])[0]
        result |= {"Removal avoided (confirmed)": confirmed, "Removal avoided (projected)": projected}
    elif dimension == "all":
        confirmed, projected = mart(db, f"SELECT sum(clients_confirmed), sum(clients_projected) FROM marts.mart_removal_avoided_rollup "
                                        f"WHERE dimension = 'status_quarter' AND dimension_value IN ({', '.join(repr(q) for q in quarters)})")[0]
        result |= {"Removal avoided (confirmed)": confirmed, "Removal avoided (projected)": projected}
    return result


def clients_served(db, start: str, end: str, firm: str | None = None) -> int:
    return mart(db, "SELECT count(DISTINCT client_id) FROM marts.fct_cases WHERE intake_date <= ?::DATE "
                    "AND (closed_date IS NULL OR closed_date >= ?::DATE) AND (? IS NULL OR partner_firm = ?)",
                [end, start, firm, firm])[0][0]


def test_overview_equals_the_marts_for_a_program_manager(env):
    db = env
    at = app(MANAGER)
    shown = metrics(open_page(at, "overview"))
    for label, expected in expected_overview(db, None).items():
        assert number(shown[label]) == pytest.approx(expected, abs=0.051), label
    assert number(shown["Clients served"]) == mart(db, "SELECT count(DISTINCT client_id) FROM marts.fct_cases")[0][0]

    year, quarters = recent_year(db)
    shown = metrics(open_page(at, "overview", filter_period=year))
    for label, expected in expected_overview(db, quarters).items():
        assert number(shown[label]) == pytest.approx(expected, abs=0.051), label
    assert number(shown["Clients served"]) == clients_served(db, f"{year}-01-01", f"{year}-12-31")
    # Change against the previous year, from the marts as well.
    previous = expected_overview(db, [q.replace(year, str(int(year) - 1)) for q in quarters])
    deltas = {m.label: m.delta for m in at.metric}
    current = expected_overview(db, quarters)
    assert number(deltas["Motions granted"]) == current["Motions granted"] - previous["Motions granted"]
    assert number(deltas["Vacaturs granted"]) == current["Vacaturs granted"] - previous["Vacaturs granted"]


def test_overview_follows_a_county_filter(env):
    db = env
    county = mart(db, "SELECT county FROM marts.fct_motions GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0][0]
    shown = metrics(open_page(app(MANAGER), "overview", filter_county=county))
    expected = expected_overview(db, None, "county", county)
    for label in ("Motions filed", "Motions decided", "Motions granted", "Vacaturs granted", "Removal avoided (confirmed)",
                  "Median days, referral to decision (Kaplan–Meier)"):
        assert number(shown[label]) == pytest.approx(expected[label]), label


def test_partner_overview_equals_its_firms_rows_of_the_marts(env, firm):
    db = env
    shown = metrics(open_page(app(PARTNER), "overview"))
    for label, expected in expected_overview(db, None, "partner_firm", firm).items():
        assert number(shown[label]) == pytest.approx(expected, abs=0.051), label
    assert number(shown["Clients served"]) == clients_served(db, "0001-01-01", "9999-12-31", firm)


def test_funder_overview_is_the_marts_with_small_numbers_suppressed(env):
    db = env
    year, quarters = recent_year(db)
    at = app(FUNDER)
    for period, in_period in ((None, None), (quarters[0], [quarters[0]])):
        shown = metrics(open_page(at, "overview", filter_period=period or "All time"))
        for label, expected in expected_overview(db, in_period).items():
            if label == "Grant rate":
                continue
            if shown[label] == f"<{THRESHOLD}":  # a marker states a true bound
                assert 0 < expected < THRESHOLD, label
            elif shown[label] == "withheld" or shown[label].startswith(f"fewer than {THRESHOLD} "):
                continue  # hidden to protect another cell, or a measure over a small group
            else:
                assert not (0 < expected < THRESHOLD) or "hours" in label or "days" in label, label
                assert number(shown[label]) == pytest.approx(expected, abs=0.051), label


def test_page_tables_equal_the_marts(env):
    db = env
    at = app(MANAGER)
    open_page(at, "vacaturs")
    relief = download(at, "granted relief by vehicle and class").set_index("vehicle")
    for vehicle, vacaturs in mart(db, "SELECT vehicle, sum(vacaturs_granted) FROM marts.mart_relief_granted GROUP BY 1"):
        assert relief.loc[vehicle, "vacaturs (all classes)"] == vacaturs, vehicle
    # A vehicle can sit in two recognition classes (a result override): add its rows up.
    outcomes = download(at, "motions by vehicle and outcome").groupby("vehicle")[["granted", "denied"]].sum()
    for vehicle, granted_in_full, denied in mart(db, "SELECT dimension_value, motions_granted_in_full, motions_denied "
                                                     "FROM marts.mart_motion_activity WHERE period = 'all' AND dimension = 'vehicle'"):
        assert outcomes.loc[vehicle, "granted"] == granted_in_full and outcomes.loc[vehicle, "denied"] == denied, vehicle

    open_page(at, "removal")
    by_county = download(at, "removal avoided by county").set_index("county")
    for county, confirmed, exposed in mart(db, "SELECT dimension_value, clients_confirmed, clients_with_exposure "
                                               "FROM marts.mart_removal_avoided_rollup WHERE dimension = 'county'"):
        assert by_county.loc[county, "confirmed"] == confirmed and by_county.loc[county, "Total"] == exposed, county

    open_page(at, "partner_firms")
    hours = download(at, "partner firms compared").set_index("partner_firm")
    for firm_name, firm_hours, attorneys in mart(db, "SELECT partner_firm, hours, attorneys_participating FROM marts.mart_pro_bono "
                                                     "WHERE period = 'all' AND partner_firm <> 'all'"):
        assert hours.loc[firm_name, "hours"] == pytest.approx(firm_hours, abs=0.05)
        assert hours.loc[firm_name, "attorneys_participating"] == attorneys

    open_page(at, "time_to_resolution", ttr_dimension="county")
    medians = download(at, "time to resolution medians").set_index("county")
    for county, units, median, p75 in mart(db, "SELECT dimension_value, units, km_median_days, km_p75_days FROM marts.mart_time_to_resolution "
                                               "WHERE measure = 'referral_to_decision' AND dimension = 'county'"):
        row = medians.loc[county]
        assert row["units"] == units
        assert (pd.isna(row["km_median_days"]) and median is None) or row["km_median_days"] == median
        assert (pd.isna(row["km_p75_days"]) and p75 is None) or row["km_p75_days"] == p75


# --- who sees what ------------------------------------------------------------------------------

def test_a_partner_sees_nothing_of_another_firm(env, firm):
    others = [f for (f,) in mart(env, "SELECT DISTINCT partner_firm FROM marts.fct_cases WHERE partner_firm IS NOT NULL") if f != firm]
    assert others
    at = app(PARTNER)
    for page in PAGES:
        open_page(at, page)
        for frame in tables(at):
            text = frame.to_csv(index=False)
            assert not [o for o in others if o in text], f"{page}: another firm's name in a table"
            if "partner_firm" in frame:
                assert set(frame["partner_firm"]) <= {firm, "Total"}, page
        options = {o for box in at.selectbox for o in box.options}
        assert not [o for o in others if o in options]


def test_a_funder_sees_no_small_count_and_no_row(env):
    at = app(FUNDER)
    for page in PAGES:
        open_page(at, page, filter_period="All time")
        for frame in tables(at):
            assert not [c for c in frame.columns if re.search(r"(_id|_hash)$", str(c))], f"{page}: identifying column"
            assert len(frame) <= 200, f"{page}: looks like row-level data"
            for column in frame.columns:
                if NOT_COUNTS.search(str(column)):
                    continue
                for cell in frame[column].astype(str):
                    if re.fullmatch(r"-?\d+(\.0)?", cell.replace(",", "")):
                        assert not 0 < float(cell.replace(",", "")) < THRESHOLD, f"{page}: {column} shows {cell}"
        for shown in metrics(at).values():
            if re.fullmatch(r"[\d,]+", shown):
                assert not 0 < number(shown) < THRESHOLD, f"{page}: metric {shown}"
    # Row-level tables are absent altogether.
    open_page(at, "time_to_resolution")
    assert not any(b.label.startswith("Download oldest open motions") for b in at.download_button)


def test_funder_survival_curves_stop_where_fewer_than_eleven_remain_at_risk(env):
    at = app(FUNDER)
    open_page(at, "time_to_resolution", ttr_dimension="all")
    chart = at.get("plotly_chart")[0]
    figure = json.loads(chart.proto.spec)
    last_day = max(max(trace["x"]) for trace in figure["data"])
    (first_below,) = mart(env, "SELECT min(t_days) FROM marts.mart_time_to_resolution_km WHERE measure = 'referral_to_decision' "
                               "AND dimension = 'all' AND at_risk < ?", [THRESHOLD])[0]
    assert first_below is not None and last_day < first_below


# --- grant reports ------------------------------------------------------------------------------

@pytest.mark.parametrize("user", [MANAGER, PARTNER, FUNDER])
def test_grant_report_page_for_every_role(env, pcr_env, monkeypatch, user):
    monkeypatch.setenv("PCR_GRANTS_FILE", str(APP.parent.parent / "config" / "grants.example.yml"))
    at = open_page(app(user), "grant_report")
    assert not at.error, [e.value for e in at.error]
    if user == PARTNER:  # a grant covers every firm
        assert not at.dataframe and not at.metric and not at.download_button
        return
    assert at.dataframe and at.table and len(at.download_button) == 3  # PDF, XLSX, CSV; the report's tables are static
    # The PDF is written when its button is pressed, not on the page's first run; pressing it
    # still records the download in the access log.
    pdf_button = next(b for b in at.download_button if b.label == "Download PDF")
    assert not pdf_button.proto.url and pdf_button.proto.deferred_file_id
    assert [b.label for b in at.download_button if b.proto.url] == ["Download XLSX", "Download CSV"]
    pdf = offered(pdf_button)
    assert pdf.startswith(b"%PDF-") and offered(pdf_button) == pdf  # the same report, the same bytes
    pdf_button.click().run()
    assert not at.exception
    entry = access_log.read(pcr_env / "var" / "access_log.jsonl").iloc[-1]
    assert entry["event"] == "download" and entry["page"] == "Grant reports"
    assert re.fullmatch(r"grant report \S+ grant \(grant-report_\S+_whole_grant\.pdf\)", entry["item"]), entry["item"]
    if user == FUNDER:
        for frame in [d.value for d in at.dataframe] + [t.value for t in at.table]:
            assert not [c for c in frame.columns if re.search(r"(_id|_hash)$", str(c))]
            for column in frame.columns:
                if NOT_COUNTS.search(str(column)):
                    continue
                for cell in frame[column].astype(str):
                    if re.fullmatch(r"-?\d+(\.0)?", cell.replace(",", "")):
                        assert not 0 < float(cell.replace(",", "")) < THRESHOLD, f"{column} shows {cell}"


@pytest.mark.parametrize("user", [MANAGER, PARTNER, FUNDER])
def test_no_page_emits_a_runtime_warning(env, user):
    """A warning raised while a page runs is drawn in the browser as a box with a traceback, and
    the page stops there: pandas casting -inf into an integer column did so on Vacaturs. A table
    column that mixes numbers and words cannot be sent to the browser as it is: Streamlit logs
    the Arrow conversion's traceback and converts it again, on every run (Vacaturs' "change"
    column for a funder did)."""
    import logging
    import warnings

    class Kept(logging.Handler):
        records: list[logging.LogRecord] = []

        def emit(self, record):
            self.records.append(record)

    streamlit_log, kept = logging.getLogger("streamlit.dataframe_util"), Kept(logging.INFO)
    level, streamlit_log.level = streamlit_log.level, logging.INFO
    streamlit_log.addHandler(kept)
    at = app(user)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            for page in PAGES:
                open_page(at, page)
                assert not at.exception, f"{page}: {[e.message for e in at.exception]}"
                assert not [r.getMessage() for r in kept.records if "Arrow" in r.getMessage()], page
    finally:
        streamlit_log.removeHandler(kept)
        streamlit_log.setLevel(level)
