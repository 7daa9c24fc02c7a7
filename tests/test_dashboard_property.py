"""Empty is not an error: every dashboard page, for every role and any sidebar filters the app
offers, renders without a traceback, and where nothing matches it says so in a sentence instead
of drawing an empty table.

A real published database (synthetic exports through `pcr run`, the one tests/test_dashboard.py
uses) is read by the real app under AppTest. Hypothesis draws a role (program manager, a partner
firm with cases, a partner firm with no rows at all, a funder), a page and a value for each
sidebar filter from the options the app offers that role; county, firm, vehicle and period drawn
independently make many combinations that match no motion.

A funder's numbers are true, and no hidden one can be worked out: Hypothesis draws a page and
filters from what the funder is offered (and the page's own choices, e.g. time to resolution's
measure and grouping); the funder's page and the program manager's are opened with the same
filters. The manager's download of a table is the truth of the funder's download of the same
name, cell by cell, and the manager's Overview tiles the truth of the funder's: a "<11" stands on
1 to 10, "withheld" on no zero, and on a small count only where the table shows no positive
number; "fewer than 11 <unit>" over a group of 1 to 10; every number shown is the true one. From
each table's Total row and column, and the sums a reader knows across a page's tables, no hidden
count is pinned (the rules and the integer program are tests/disclosure_check.py's)."""
from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pytest
import streamlit as st
import streamlit.testing.v1.app_test as app_test_module
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as some
from streamlit.testing.v1 import AppTest

from access.disclosure import TOTAL_LABEL, WITHHELD
from disclosure_check import assert_markers_true, layout_equations, value_range
from dashboards.views.common import CUSTOM_RANGE
from e2e.support import APP, FUNDER, MANAGER, PARTNER, build_published_db, busiest_firm
from reports.periods import parse
from test_dashboard import Recording

# A partner firm spelled in the roles file that has no case in the exports (as the example
# roles file's "Firm A LLP").
EMPTY_FIRM = "Firm A LLP"
EMPTY_PARTNER = "coordinator@firm-a.example"
THRESHOLD = 11
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
        f"suppression_threshold: {THRESHOLD}\nusers:\n"
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
    at.switch_page(f"../dashboards/views/{page}.py")
    return at.run()


@pytest.fixture(scope="module")
def offered(app_env) -> dict[str, dict[str, list[str]]]:
    """The sidebar's options for each role, as the app draws them."""
    options = {}
    for role in USERS:
        at = run_page(role, "overview", {})
        assert not at.exception, [e.message for e in at.exception]
        # The custom range of quarters is drawn by its own two boxes, not as a period label.
        options[role] = {box.label: [o for o in box.options if o != CUSTOM_RANGE] for box in at.sidebar.selectbox if box.label in FILTERS}
    assert options["partner_without_rows"] == {"Period": ["All time"], "County": ["All"], "Vehicle": ["All"]}
    assert len(options["manager"]["County"]) > 10 and len(options["funder"]["Vehicle"]) > 10
    return options


def days(period: str) -> tuple[dt.date, dt.date]:
    """First and last day of a sidebar period; fiscal years start in July (the default: no grants file here)."""
    return (dt.date(1, 1, 1), dt.date(9999, 12, 31)) if period == "All time" else parse(period, 7).bounds()


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
    if period != "All time":  # by the period's days (a quarter, a year or a fiscal year)
        conditions.append("(filing_date BETWEEN ? AND ? OR decision_date BETWEEN ? AND ?)")
        params += [*days(period), *days(period)]
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



@pytest.mark.parametrize("role", list(USERS))
def test_every_page_the_app_offers_a_role_renders_without_an_error(env, role):
    """The pages outside the filters' draw too: Grant reports (here with no grants file of the
    program's own), and for program managers the Access log and Data Docs."""
    from dashboards.app import MANAGER_PAGES, PAGES as SHARED_PAGES

    for file, title, _ in SHARED_PAGES + (MANAGER_PAGES if role == "manager" else []):
        at = run_page(role, file.removesuffix(".py"), {})
        assert not at.exception, f"{title}: {[e.message for e in at.exception]}"
        assert not at.error, f"{title}: {[e.value for e in at.error]}"
        assert len(at.main.children) > 1, f"{title}: nothing on the page but its title"

