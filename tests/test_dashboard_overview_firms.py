"""The Overview's trends, the Partner firms page, the sidebar's periods and the Grant reports
page with only the example grants, run by AppTest against a real published database (synthetic
exports through `pcr run`), for each role: every number shown equals the marts counted directly
(a funder's: equal, or hidden with a true marker); the quarter the data stops in is marked on
every trend chart."""
from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re

import duckdb
import numpy as np
import pandas as pd
import pytest
import streamlit as st
import streamlit.testing.v1.app_test as app_test_module
from streamlit.testing.v1 import AppTest

from access.disclosure import TOTAL_LABEL
from dashboards import data_docs
from e2e.support import APP, FUNDER, MANAGER, PARTNER, Recording, build_published_db, busiest_firm, open_page, write_roles
from reports import vocabulary
from reports.periods import fiscal_year_label, parse, quarter_label

THRESHOLD = 11


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    # The same folder as tests/test_dashboard.py: one build serves both.
    return build_published_db(tmp_path_factory.getbasetemp() / "dashboard_db", motions=1500)


@pytest.fixture(scope="session")
def firm(published):
    return busiest_firm(published)


@pytest.fixture
def env(pcr_env, published, firm, monkeypatch, tmp_path):
    monkeypatch.setenv("PCR_DB", str(published))
    monkeypatch.setenv("PCR_ROLES_FILE", str(write_roles(tmp_path / "roles.yml", firm, THRESHOLD)))
    monkeypatch.setenv("PCR_GRANTS_FILE", str(APP.parent.parent / "config" / "grants.example.yml"))
    st.config.set_option("server.address", "127.0.0.1")
    Recording.files.clear()
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Recording)
    return published


def sql(db, query: str, params=None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(query, params or []).fetchall()


def app(user: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.user = {"is_logged_in": True, "email": user, "email_verified": True}
    return at.run()


def charts(at: AppTest) -> dict[str, dict]:
    return {spec["layout"]["title"]["text"]: spec for spec in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))}


def numbers(trace: dict, axis: str = "y") -> list:
    """A trace's values as drawn: Plotly sends a column of numbers as a typed array (base64)."""
    values = trace.get(axis)
    if isinstance(values, dict) and "bdata" in values:
        decoded = np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
        return [None if np.isnan(v) else float(v) for v in decoded.astype(float)]
    return list(values or [])


def series(spec: dict) -> dict[str, dict[str, float | None]]:
    return {trace["name"]: dict(zip(trace["x"], trace["y"])) for trace in spec["data"]}


def as_of(db) -> dt.date:
    return sql(db, "SELECT as_of_date FROM intermediate.int_as_of_date")[0][0]


def check_shown(shown: float | None, true: int, funder: bool, what: str) -> None:
    """A number on a chart equals the marts; a funder's is that number, or left out (hidden)."""
    if shown is None:
        assert funder, f"{what}: not drawn for a role that sees every number"
        return
    assert shown == pytest.approx(true), what
    if funder and "hours" not in what:
        assert not 0 < true < THRESHOLD, f"{what}: a count under {THRESHOLD} is drawn for a funder"


# --- Overview trends -----------------------------------------------------------------------------

