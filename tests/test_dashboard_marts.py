"""The dashboards' pre-aggregates (models/marts/mart_dashboard_*.sql) give the numbers that
counting the facts directly gives — for every period the pages offer (all time, each year, each
quarter), for each firm and for all firms — on the published sample data and on data with what
the generator does not make: a case with time from two firms, time without a firm, an attorney
of two firms, a client with several cases open in different quarters. So does mart_pro_bono,
which is rolled up from mart_dashboard_pro_bono. And the pages show them."""
from __future__ import annotations

import shutil

import duckdb
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboards.views.common import ALL_TIME, CUSTOM_RANGE, Period, pro_bono_count
from reports import vocabulary
from e2e.support import APP, MANAGER, PARTNER, build_published_db, busiest_firm, open_page, write_roles

FILTER_COLUMNS = ["filing_quarter", "decision_quarter", "county", "partner_firm", "vehicle"]
DASHBOARD_MARTS = ["mart_dashboard_pro_bono", "mart_dashboard_clients", "mart_dashboard_filter_values",
                   "mart_dashboard_motion_outcomes", "mart_dashboard_relief_granted", "mart_pro_bono"]


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    # The same folder as tests/test_dashboard.py: one build serves both.
    return build_published_db(tmp_path_factory.getbasetemp() / "dashboard_db", motions=1500)


@pytest.fixture
def edge_db(published, tmp_path, run_pcr):
    """The sample database plus the unusual rows, with the dashboard marts rebuilt by dbt."""
    db = tmp_path / "edge.duckdb"
    shutil.copy(published, db)
    with duckdb.connect(str(db)) as con:
        (case_id, client_id, firm, attorney), = con.execute(
            "SELECT case_id, client_id, partner_firm, attorney_id FROM marts.fct_time_entries "
            "GROUP BY ALL ORDER BY min(entry_date), case_id LIMIT 1").fetchall()
        other_firm = con.execute("SELECT min(partner_firm) FROM marts.fct_cases WHERE partner_firm <> ?", [firm]).fetchone()[0]
        # The same case and attorney logging time for another firm, in an earlier and a later
        # year; time without a firm; a case with time in a quarter of no other entry.
        con.executemany("INSERT INTO marts.fct_time_entries VALUES (?, ?, ?, ?, ?, ?::DATE, ?, ?, ?)", [
            ("E-X1", case_id, client_id, other_firm, attorney, "2015-02-03", "2015-Q1", 2.5, 1250.0),
            ("E-X2", case_id, client_id, other_firm, attorney, "2030-11-03", "2030-Q4", 1.0, 500.0),
            ("E-X3", case_id, client_id, None, "ATT-X", "2030-11-04", "2030-Q4", 3.0, 1500.0),
            ("E-X4", case_id, client_id, firm, None, "2030-05-04", "2030-Q2", 0.5, 250.0),
        ])
        # One client with three cases: closed before the other opened, open, another firm;
        # one case without a client.
        template = con.execute("SELECT * FROM marts.fct_cases LIMIT 1").df()
        extra = pd.concat([template] * 4, ignore_index=True)
        extra["case_id"] = ["CS-X1", "CS-X2", "CS-X3", "CS-X4"]
        extra["client_id"] = ["CL-X", "CL-X", "CL-X", None]
        extra["partner_firm"] = [firm, firm, other_firm, firm]
        extra["case_status"] = ["closed", "open", "open", "open"]
        extra["intake_date"] = pd.to_datetime(["2017-02-10", "2021-08-01", "2030-12-31", "2018-01-01"]).date
        extra["closed_date"] = [pd.Timestamp("2018-05-20").date(), None, None, None]
        con.register("extra", extra)
        con.execute("INSERT INTO marts.fct_cases SELECT * FROM extra")
    result = run_pcr("build", "--db", db, "--select", *DASHBOARD_MARTS)
    assert result.code == 0, result.out + result.err
    return db


def periods(con) -> list[Period]:
    quarters = [q for (q,) in con.execute(
        "SELECT DISTINCT entry_quarter FROM marts.fct_time_entries WHERE entry_quarter IS NOT NULL "
        "UNION SELECT DISTINCT filing_quarter FROM marts.fct_motions WHERE filing_quarter IS NOT NULL ORDER BY 1").fetchall()]
    return [Period(ALL_TIME), *map(Period, sorted({q[:4] for q in quarters})), *map(Period, quarters)]


def firms(con) -> list[str | None]:
    return [f for (f,) in con.execute("SELECT DISTINCT partner_firm FROM marts.fct_time_entries "
                                      "UNION SELECT DISTINCT partner_firm FROM marts.fct_cases").fetchall()]