# --- what a funder is shown, against the program manager's same page ----------------------------
#
# The funder's page and the program manager's, opened with the same filters, are the same code
# with and without suppression (dashboards/views/common.py), so the manager's download of a
# table is the truth of the funder's download of the same name, cell by cell. Checked with the
# independent rules of tests/disclosure_check.py: every marker true for the number it stands on,
# every shown number the true one, and no hidden count worked out from a table's margins or
# from the sums a reader knows across the tables of a page (which are published together).

FUNDER_PAGES = ["overview", "vacaturs", "removal", "time_to_resolution", "partner_firms"]
# Choices a page offers besides the sidebar (label of its selectbox: session key), drawn too.
PAGE_CHOICES = {"time_to_resolution": {"Measure": "ttr_measure", "Compare by": "ttr_dimension"}}
# Columns of a program manager's download that the funder's leaves out by design.
MANAGER_ONLY = {
    # Event and censoring counts are small counts over time; funders get the estimates only.
    "time to resolution medians": {"events", "censored"},
}
# Tiles a program manager sees and a funder does not: attorney head counts are small counts of
# people, and hours ÷ hours per attorney gives them back.
# Leading columns that label the rows (1 unless listed).
ROW_LABEL_COLUMNS = {"motions by vehicle and outcome": 2}
# The column of row totals: "Total", which the granted relief table names for what it holds.
MARGIN_COLUMNS = {TOTAL_LABEL, "all granted relief"}
# Numbers that are not counts of a table's margins: rates, hours, dollars, days, and the sum of
# vacatur classes beside the relief table, a year's change against the year before. Their "withheld" says a number would reveal a hidden
# count, a statement about the other cells, so it bounds nothing of its own.
NOT_COUNTS = re.compile(r"rate|hours|usd|value|days|per_|per case|\(all classes\)|^change$", re.IGNORECASE)
# Overview tiles read off one table each: whether that table shows a positive number decides
# what "withheld" may stand on (tests/disclosure_check.py).
TILES_OF_ONE_TABLE = [{"Motions decided", "Motions granted"},
                      {"Vacaturs granted", "Offense reductions", "Sentence modifications"},
                      {"Removal avoided (confirmed)", "Removal avoided (projected)"}]
KM_TILE = "Median days, referral to decision (Kaplan–Meier)"


@pytest.fixture
def recorded(env, monkeypatch):
    """The app's settings, with every download button's bytes kept (tests/test_dashboard.py)."""
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Recording)
    return env


@pytest.fixture(scope="module")
def page_choices(app_env) -> dict[str, dict[str, list[str]]]:
    """The values of each page's own selectboxes as the funder is offered them. The boxes show
    labels, so the values are the marts' measures and dimensions the boxes format into a label."""
    with duckdb.connect(str(app_env["db"]), read_only=True) as con:
        candidates = {key: [r[0] for r in con.execute(f"SELECT DISTINCT {column} FROM marts.mart_time_to_resolution ORDER BY 1").fetchall()]
                      for key, column in (("ttr_measure", "measure"), ("ttr_dimension", "dimension"))}
    choices = {}
    for page, boxes in PAGE_CHOICES.items():
        at = run_page("funder", page, {})
        choices[page] = {}
        for label, key in boxes.items():
            box = at.selectbox(key=key)
            values = [c for c in candidates[key] if box.format_func(c) in box.options]
            assert len(values) == len(box.options), f"{page}: {label}: not every option is a value of the mart"
            choices[page][key] = values
    return choices


def downloads(at: AppTest) -> dict[str, pd.DataFrame]:
    """Each CSV download of the page by table name, every cell as the text in the file."""
    found = {}
    for button in at.download_button:
        name = re.fullmatch(r"Download (.+) \(CSV\)", button.label).group(1)
        found[name] = pd.read_csv(io.BytesIO(Recording.files[button.proto.url]), dtype=str, keep_default_na=False)
    return found