@pytest.mark.parametrize("user", [MANAGER, PARTNER, FUNDER])
def test_overview_trends_equal_the_marts_and_mark_the_quarter_the_data_stops_in(env, firm, user):
    """By quarter for a manager and a partner; by calendar year for a funder (by quarter most of
    a funder's numbers would be hidden), the years of the same twelve quarters."""
    db, funder = env, user == FUNDER
    own = firm if user == PARTNER else None
    shown = charts(open_page(app(user), "overview"))
    current = quarter_label(as_of(db))
    # A period's rows in a mart: its quarter, or every quarter of its year.
    in_period = "left({0}, ?) = ?"

    decided = series(shown["Motions decided and granted"])
    periods = list(decided["decided"])
    if funder:
        assert periods == [str(y) for y in range(as_of(db).year - 2, as_of(db).year + 1)], periods
    else:
        assert len(periods) == 12 and periods[-1] == current
    for period in periods:
        n_decided, n_granted = sql(db, "SELECT count(*), count(*) FILTER (WHERE is_granted) FROM marts.fct_motions "
                                       f"WHERE is_decided AND {in_period.format('decision_quarter')} "
                                       "AND (? IS NULL OR partner_firm = ?)", [len(period), period, own, own])[0]
        check_shown(decided["decided"][period], n_decided, funder, f"decided {period}")
        check_shown(decided["granted (incl. in part)"][period], n_granted, funder, f"granted {period}")

    hours = series(shown["Pro bono hours"])["hours"]
    for period in periods:
        (true,) = sql(db, f"SELECT coalesce(sum(hours), 0) FROM marts.fct_time_entries WHERE {in_period.format('entry_quarter')} "
                          "AND (? IS NULL OR partner_firm = ?)", [len(period), period, own, own])[0]
        check_shown(hours[period], true, funder, f"hours {period}")

    if "Clients whose removal was avoided" in shown:  # a funder's may be mostly hidden: a sentence instead
        removal = series(shown["Clients whose removal was avoided"])
        for status, drawn in removal.items():
            for period in periods:
                (true,) = sql(db, f"SELECT count(*) FROM marts.mart_removal_avoided WHERE {in_period.format('status_quarter')} "
                                  "AND removal_avoided_status = ? AND (? IS NULL OR partner_firm = ?)",
                              [len(period), period, status, own, own])[0]
                check_shown(drawn[period], true, funder, f"removal avoided {status} {period}")
    else:
        assert funder

    marked = current[:4] if funder else current
    partial = parse(marked).partial(as_of(db))
    for title, spec in shown.items():  # every trend chart marks the partial quarter (a funder's: year), and only it
        for trace in spec["data"]:
            shapes = trace["marker"]["pattern"]["shape"] if partial else []
            assert not partial or shapes == ["/" if q == marked else "" for q in trace["x"]], title
        notes = [a["text"] for a in spec["layout"].get("annotations", [])]
        assert not partial or f"{marked} (hatched): data to " in " ".join(notes), title


def quarters_between(first: str, last: str) -> list[str]:
    """Every quarter label from ``first`` to ``last``, counted here rather than by the app."""
    year, quarter = int(first[:4]), int(first[-1])
    out = []
    while f"{year}-Q{quarter}" <= last:
        out.append(f"{year}-Q{quarter}")
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    return out


# page: (download of its trend, first column, mart, quarter column, series column, what it counts)
TRENDS = {
    "vacaturs": ("granted relief by quarter", "decision_quarter", "mart_dashboard_relief_granted", "decision_quarter",
                 "relief_kind", "sum(motions)"),
    "removal": ("removal avoided by quarter", "status_quarter", "mart_removal_avoided", "status_quarter",
                "removal_avoided_status", "count(*)"),
}


@pytest.mark.parametrize("page", TRENDS)
@pytest.mark.parametrize("user", [MANAGER, PARTNER])
def test_a_trend_has_every_quarter_from_its_first_to_the_data_s_last_and_0_where_none_happened(env, firm, user, page):
    """A quarter without an event inside a trend's range is a row of zeros (table, download and
    chart), not a gap that makes 2018-Q1 and 2018-Q3 look adjacent; the range runs from the
    first quarter with an event to the quarter the data stops in; every count is the mart's."""
    db, own = env, firm if user == PARTNER else None
    name, first_column, mart, quarter, series_column, measure = TRENDS[page]
    at = open_page(app(user), page)
    button = next(b for b in at.download_button if b.label == f"Download {name} (CSV)")
    shown = pd.read_csv(io.BytesIO(Recording.files[button.proto.url]), dtype={first_column: str}).set_index(first_column)
    rows = sql(db, f"SELECT {quarter}, {series_column}, CAST({measure} AS BIGINT) FROM marts.{mart} WHERE {quarter} IS NOT NULL "
                   "AND (? IS NULL OR partner_firm = ?) GROUP BY ALL", [own, own])
    truth = {(q, s): n for q, s, n in rows}
    expected = quarters_between(min(q for q, _, _ in rows), quarter_label(as_of(db)))
    dated = [label for label in shown.index if re.fullmatch(r"\d{4}-Q[1-4]", label)]
    assert dated == expected
    empty = [q for q in expected if not any(q == tq for tq, _ in truth)]
    if user == PARTNER:
        assert empty, "the firm has an event in every quarter: the test would not see a gap"
    for q in expected:
        for column in shown.columns.drop(TOTAL_LABEL, errors="ignore"):
            assert shown.loc[q, column] == truth.get((q, column), 0), (q, column)
    assert all(shown.loc[q].drop(TOTAL_LABEL, errors="ignore").sum() == 0 for q in empty)
    # The chart's time axis is the table's: the empty quarters drawn at 0.
    (spec,) = [spec for title, spec in charts(at).items() if title.endswith("by quarter") or title == "Granted relief by kind"]
    for trace in spec["data"]:
        assert list(trace["x"]) == expected, trace["name"]
        drawn = dict(zip(trace["x"], numbers(trace)))
        assert len(drawn) == len(expected) and all(drawn[q] == 0 for q in empty), trace["name"]