def time_direct(con, period: Period, firm: str | None) -> tuple:
    """Cases, attorneys and hours as the pages counted them before: distinct over the entries."""
    return con.execute(
        "SELECT count(DISTINCT case_id), count(DISTINCT attorney_id), coalesce(sum(hours), 0) FROM marts.fct_time_entries "
        "WHERE (? OR starts_with(entry_quarter, ?)) AND (? IS NULL OR partner_firm = ?)",
        [period.is_all, period.label, firm, firm]).fetchone()


def time_from_mart(con, period: Period, firm: str | None) -> tuple:
    cases = pro_bono_count("cases", period, one_firm=firm is not None)
    attorneys = pro_bono_count("attorneys", period, one_firm=firm is not None)
    return con.execute(
        f"SELECT coalesce(sum({cases}), 0), coalesce(sum({attorneys}), 0), coalesce(sum(hours), 0) FROM marts.mart_dashboard_pro_bono "
        "WHERE (? OR starts_with(entry_quarter, ?)) AND (? IS NULL OR partner_firm = ?)",
        [period.is_all, period.label, firm, firm]).fetchone()


def clients_direct(con, period: Period, firm: str | None) -> dict:
    start, end = period.bounds()
    return dict(con.execute(
        "SELECT coalesce(case_status, 'Total'), count(DISTINCT client_id) FROM marts.fct_cases "
        "WHERE intake_date <= ? AND (closed_date IS NULL OR closed_date >= ?) AND (? IS NULL OR partner_firm = ?) "
        "GROUP BY ROLLUP (case_status)", [end, start, firm, firm]).fetchall())


def clients_from_mart(con, period: Period, firm: str | None) -> dict:
    start, end = period.bounds()
    return dict(con.execute(
        "SELECT coalesce(case_status, 'Total'), count(DISTINCT client_id) + coalesce(sum(clients), 0) FROM marts.mart_dashboard_clients "
        "WHERE intake_quarter_start <= ? AND (closed_quarter_end IS NULL OR closed_quarter_end >= ?) AND (? IS NULL OR partner_firm = ?) "
        "GROUP BY ROLLUP (case_status)", [end, start, firm, firm]).fetchall())


def motions_direct(con, period: Period, firm: str | None) -> tuple[list, list]:
    """The vacaturs page's outcome and granted-relief counts, as it counted them before."""
    on_decision = "(? OR starts_with(decision_quarter, ?))"
    outcomes = con.execute(
        "SELECT vehicle_recognition_class, vehicle, outcome, count(*) FROM marts.fct_motions "
        f"WHERE ((outcome <> 'pending' AND decision_date IS NOT NULL AND {on_decision}) "
        "OR (outcome = 'pending' AND is_filed AND (? OR starts_with(filing_quarter, ?)))) AND (? IS NULL OR partner_firm = ?) "
        "GROUP BY ALL ORDER BY ALL", [period.is_all, period.label] * 2 + [firm, firm]).fetchall()
    relief = con.execute(
        "SELECT vehicle, effective_recognition_class, relief_kind, decision_quarter, count(*) FROM marts.fct_motions "
        f"WHERE is_granted AND {on_decision} AND (? IS NULL OR partner_firm = ?) GROUP BY ALL ORDER BY ALL",
        [period.is_all, period.label, firm, firm]).fetchall()
    return outcomes, relief


def motions_from_marts(con, period: Period, firm: str | None) -> tuple[list, list]:
    outcomes = con.execute(
        "SELECT vehicle_recognition_class, vehicle, outcome, sum(motions) FROM marts.mart_dashboard_motion_outcomes "
        "WHERE (? OR starts_with(outcome_quarter, ?)) AND (? IS NULL OR partner_firm = ?) GROUP BY ALL ORDER BY ALL",
        [period.is_all, period.label, firm, firm]).fetchall()
    relief = con.execute(
        "SELECT vehicle, effective_recognition_class, relief_kind, decision_quarter, sum(motions) FROM marts.mart_dashboard_relief_granted "
        "WHERE (? OR starts_with(decision_quarter, ?)) AND (? IS NULL OR partner_firm = ?) GROUP BY ALL ORDER BY ALL",
        [period.is_all, period.label, firm, firm]).fetchall()
    return outcomes, relief