def as_number(text: str) -> float | None:
    """A number as pages write it (1,439 / $825,250 / 66.7% / 271.0); None for anything else."""
    try:
        return float(text.replace(",", "").replace("$", "").removesuffix("%"))
    except ValueError:
        return None


def is_marker(text: str, threshold: int) -> bool:
    return text in (f"<{threshold}", WITHHELD) or text.startswith(f"fewer than {threshold} ")


def check_count(where: str, shown: str, true: float, witness: tuple[str, float] | None, threshold: int) -> None:
    """One count against its true value, by tests/disclosure_check.py's rule. ``witness``: a
    positive count the same table shows (shown text, true value), if any, since "withheld" may
    stand on a small count only where a table shows no positive number."""
    def published(text: str) -> tuple[str, float]:
        """The count as the rule reads it; pages write some with thousands separators, some without."""
        if is_marker(text, threshold):
            return text, np.nan
        number = as_number(text)
        assert number is not None and number == round(number), f"{where}: {text!r} is neither a count nor a marker"
        return f"{int(number):,}", number

    display, values = map(list, zip(published(shown), *([published(witness[0])] if witness else [])))
    truth = [true, *([witness[1]] if witness else [])]
    try:
        assert_markers_true(np.array(display, dtype=object), np.array(values, dtype=float), np.array(truth, dtype=float), threshold)
    except AssertionError:
        raise AssertionError(f"{where}: shows {shown!r}, the true count is {true:g}"
                             + ("" if witness else " (no positive count shown beside it)")) from None


def check_measure(where: str, shown: str, true: str, group_counts: list[float], threshold: int) -> None:
    """A rate, hours, dollars or days: shown as the true number, or hidden by a marker that
    bounds nothing of the number itself; "fewer than 11 <unit>" says its group is 1 to 10."""
    if shown == WITHHELD:
        return
    assert shown != f"<{threshold}", f"{where}: '<{threshold}' on a number that is not a count (true {true!r})"
    if shown.startswith(f"fewer than {threshold} "):
        assert group_counts and all(1 <= n < threshold for n in group_counts), (
            f"{where}: {shown!r}, but the group counts {group_counts}")
        return
    if as_number(shown) is None:  # "–" (no denominator), "" (not reached), "not available": as for the manager
        assert shown == true, f"{where}: shows {shown!r}, the manager sees {true!r}"
    else:
        assert as_number(shown) == as_number(true), f"{where}: shows {shown!r}, the true number is {true!r}"


def layout_of(name: str, frame: pd.DataFrame) -> tuple[list[str], list[str], list[str], str | None]:
    """Row label columns, count columns, other numbers' columns, and the margin column."""
    n_labels = ROW_LABEL_COLUMNS.get(name, 1)
    labels, rest = list(frame.columns[:n_labels]), list(frame.columns[n_labels:])
    margins = [c for c in rest if c in MARGIN_COLUMNS]
    assert len(margins) <= 1, f"{name}: more than one column of row totals: {margins}"
    counts = [c for c in rest if not NOT_COUNTS.search(c) and c not in margins]
    return labels, counts, [c for c in rest if NOT_COUNTS.search(c)], (margins[0] if margins else None)


@dataclass
class Counts:
    """The counts and margins of one download, row-major, as the funder sees them and as they are."""

    name: str
    rows: list[tuple[str, ...]]  # each row's labels
    columns: list[str]
    display: np.ndarray  # text shown, (rows, columns)
    truth: np.ndarray  # the manager's numbers
    equations: list[tuple[list[int], int]]  # the table's own sums, in flat entries

    def entry(self, row: tuple[str, ...], column: str) -> int | None:
        """The flat entry of a cell; None when the table has no such row or column."""
        if row not in self.rows or column not in self.columns:
            return None
        return self.rows.index(row) * len(self.columns) + self.columns.index(column)

    def where(self, entry: int) -> str:
        return f"download {self.name!r}, row {' / '.join(self.rows[entry // len(self.columns)])!r}, column {self.columns[entry % len(self.columns)]!r}"