@pytest.mark.parametrize("page, name", [("vacaturs", "granted relief by year"), ("removal", "removal avoided by year")])
def test_a_funders_trend_by_year_has_every_year_to_the_data_s_last(env, page, name):
    db = env
    at = open_page(app(FUNDER), page, filter_county=sparse_county(db))
    button = next((b for b in at.download_button if b.label == f"Download {name} (CSV)"), None)
    assert button is not None, [b.label for b in at.download_button]
    years = [y for y in pd.read_csv(io.BytesIO(Recording.files[button.proto.url]), dtype=str).iloc[:, 0] if re.fullmatch(r"\d{4}", y)]
    assert years == [str(y) for y in range(int(years[0]), as_of(db).year + 1)]


def sparse_county(db) -> str:
    """A county with granted relief and removal-avoided clients, in few years: its trends by year have gaps to fill."""
    return sql(db, "SELECT county FROM marts.mart_dashboard_relief_granted r WHERE decision_quarter IS NOT NULL "
                   "AND county IN (SELECT county FROM marts.mart_removal_avoided WHERE status_quarter IS NOT NULL) "
                   "GROUP BY county ORDER BY count(DISTINCT left(decision_quarter, 4)), county LIMIT 1")[0][0]


@pytest.mark.parametrize("user", [MANAGER, FUNDER])
def test_the_removal_trend_s_title_names_the_statuses_it_draws(env, user):
    """A status whose numbers are all hidden (a funder's administrative closure, a few clients a
    year) leaves no mark on the chart, so its title does not name it; every status drawn is named.
    The funder's year is one whose chart is drawn (over all time most of its years have a hidden
    number, and a sentence replaces the chart)."""
    at = open_page(app(user), "removal", **({"filter_period": "2025"} if user == FUNDER else {}))
    words = vocabulary.read(env).vocabulary()
    (title, spec), = [(t, spec) for t, spec in charts(at).items() if re.search(r" by (quarter|calendar year)$", t)]
    drawn = [trace["name"] for trace in spec["data"]
             if any(y is not None and (y > 0 or trace["type"] == "scatter") for y in numbers(trace))]
    named = [words.label(s) for s in ("confirmed", "projected", "administrative_closure") if words.label(s) in title.lower()]
    assert named == drawn, (title, drawn)
    if user == FUNDER:
        assert words.label("administrative_closure") not in drawn, "the funder's chart draws every status: nothing to leave out"


def test_overview_of_a_fiscal_year_counts_by_the_days_of_that_year(env):
    """FY periods follow the grants file's fiscal_year_start_month (7 in the example): the tiles
    equal the motions decided between 1 July and 30 June, and the change is against the year before."""
    db = env
    fiscal_year = fiscal_year_label(as_of(db) - dt.timedelta(days=365), 7)
    period = parse(fiscal_year, 7)
    at = open_page(app(MANAGER), "overview", filter_period=fiscal_year)
    tiles = {m.label: m for m in at.metric}

    def counts(start, end):
        return sql(db, "SELECT count(*) FILTER (WHERE is_decided), count(*) FILTER (WHERE is_granted AND is_decided) "
                       "FROM marts.fct_motions WHERE decision_date BETWEEN ? AND ?", [start, end])[0]

    decided, granted = counts(*period.bounds())
    before_decided, before_granted = counts(*period.previous().bounds())
    assert int(tiles["Motions decided"].value.replace(",", "")) == decided
    assert int(tiles["Motions granted"].value.replace(",", "")) == granted
    assert int(tiles["Motions granted"].delta.replace(",", "")) == granted - before_granted
    (hours,) = sql(db, "SELECT sum(hours) FROM marts.fct_time_entries WHERE entry_date BETWEEN ? AND ?", list(period.bounds()))[0]
    assert int(tiles["Pro bono hours"].value.replace(",", "")) == round(hours)
    assert any(fiscal_year in c.value and "fiscal year" in c.value for c in at.sidebar.caption)