def assert_marts_equal_the_facts(db) -> None:
    with duckdb.connect(str(db), read_only=True) as con:
        for period in periods(con):
            for firm in [None, *firms(con)]:
                where = f"{period.label}, firm {firm}"
                cases, attorneys, hours = time_direct(con, period, firm)
                mart_cases, mart_attorneys, mart_hours = time_from_mart(con, period, firm)
                assert mart_cases == cases, where
                assert mart_attorneys == attorneys, where
                assert mart_hours == pytest.approx(hours, rel=1e-12), where  # float sums in another order
                assert clients_from_mart(con, period, firm) == clients_direct(con, period, firm), where
                assert motions_from_marts(con, period, firm) == motions_direct(con, period, firm), where
            # The partner firms page groups by firm (a firm-less group included).
            kind = period.kind
            by_firm = con.execute(
                f"SELECT partner_firm, sum(cases_{kind}), sum(attorneys_{kind}) FROM marts.mart_dashboard_pro_bono "
                "WHERE (? OR starts_with(entry_quarter, ?)) GROUP BY 1", [period.is_all, period.label]).fetchall()
            direct = con.execute(
                "SELECT partner_firm, count(DISTINCT case_id), count(DISTINCT attorney_id) FROM marts.fct_time_entries "
                "WHERE (? OR starts_with(entry_quarter, ?)) GROUP BY 1", [period.is_all, period.label]).fetchall()
            assert sorted(by_firm, key=str) == sorted(direct, key=str), period.label
        assert_pro_bono_mart_equals_the_facts(con)
        for column in FILTER_COLUMNS:
            offered = con.execute("SELECT partner_firm, filter_value, motions FROM marts.mart_dashboard_filter_values "
                                  "WHERE filter_column = ?", [column]).fetchall()
            direct = con.execute(f"SELECT partner_firm, {column}, count(*) FROM marts.fct_motions GROUP BY ALL").fetchall()
            assert sorted(offered, key=str) == sorted(direct, key=str), column


def assert_pro_bono_mart_equals_the_facts(con) -> None:
    """Every row of mart_pro_bono, 'all' rows included, against distinct counts over the entries."""
    mart = con.execute("SELECT period, partner_firm, attorneys_participating, cases_with_time, hours, value_usd "
                       "FROM marts.mart_pro_bono").fetchall()
    direct = con.execute(
        "SELECT CASE WHEN grouping(entry_quarter) = 1 THEN 'all' ELSE entry_quarter END, "
        "CASE WHEN grouping(partner_firm) = 1 THEN 'all' ELSE partner_firm END, "
        "count(DISTINCT attorney_id), count(DISTINCT case_id), sum(hours), sum(value_usd) FROM marts.fct_time_entries "
        "GROUP BY GROUPING SETS ((entry_quarter, partner_firm), (partner_firm), (entry_quarter), ())").fetchall()
    assert len(mart) == len(direct) > 4
    by_key = {(period, firm): rest for period, firm, *rest in direct}
    for period, firm, attorneys, cases, hours, value in mart:
        expected = by_key[(period, firm)]
        assert (attorneys, cases) == tuple(expected[:2]), (period, firm)
        assert (hours, value) == pytest.approx(tuple(expected[2:]), rel=1e-12), (period, firm)


def test_dashboard_marts_equal_the_facts_on_the_sample_data(published):
    assert_marts_equal_the_facts(published)


def test_dashboard_marts_equal_the_facts_with_cases_across_firms_and_clients_with_several_cases(edge_db):
    with duckdb.connect(str(edge_db), read_only=True) as con:
        # The unusual rows are there and are what the program-wide columns exist for.
        across = con.execute("SELECT count(*) FROM (SELECT case_id FROM marts.fct_time_entries GROUP BY 1 "
                             "HAVING count(DISTINCT partner_firm) > 1)").fetchone()[0]
        assert across == 1
        assert con.execute("SELECT count(*) FROM marts.mart_dashboard_clients WHERE client_id = 'CL-X'").fetchone()[0] == 3
    assert_marts_equal_the_facts(edge_db)


# --- the pages show the marts' numbers ------------------------------------------------------------

@pytest.fixture
def app_env(published, monkeypatch, tmp_path):
    monkeypatch.setenv("PCR_DB", str(published))
    monkeypatch.setenv("PCR_ROLES_FILE", str(write_roles(tmp_path / "roles.yml", busiest_firm(published))))
    st.config.set_option("server.address", "127.0.0.1")
    return published