def check_download(name: str, shown: pd.DataFrame, truth: pd.DataFrame, threshold: int, where: str) -> Counts | None:
    """A funder's download against the program manager's of the same name: columns and rows,
    every cell; returns its counts and their sums."""
    where = f"{where}, download {name!r}"
    kept = [c for c in truth.columns if c not in MANAGER_ONLY.get(name, set())]
    assert list(shown.columns) == kept, f"{where}: columns {list(shown.columns)}, the manager's without theirs {kept}"
    truth = truth[kept]
    labels, counts, measures, margin = layout_of(name, shown)
    # A page may list rows busiest first as each reader sees them (a funder's hidden count never
    # places its row): the same rows, each compared with the manager's row of the same labels.
    shown_rows = list(shown[labels].itertuples(index=False, name=None))
    truth_rows = list(truth[labels].itertuples(index=False, name=None))
    assert sorted(shown_rows) == sorted(truth_rows), f"{where}: the funder's rows differ from the manager's"
    truth = truth.iloc[[truth_rows.index(row) for row in shown_rows]].set_axis(shown.index)
    rows = list(shown[labels].itertuples(index=False, name=None))
    count_columns = counts + ([margin] if margin else [])
    true_counts = truth[count_columns].map(as_number)
    assert true_counts.notna().all().all(), f"{where}: the manager's counts are not all numbers"
    positive = [(shown.at[i, c], true_counts.at[i, c]) for c in count_columns for i in shown.index
                if not is_marker(shown.at[i, c], threshold) and (as_number(shown.at[i, c]) or 0) > 0]
    witness = positive[0] if positive else None
    for i, row in zip(shown.index, rows):
        at = f"{where}, row {' / '.join(row)!r}"
        for column in count_columns:
            check_count(f"{at}, column {column!r}", shown.at[i, column], true_counts.at[i, column], witness, threshold)
        for column in measures:
            check_measure(f"{at}, column {column!r}", shown.at[i, column], truth.at[i, column],
                          [true_counts.at[i, c] for c in counts], threshold)
    if not count_columns:
        return None
    table = Counts(name, rows, count_columns, shown[count_columns].to_numpy(dtype=object), true_counts.to_numpy(dtype=float),
                   margin_equations(shown[labels[0]], counts, margin, where))
    assert_none_pinned({name: table}, [], threshold, where.rsplit(", download", 1)[0])
    return table


def margin_equations(first_labels: pd.Series, counts: list[str], margin: str | None, where: str) -> list[tuple[list[int], int]]:
    """The sums a reader writes from a Total row and / or a column of row totals (tests/disclosure_check.py)."""
    total_rows = [k for k, label in enumerate(first_labels) if label == TOTAL_LABEL]
    if not total_rows and not margin:
        return []
    assert total_rows == [len(first_labels) - 1], f"{where}: row totals without one Total row, last"
    if not margin:  # a Total row under each column (vacaturs this year, last year): each column's own sum
        n_rows, width = len(first_labels) - 1, len(counts)
        return [([i * width + j for i in range(n_rows)], n_rows * width + j) for j in range(width)]
    return layout_equations(pd.DataFrame(np.zeros((len(first_labels), len(counts) + 1))))


Cell = tuple[str, int]  # (download name, flat entry)


def assert_none_pinned(tables: dict[str, Counts], links: list[tuple[list[Cell], Cell]], threshold: int, where: str) -> None:
    """No hidden count of ``tables`` is pinned by their own sums and the sums ``links`` across
    them, with what each marker says (tests/disclosure_check.py)."""
    names = list(tables)
    offsets = dict(zip(names, np.cumsum([0] + [tables[n].display.size for n in names]).tolist()))
    equations = [([offsets[n] + p for p in parts], offsets[n] + total) for n in names for parts, total in tables[n].equations]
    equations += [([offsets[n] + p for n, p in parts], offsets[total[0]] + total[1]) for parts, total in links]
    if not equations:
        return
    display = np.concatenate([tables[n].display.ravel() for n in names])
    truth = np.concatenate([tables[n].truth.ravel() for n in names])

    def cell(entry: int) -> str:
        name = next(n for n in reversed(names) if offsets[n] <= entry)
        return tables[name].where(entry - offsets[name])

    for parts, total in equations:
        assert truth[parts].sum() == truth[total], (
            f"{where}: {[cell(e) for e in parts]} do not add up to {cell(total)} for the manager: "
            "a sum this test says a reader knows is wrong")
    published = np.array([np.nan if is_marker(s, threshold) else as_number(s) for s in display], dtype=float)
    for entry in np.flatnonzero(np.isnan(published)):
        low, high = value_range(display, published, equations, threshold, int(entry))
        assert high - low >= 1, (f"{where}, {cell(int(entry))}: {display[entry]!r} is worked out as {low:g} (true {truth[entry]:g}) "
                                 f"from the sums of {', '.join(map(repr, names))}")