def test_overview_of_a_custom_range_of_quarters(env):
    db = env
    at = open_page(app(MANAGER), "overview", filter_period="Custom range of quarters…",
                   filter_range_first="2025-Q2", filter_range_last="2025-Q4")
    (decided,) = sql(db, "SELECT count(*) FROM marts.fct_motions WHERE is_decided AND decision_date BETWEEN '2025-04-01' AND '2025-12-31'")[0]
    assert int({m.label: m.value for m in at.metric}["Motions decided"].replace(",", "")) == decided
    assert "change against 2024-Q3 to 2025-Q1" in at.main.caption[0].value


def test_needs_attention_is_for_program_managers_only(env):
    db = env
    at = open_page(app(MANAGER), "overview")
    assert [t.label for t in at.tabs] == ["Oldest open motions", "Waiting longest for filing", "Data problems of the last run"]
    oldest = next(d.value for d in at.dataframe if "days_open" in d.value.columns)
    expected = [m for (m,) in sql(db, "SELECT motion_id FROM marts.fct_motions WHERE outcome = 'pending' AND is_filed "
                                      "ORDER BY filing_date, motion_id LIMIT 10")]
    assert list(oldest["motion_id"]) == expected
    waiting = next(d.value for d in at.dataframe if "days_since_referral" in d.value.columns)
    expected = [c for (c,) in sql(db, "SELECT case_id FROM marts.fct_cases WHERE case_status = 'open' AND referral_date IS NOT NULL "
                                      "AND coalesce(motions_filed, 0) = 0 ORDER BY referral_date, case_id LIMIT 10")]
    assert list(waiting["case_id"]) == expected
    quarantined = next(d.value for d in at.dataframe if "rows_quarantined" in d.value.columns)
    assert quarantined["rows_quarantined"].sum() == sql(db, "SELECT rows_quarantined FROM pipeline.runs ORDER BY finished_at DESC LIMIT 1")[0][0]
    for user in (PARTNER, FUNDER):
        at = open_page(app(user), "overview")
        assert not at.tabs and not at.dataframe


# --- Partner firms -------------------------------------------------------------------------------

def firm_numbers(db, firm: str | None) -> dict[str, float]:
    """One firm's (or, with None, all firms') numbers, counted on the facts."""
    hours, value, cases, attorneys = sql(db, "SELECT coalesce(sum(hours), 0), coalesce(sum(value_usd), 0), count(DISTINCT case_id), "
                                             "count(DISTINCT attorney_id) "
                                             "FROM marts.fct_time_entries WHERE ? IS NULL OR partner_firm = ?", [firm, firm])[0]
    decided, granted = sql(db, "SELECT count(*), count(*) FILTER (WHERE is_granted) FROM marts.fct_motions "
                               "WHERE is_decided AND (? IS NULL OR partner_firm = ?)", [firm, firm])[0]
    (avoided,) = sql(db, "SELECT count(*) FROM marts.mart_removal_avoided WHERE removal_avoided_status IN ('confirmed', 'projected') "
                         "AND (? IS NULL OR partner_firm = ?)", [firm, firm])[0]
    return {"hours": hours, "value_usd": value, "cases_with_time": cases, "attorneys_participating": attorneys,
            "decided": decided, "granted": granted, "avoided": avoided}