def test_pages_show_the_direct_counts_for_a_quarter_and_a_firm(app_env):
    db = app_env
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.user = {"is_logged_in": True, "email": MANAGER, "email_verified": True}
    at.run()
    with duckdb.connect(str(db), read_only=True) as con:
        quarter = con.execute("SELECT entry_quarter FROM marts.fct_time_entries GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
        firm = busiest_firm(db)
        for period, chosen_firm in ((Period(quarter), None), (Period(quarter[:4]), firm), (Period(ALL_TIME), firm)):
            state = {"filter_period": period.label, "filter_firm": chosen_firm or "All"}
            shown = {m.label: m.value for m in open_page(at, "overview", **state).metric}
            clients = clients_direct(con, period, chosen_firm)["Total"]
            cases, attorneys, hours = time_direct(con, period, chosen_firm)
            assert int(shown["Clients served"].replace(",", "")) == clients, state
            assert shown["Pro bono hours"] == f"{hours:,.0f}", state

            open_page(at, "partner_firms", **state)
            tiles = {m.label: m.value for m in at.metric}  # the scope's totals: one firm, or all firms
            cases, attorneys, hours = time_direct(con, period, chosen_firm)
            assert (tiles["Cases with time"], tiles["Pro bono hours"]) == (f"{cases:,}", f"{hours:,.0f}"), state
            if chosen_firm is None:  # every firm compared
                table = at.dataframe[0].value.set_index("partner_firm")
                for firm_name in table.index.dropna():
                    cases, attorneys, hours = time_direct(con, period, firm_name)
                    assert table.loc[firm_name, "cases_with_time"] == cases, (state, firm_name)
                    assert table.loc[firm_name, "attorneys_participating"] == attorneys, (state, firm_name)
                    assert table.loc[firm_name, "hours"] == round(hours, 1), (state, firm_name)
            else:
                assert tiles["Attorneys participating"] == f"{attorneys:,}", state

            open_page(at, "vacaturs", **state)
            shown = at.dataframe[0].value.set_index(["recognition class", "vehicle"])
            outcomes, relief = motions_direct(con, period, chosen_firm)
            assert len(outcomes) > 0, state
            # The page names a recognition class in the seed's words (reports/vocabulary.py).
            class_words = vocabulary.read(db).vocabulary().words()
            for recognition_class, vehicle, outcome, motions in outcomes:
                assert shown.loc[(class_words[recognition_class], vehicle), outcome] == motions, (state, vehicle, outcome)
            assert shown["Total"].max() == sum(n for *_, n in outcomes), state  # the grand total: nothing else counted


def test_oldest_open_motions_are_the_pending_ones_filed_first(app_env):
    db = app_env
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.user = {"is_logged_in": True, "email": MANAGER, "email_verified": True}
    at.run()
    shown = open_page(at, "time_to_resolution").dataframe[-1].value
    with duckdb.connect(str(db), read_only=True) as con:
        (as_of,) = con.execute("SELECT max(as_of_date) FROM marts.mart_time_to_resolution").fetchone()
        # The caption says the day the days are counted to, as a date (no internal word for it).
        assert f"Days open from the filing to {as_of.day} {as_of:%b %Y}, the day the data runs to." in [
            c.value for c in at.caption]
        expected = con.execute(
            "SELECT motion_id, filing_date, date_diff('day', filing_date, (SELECT max(as_of_date) FROM marts.mart_time_to_resolution)) "
            "FROM marts.fct_motions WHERE outcome = 'pending' AND is_filed ORDER BY filing_date, motion_id LIMIT 25").fetchall()
    assert len(expected) == 25
    assert list(shown.motion_id) == [m for m, _, _ in expected]
    assert list(shown.days_open) == [d for _, _, d in expected]


@pytest.mark.parametrize("user", [MANAGER, PARTNER])
def test_sidebar_filters_offer_the_values_of_the_visitors_motions(app_env, user):
    db = app_env
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.user = {"is_logged_in": True, "email": user, "email_verified": True}
    at.run()
    offered = {s.label: list(s.options) for s in at.sidebar.selectbox}
    firm = busiest_firm(db) if user == PARTNER else None
    with duckdb.connect(str(db), read_only=True) as con:
        values = {column: [v for (v,) in con.execute(
            f"SELECT DISTINCT {column} FROM marts.fct_motions WHERE {column} IS NOT NULL AND (? IS NULL OR partner_firm = ?) "
            "ORDER BY 1", [firm, firm]).fetchall()] for column in FILTER_COLUMNS}
    quarters = sorted(set(values["filing_quarter"]) | set(values["decision_quarter"]), reverse=True)
    # Fiscal years start in July without a grants file saying otherwise: 2024-Q3 opens FY2024-25.
    fiscal_years = {int(q[:4]) - (int(q[-1]) <= 2) for q in quarters}
    assert offered["Period"] == [ALL_TIME, *[f"FY{y}-{(y + 1) % 100:02d}" for y in sorted(fiscal_years, reverse=True)],
                                 *sorted({q[:4] for q in quarters}, reverse=True), *quarters, CUSTOM_RANGE]
    assert offered["County"] == ["All", *values["county"]]
    assert offered["Vehicle"] == ["All", *values["vehicle"]]
    assert ("Partner firm" in offered) == (user == MANAGER)
    if user == MANAGER:
        assert offered["Partner firm"] == ["All", *values["partner_firm"]]