OUTCOMES, RELIEF, QUARTERS = "motions by vehicle and outcome", "granted relief by vehicle and class", "granted relief by quarter"
YEARS, THIS_AND_LAST_YEAR = "granted relief by year", "vacaturs this year and last year"
VACATUR_CLASSES = ["vacatur_recognized", "uncertain", "not_recognized"]
STATUS, STATUS_BY_QUARTER, STATUS_BY_COUNTY = "clients by removal-avoided status", "removal avoided by quarter", "removal avoided by county"
STATUS_BY_YEAR = "removal avoided by year"


# --- a funder's trends by year, against the marts ---------------------------------------------
#
# A funder's trends count by year (by quarter most of their numbers would be hidden); the manager
# has no such table, so its truth is counted here from the marts: each quarter label's year (the
# calendar year, or the July fiscal year when a fiscal year is chosen), the period's quarters and
# the filters the mart honours.

YEARLY = {  # download: (mart, its quarter column, its column of series, what it counts, filters it honours)
    STATUS_BY_YEAR: ("mart_removal_avoided", "status_quarter", "removal_avoided_status", "count(*)", ("county", "partner_firm")),
    YEARS: ("mart_dashboard_relief_granted", "decision_quarter", "relief_kind", "sum(motions)", ("county", "partner_firm", "vehicle")),
}
FILTER_COLUMNS = {"county": "filter_county", "partner_firm": "filter_firm", "vehicle": "filter_vehicle"}


def period_of(state: dict[str, str]) -> str:
    period = state.get("filter_period", "All time")
    return "All time" if period == CUSTOM_RANGE else period  # a custom range without its quarters is all time


def year_of(quarter: str, fiscal: bool) -> str:
    """``2025-Q3`` -> ``2025``, or with ``fiscal`` (July years) ``FY2025-26``; "none" stays "none"."""
    if not re.fullmatch(r"\d{4}-Q[1-4]", quarter):
        return quarter
    year, first_month = int(quarter[:4]), 3 * int(quarter[-1]) - 2
    start = year - (first_month < 7)
    return f"FY{start}-{(start + 1) % 100:02d}" if fiscal else str(year)