def test_program_managers_compare_every_firm_with_the_marts(env):
    db = env
    at = open_page(app(MANAGER), "partner_firms")
    button = next(b for b in at.download_button if b.label == "Download partner firms compared (CSV)")
    table = pd.read_csv(io.BytesIO(Recording.files[button.proto.url])).set_index("partner_firm")
    firms = [f for (f,) in sql(db, "SELECT DISTINCT partner_firm FROM marts.fct_time_entries WHERE partner_firm IS NOT NULL")]
    assert set(firms) <= set(table.index)
    assert list(table["hours"]) == sorted(table["hours"], reverse=True)  # the busiest firm first
    for name in firms:
        expected, row = firm_numbers(db, name), table.loc[name]
        for column in ("hours", "cases_with_time", "attorneys_participating", "decided", "avoided"):
            assert row[column] == pytest.approx(expected[column], abs=0.051), (name, column)
        assert row["value_usd"] == pytest.approx(expected["value_usd"])
        assert row["grant rate (%)"] == pytest.approx(round(100 * expected["granted"] / expected["decided"], 1))
        assert row["hours_per_case"] == pytest.approx(round(expected["hours"] / expected["cases_with_time"], 1))
        assert row["hours_per_attorney"] == pytest.approx(round(expected["hours"] / expected["attorneys_participating"], 1))
    assert {"Grant rate by firm", "Hours per attorney by firm"} <= set(charts(at))


@pytest.mark.parametrize("user", [PARTNER, FUNDER])
def test_a_partner_sees_its_firm_and_a_funder_the_program_never_a_comparison(env, firm, user):
    db = env
    at = open_page(app(user), "partner_firms")
    expected = firm_numbers(db, firm if user == PARTNER else None)
    tiles = {m.label: m.value for m in at.metric}
    shown_firms = {str(v) for d in at.dataframe for v in d.value.get("partner_firm", [])}
    assert shown_firms <= {firm} and not charts(at).keys() & {"Grant rate by firm", "Hours per attorney by firm"}

    def number(label):
        return float(re.sub(r"[,$%]", "", tiles[label]))

    assert number("Pro bono hours") == pytest.approx(round(expected["hours"]))
    assert number("Value of donated time") == pytest.approx(round(expected["value_usd"]))
    if expected["cases_with_time"]:
        assert number("Hours per case") == pytest.approx(round(expected["hours"] / expected["cases_with_time"], 1))
    else:  # no time logged: no ratio, not 0
        assert tiles["Hours per case"] == "–"
    assert number("Motions decided") == expected["decided"]
    if expected["decided"]:
        assert number("Grant rate") == pytest.approx(round(100 * expected["granted"] / expected["decided"], 1))
    assert number("Removal avoided (clients)") == expected["avoided"]
    # Attorneys participating: shown to a funder as the grant report shows it, "<11" from 1 to 10,
    # and hours per attorney withheld over so few.
    attorneys = expected["attorneys_participating"]
    if user == FUNDER and 0 < attorneys < THRESHOLD:
        assert tiles["Attorneys participating"] == f"<{THRESHOLD}"
        assert tiles["Hours per attorney"] == f"fewer than {THRESHOLD} attorneys"
    else:
        assert number("Attorneys participating") == attorneys
        if attorneys:
            assert number("Hours per attorney") == pytest.approx(round(expected["hours"] / attorneys, 1))


# --- Grant reports right after the quick start ---------------------------------------------------

def test_the_grant_reports_page_works_with_only_the_example_grants(env, monkeypatch, tmp_path):
    missing = tmp_path / "config" / "grants.yml"
    monkeypatch.setenv("PCR_GRANTS_FILE", str(missing))
    at = open_page(app(MANAGER), "grant_report")
    assert not at.error and not at.exception
    note = at.info[0].value
    assert "example grants" in note and str(missing) in note and "grants.example.yml" in note
    assert any("CBF-2025-PCR" in option for box in at.main.selectbox for option in box.options)
    assert at.dataframe and len(at.download_button) == 3
    every_text = " ".join(e.value for e in [*at.info, *at.caption, *at.markdown])
    assert "--grants" not in every_text and "--" not in note
    funder = open_page(app(FUNDER), "grant_report")
    # Not "no grants are configured": the funder's own grant is linked, the file is what is missing.
    assert [i.value for i in funder.info] == ["The grant report of CBF-2025-PCR cannot be shown yet: the program's grants "
                                              "file is not in place. Ask the program manager to add it."]


# --- Data quality ----------------------------------------------------------------------------------