def yearly_truth(db, name: str, state: dict[str, str]) -> pd.DataFrame:
    """A funder's download of counts by year as the manager's would be: the true counts, year
    by year and in total, as text, straight from the mart."""
    relation, quarter, series, measure, honoured = YEARLY[name]
    conditions, params = ["true"], []
    for column in honoured:
        if state.get(FILTER_COLUMNS[column], "All") != "All":
            conditions.append(f"{column} = ?")
            params.append(state[FILTER_COLUMNS[column]])
    if relation == "mart_dashboard_relief_granted":
        conditions.append(f"{quarter} IS NOT NULL")
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(f"SELECT coalesce({quarter}, 'none') AS quarter, {series} AS series, CAST({measure} AS BIGINT) AS n "
                           f"FROM marts.{relation} WHERE {' AND '.join(conditions)} GROUP BY ALL", params).df()
    first, last = days(period_of(state))
    # A client with no date yet is in no period but all time.
    in_period = [(q == "none" and period_of(state) == "All time")
                 or bool(re.fullmatch(r"\d{4}-Q[1-4]", q) and first <= parse(q).start <= last) for q in rows["quarter"]]
    rows = rows[in_period]
    fiscal = parse(period_of(state), 7).kind == "fiscal_year" if period_of(state) != "All time" else False
    rows = rows.assign(year=[year_of(q, fiscal) for q in rows["quarter"]])
    table = rows.pivot_table(index="year", columns="series", values="n", aggfunc="sum", fill_value=0).sort_index()
    # Every year from the period's first (all time: the first with a count) to the year the data
    # stops in is a row, 0 where nothing happened in it; "none" (no date yet) after them.
    dated = [q for q in rows["quarter"] if q != "none"]
    if dated:
        with duckdb.connect(str(db), read_only=True) as con:
            (as_of,) = con.execute("SELECT as_of_date FROM intermediate.int_as_of_date").fetchone()
        start = first if period_of(state) != "All time" else parse(min(dated)).start
        end = min(last, parse(f"{as_of.year}-Q{(as_of.month - 1) // 3 + 1}").end)
        quarters = pd.period_range(start, end, freq="Q")
        years = list(dict.fromkeys(year_of(f"{q.year}-Q{q.quarter}", fiscal) for q in quarters))
        table = table.reindex([*years, *[y for y in table.index if y not in years]], fill_value=0)
    table[TOTAL_LABEL] = table.sum(axis=1)
    table.loc[TOTAL_LABEL] = table.sum(axis=0)
    label = "status_year" if name == STATUS_BY_YEAR else "decision_year"
    return table.astype(int).astype(str).rename_axis(index=label, columns=None).reset_index()


def check_yearly_download(db, name: str, shown: pd.DataFrame, state: dict[str, str], where: str) -> pd.DataFrame:
    """The truth of a funder's yearly download, in its column order, after checking that it has
    the mart's years and series."""
    truth = yearly_truth(db, name, state)
    assert set(shown.columns) == set(truth.columns), f"{where}, download {name!r}: columns {list(shown.columns)}, the mart's {list(truth.columns)}"
    return truth[list(shown.columns)]


def vacaturs_links(tables: dict[str, Counts]) -> list:
    """Sums a reader of the Vacaturs page knows across its tables (same motions, same filters,
    decisions in the period): a vehicle's granted relief is its granted and granted-in-part
    motions over the recognition classes it is listed under; the quarters' Total row is the
    relief table's Total row, vacaturs being its three vacatur classes."""
    outcomes, relief, quarters = (tables.get(n) for n in (OUTCOMES, RELIEF, QUARTERS))
    links = []
    if outcomes and relief:
        for row in relief.rows:
            same_vehicle = [r for r in outcomes.rows if r[1] == row[0] or r[0] == row[0] == TOTAL_LABEL]
            parts = [(OUTCOMES, e) for r in same_vehicle for c in ("granted", "granted_in_part") if (e := outcomes.entry(r, c)) is not None]
            links.append((parts, (RELIEF, relief.entry(row, "all granted relief"))))
    for trend in (quarters, tables.get(YEARS)):
        if not (relief and trend):
            continue
        total = (TOTAL_LABEL,)
        for kind, classes in [("vacatur", VACATUR_CLASSES), ("offense_reduction", ["offense_reduction"]),
                              ("rehabilitative", ["rehabilitative"]), ("sentence_modification", ["sentence_modification"]),
                              (TOTAL_LABEL, ["all granted relief"])]:
            parts = [(RELIEF, e) for c in classes if (e := relief.entry(total, c)) is not None]
            if (e := trend.entry(total, kind)) is not None:
                links.append((parts, (trend.name, e)))
    return links


def year_links(state: dict[str, str]):
    """The vacaturs of a calendar year the period holds whole are the Total of that year's column
    of the this-year-against-last-year table and the year's vacaturs in the funder's trend by year."""
    period = period_of(state)

    def links(tables: dict[str, Counts]) -> list:
        years, compared = tables.get(YEARS), tables.get(THIS_AND_LAST_YEAR)
        if not (years and compared):
            return []
        out = []
        for column in compared.columns:
            year = re.match(r"vacaturs (\d{4})", column)
            if not year:
                continue
            whole = period == "All time" or (parse(period, 7).start <= dt.date(int(year[1]), 1, 1)
                                             and parse(period, 7).end >= dt.date(int(year[1]), 12, 31))
            row = (year[1],)
            if whole and (e := years.entry(row, "vacatur")) is not None:
                out.append(([(THIS_AND_LAST_YEAR, compared.entry((TOTAL_LABEL,), column))], (YEARS, e)))
        return out

    return links


def removal_links(tables: dict[str, Counts]) -> list:
    """The Removal page counts one set of clients three times: by status, and the Total rows of
    the tables by quarter and by county."""
    status, links = tables.get(STATUS), []
    for row in status.rows if status else []:
        column = TOTAL_LABEL if row == (TOTAL_LABEL,) else row[0]
        for name in (STATUS_BY_QUARTER, STATUS_BY_YEAR, STATUS_BY_COUNTY):
            if name in tables and (e := tables[name].entry((TOTAL_LABEL,), column)) is not None:
                links.append(([(STATUS, status.entry(row, "clients"))], (name, e)))
    return links


# Pages whose tables count the same things, and the sums across them.
PAGE_LINKS = {"vacaturs": vacaturs_links, "removal": removal_links}


def check_tiles(at_funder: AppTest, at_manager: AppTest, db, state: dict[str, str], threshold: int, where: str) -> None:
    """Overview tiles: each shows the manager's value or a marker true for it, and a change
    against the previous period only as the manager's."""
    funder = {m.label: m for m in at_funder.metric}
    manager = {m.label: m for m in at_manager.metric}
    assert list(funder) == list(manager), f"{where}: the funder's tiles {list(funder)}, the manager's {list(manager)}"
    for label, tile in funder.items():
        shown, true, at = tile.value, manager[label].value, f"{where}, tile {label!r}"
        # A head count of attorneys is withheld with the hours when their cases are too few; the
        # marker names its group ("fewer than 11 cases" or "... attorneys").
        if NOT_COUNTS.search(label) or shown.startswith("fewer than"):
            group = "Pro bono hours" if shown.endswith(" cases") else label
            check_measure(at, shown, true, tile_group_counts(group, db, state) if shown.startswith("fewer than") else [], threshold)
        else:
            one_table = next((g for g in TILES_OF_ONE_TABLE if label in g), {label})
            witness = next(((funder[o].value, as_number(manager[o].value)) for o in one_table  # the tiles of it on this page
                            if o in funder and not is_marker(funder[o].value, threshold) and (as_number(funder[o].value) or 0) > 0), None)
            check_count(at, shown, as_number(true), witness, threshold)
        if tile.delta:
            assert tile.delta == manager[label].delta, f"{at}: change {tile.delta!r}, the manager's {manager[label].delta!r}"


def tile_group_counts(label: str, db, state: dict[str, str]) -> list[float]:
    """The true size of the group a tile's number is computed over, read from the marts: cases
    with pro bono time in the period (the hours honour the firm filter only), or referrals
    of the Kaplan-Meier median's group (the one filter chosen, or everyone)."""
    firm = state.get("filter_firm", "All")
    with duckdb.connect(str(db), read_only=True) as con:
        if label in ("Pro bono hours", "Hours per case", "Value of donated time"):  # over the cases with time
            period = state.get("filter_period", "All time")
            return [con.execute("SELECT count(DISTINCT case_id) FROM marts.fct_time_entries WHERE entry_date BETWEEN ? AND ? "
                                "AND (? = 'All' OR partner_firm = ?)", [*days(period), firm, firm]).fetchone()[0]]
        if label == "Hours per attorney":  # over the attorneys with time
            period = state.get("filter_period", "All time")
            return [con.execute("SELECT count(DISTINCT attorney_id) FROM marts.fct_time_entries WHERE entry_date BETWEEN ? AND ? "
                                "AND (? = 'All' OR partner_firm = ?)", [*days(period), firm, firm]).fetchone()[0]]
        assert label == KM_TILE, f"tile {label!r}: which group does its marker speak of?"
        chosen = {column: state.get(key, "All") for column, key in (("county", "filter_county"), ("partner_firm", "filter_firm"),
                                                                      ("vehicle", "filter_vehicle")) if state.get(key, "All") != "All"}
        assert len(chosen) <= 1, f"tile {label!r}: hidden, though two filters leave it not available"
        dimension, group = next(iter(chosen.items())) if chosen else ("all", "all")
        return [con.execute("SELECT coalesce(sum(units), 0) FROM marts.mart_time_to_resolution WHERE measure = 'referral_to_decision' "
                            "AND dimension = ? AND dimension_value = ?", [dimension, group]).fetchone()[0]]