def test_data_quality_shows_each_checks_description_whole_and_its_group_in_words(env):
    """The validation results are a table that wraps: every check's sentence is there in full
    (a grid cuts it off at its column's width), beside its group as docs/ call it."""
    db = env
    at = open_page(app(MANAGER), "data_quality")
    (table,) = [t.value for t in at.table if "fails when" in t.value.columns]
    run = sql(db, "SELECT run_id FROM pipeline.runs ORDER BY finished_at DESC LIMIT 1")[0][0]
    truth = sql(db, "SELECT suite, description FROM pipeline.validation_results WHERE run_id = ?", [run])
    assert sorted(table["fails when"]) == sorted(description for _, description in truth)
    assert max(len(d) for _, d in truth) > 100  # sentences a grid's column would cut off
    groups = set(table["check group"])
    assert groups == {vocabulary.Vocabulary.suite(suite) for suite, _ in truth}
    renamed = {suite for suite, _ in truth if vocabulary.Vocabulary.suite(suite) != suite}
    assert renamed and not groups & renamed, groups  # marts, staged: the project's names, not the reader's
    assert set(table["met"]) <= {"yes", "no"}


# --- Data Docs -----------------------------------------------------------------------------------

def test_data_docs_are_rendered_self_contained_with_their_tables_filled(env):
    (index,) = sql(env, "SELECT data_docs FROM pipeline.runs ORDER BY finished_at DESC LIMIT 1")[0]
    root = pd.io.common.Path(index).parent
    pages = data_docs.pages(root)
    assert pages[0] == "index.html" and len(pages) > 10
    (validations,) = sql(env, "SELECT count(DISTINCT suite || '.' || dataset) FROM pipeline.validation_results "
                              "WHERE run_id = (SELECT run_id FROM pipeline.runs ORDER BY finished_at DESC LIMIT 1)")[0]
    named = sql(env, "SELECT DISTINCT suite, dataset FROM pipeline.validation_results")
    words = vocabulary.Vocabulary
    names = {f"{suite}.{dataset}": words.validation(suite, dataset) for suite, dataset in named}
    for page in pages:
        document = data_docs.render(root, page, lambda other: data_docs.page_link("run", other), names)
        read = re.sub(r"<[^>]*>", " ", re.sub(r"<style\b.*?</style>", "", document, flags=re.DOTALL))
        # The app's words, not Great Expectations' names or its newsletter.
        assert "__none__" not in read and "Subscribe" not in read, page
        # Nor its credit line or the project's internal name after the title ("Data Docs | pcr").
        assert "autogenerated" not in read and not re.search(r"\bpcr\b", read), page
        assert not [name for name in names if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", read)], page
        assert "<script" not in document.lower()
        assert not re.search(r"<(link|img|script)\b[^>]*(src|href)=[\"']?(https?:)?//", document, re.IGNORECASE), page
        assert not re.search(r"url\(\s*['\"]?(https?:)?//", document), page
    index_html = data_docs.render(root, "index.html", lambda other: data_docs.page_link("run", other), names)
    rows = re.findall(r"<tr>", index_html.split("section-1-content-block-2-1-body-table", 1)[1].split("</table>", 1)[0])
    assert len(rows) - 1 == validations  # one row per validation, under the header
    with pytest.raises(data_docs.DocsNotFound):
        data_docs.page_path(root, "../../pcr.duckdb")


# --- tiles and columns read alike ----------------------------------------------------------------

@pytest.mark.parametrize("user", [MANAGER, PARTNER, FUNDER])
@pytest.mark.parametrize("page", ["overview", "partner_firms"])
def test_every_tile_has_its_help_text(env, user, page):
    at = open_page(app(user), page)
    assert at.metric, page
    assert [m.label for m in at.metric if not m.proto.help] == [], (page, user)


def test_a_funders_numbers_with_markers_sit_right_and_ratios_keep_one_decimal(env):
    funder = open_page(app(FUNDER), "partner_firms")
    outcomes = next(d for d in funder.dataframe if "outcome" in d.value.columns)
    config = json.loads(outcomes.proto.columns)
    assert config["count"]["alignment"] == "right" and "alignment" not in config["outcome"]
    manager = open_page(app(MANAGER), "partner_firms")
    compared = next(d for d in manager.dataframe if "hours_per_case" in d.value.columns)
    config = json.loads(compared.proto.columns)
    for column in ("hours_per_case", "hours_per_attorney"):
        assert config[column]["type_config"]["format"] == "%.1f", column