def check_page_against_manager(db, page: str, state: dict[str, str], threshold: int) -> None:
    where = f"{page} with {state}"
    Recording.files.clear()
    funder, manager = run_page("funder", page, state), run_page("manager", page, state)
    for at in (funder, manager):
        assert not at.exception, f"{where}: {[e.message for e in at.exception]}"
    shown, truth = downloads(funder), downloads(manager)
    for name in set(YEARLY) & set(shown):
        truth[name] = check_yearly_download(db, name, shown[name], state, where)
    assert set(shown) <= set(truth), f"{where}: the manager has no download of {sorted(set(shown) - set(truth))}"
    checked = {name: check_download(name, frame, truth[name], threshold, where) for name, frame in shown.items()}
    tables = {name: counts for name, counts in checked.items() if counts is not None}
    if page in PAGE_LINKS:
        links = PAGE_LINKS[page](tables) + (year_links(state)(tables) if page == "vacaturs" else [])
        assert_none_pinned(tables, links, threshold, f"{where}, the page's tables together")
    check_tiles(funder, manager, db, state, threshold, where)


# No shrinking, as above; the failing draws are printed as drawn.
@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=some.data())
def test_every_funder_marker_is_true_and_no_hidden_count_is_recoverable(recorded, offered, page_choices, data):
    page = data.draw(some.sampled_from(FUNDER_PAGES), label="page")
    state = {}
    for label, options in offered["funder"].items():
        state[FILTERS[label]] = data.draw(some.one_of(some.just(options[0]), some.sampled_from(options)), label=label)
    for key, options in page_choices.get(page, {}).items():
        state[key] = data.draw(some.sampled_from(options), label=key)
    check_page_against_manager(recorded["db"], page, state, THRESHOLD)


@pytest.mark.parametrize("page", FUNDER_PAGES)
def test_every_funder_marker_is_true_with_the_default_filters(recorded, page):
    check_page_against_manager(recorded["db"], page, {}, THRESHOLD)


@pytest.mark.parametrize("period", ["All time", "FY2025-26", "2025"])
@pytest.mark.parametrize("page, by_year, by_quarter", [("removal", STATUS_BY_YEAR, STATUS_BY_QUARTER), ("vacaturs", YEARS, QUARTERS)])
def test_a_funders_trend_counts_by_year_and_the_manager_by_quarter(recorded, offered, page, by_year, by_quarter, period):
    """The funder's trend is published by year (fiscal years when a fiscal year is chosen), its
    numbers the marts' and none of its hidden ones recoverable with the page's other tables; the
    manager's stays by quarter."""
    assert period in offered["funder"]["Period"], f"{period} is not offered: choose periods the samples hold"
    state = {"filter_period": period}
    Recording.files.clear()
    funder = downloads(run_page("funder", page, state))
    Recording.files.clear()
    manager = downloads(run_page("manager", page, state))
    assert by_year in funder and by_quarter not in funder, sorted(funder)
    assert by_quarter in manager and by_year not in manager, sorted(manager)
    years = list(funder[by_year].iloc[:, 0])
    expected = ["FY2025-26"] if period == "FY2025-26" else ["2025"] if period == "2025" else None
    if expected:
        assert [y for y in years if y not in ("none", TOTAL_LABEL)] == expected, years
    else:
        assert len([y for y in years if re.fullmatch(r"\d{4}", y)]) > 5, years
    check_page_against_manager(recorded["db"], page, state, THRESHOLD)
