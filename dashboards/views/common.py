"""What every page shares: the visitor's scope and data access, the sidebar filters, and one
way to show a table (on screen and as a CSV download).

Pages read data only through ``access.queries.DataAccess``; counts come from
``aggregate`` / ``summary`` for every role, so a funder's page is the same code as a program
manager's with the numbers suppressed by the access layer."""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from access.disclosure import TOTAL_LABEL, WITHHELD, SuppressedTable, format_count, legend
from access.queries import DataAccess
from access.scope import Role, Scope
from dashboards import charts, session
from reports import availability, spreadsheet, vocabulary
from access.reader import DataUnavailable, read_published
from reports.grants import GrantConfigError, program_fiscal_year_start_month
from reports.periods import (ALL_TIME, DEFAULT_FISCAL_YEAR_START_MONTH, Period, calendar_period, fiscal_year_label, parse,
                              quarter_end, quarter_label, quarter_range, year_of_quarter)

ALL = "All"
FILTER_KEYS = {"county": "filter_county", "partner_firm": "filter_firm", "vehicle": "filter_vehicle"}
PERIOD_KEY = "filter_period"
# The sidebar's "Period" choice that opens two quarter pickers (their keys: first, last quarter).
CUSTOM_RANGE = "Custom range of quarters…"
RANGE_KEYS = ("filter_range_first", "filter_range_last")
# Which filters each relation can honour (it has the column).
FILTERABLE = {
    "fct_motions": {"county", "partner_firm", "vehicle"},
    "fct_cases": {"partner_firm"},
    "mart_removal_avoided": {"county", "partner_firm"},
    "mart_dashboard_clients": {"partner_firm"},
    "mart_dashboard_pro_bono": {"partner_firm"},
    "mart_dashboard_motion_outcomes": {"county", "partner_firm", "vehicle"},
    "mart_dashboard_relief_granted": {"county", "partner_firm", "vehicle"},
}
FILTER_LABELS = {"county": "county", "partner_firm": "partner firm", "vehicle": "vehicle"}


@dataclass(frozen=True)
class Filters:
    period: Period
    values: tuple[tuple[str, str], ...]  # (column, value) for each filter other than "All"

    def where(self, relation: str, extra: str = "true", params: dict | None = None) -> tuple[str, dict]:
        """Conditions for the filters ``relation`` can honour, ANDed with ``extra``."""
        conditions, bound = [f"({extra})"], dict(params or {})
        for column, value in self.values:
            if column in FILTERABLE.get(relation, set()):
                conditions.append(f'"{column}" = $f_{column}')
                bound[f"f_{column}"] = value
        return " AND ".join(conditions), bound

    def ignored_by(self, relation: str) -> list[str]:
        return [FILTER_LABELS[c] for c, _ in self.values if c not in FILTERABLE.get(relation, set())]


@dataclass(frozen=True)
class Context:
    scope: Scope
    data: DataAccess
    filters: Filters

    @property
    def is_manager(self) -> bool:
        return self.scope.role is Role.PROGRAM_MANAGER

    @property
    def one_firm(self) -> bool:
        """The visitor sees one firm's rows: a partner, or the partner-firm filter is set."""
        return bool(self.scope.firm) or "partner_firm" in dict(self.filters.values)

    def access(self, schema: str) -> DataAccess:
        return DataAccess(self.scope, self.data.db_path, schema=schema)

    @functools.cached_property
    def available(self) -> availability.Availability:
        """The contract columns the published exports carry (the same for every role: it says
        how the exports were laid out, nothing about anyone in them). Read once per page run:
        a page asks for it once per tile or table."""
        return availability.read(self.data.db_path)


def computed_per_scope(compute):
    """Cache what ``compute(ctx, *args)`` returns (tables already suppressed for the visitor, or
    frames and figures made from them) per scope, filters, arguments and version of the published
    file, so a rerun or another visitor with the same scope does none of the work again: a page's
    queries are cached one by one (access/reader.py), but pivoting, suppressing and drawing them
    took most of a rerun. ``compute`` must not draw anything on the page."""
    # Streamlit keys a cached function by its code, the same for every function wrapped here:
    # the computation's file and name are arguments, so two computations never share an entry.
    @st.cache_data(max_entries=256, show_spinner=False)
    def cached(computation: tuple[str, str], scope: Scope, filters: Filters, db_path: str, version, args: tuple):
        return compute(Context(scope, DataAccess(scope, db_path), filters), *args)

    @functools.wraps(compute)
    def run(ctx: Context, *args):
        computation = (compute.__code__.co_filename, compute.__qualname__)
        return cached(computation, ctx.scope, ctx.filters, str(ctx.data.db_path), ctx.data.version(), args)

    return run


def not_available(ctx: Context, what: str, *metrics: str) -> bool:
    """Say, in place of a table or chart, that the exports cannot give it and which columns
    they lack (reports/availability.py); False when they can."""
    sentence = ctx.available.sentence(what, *metrics)
    if sentence:
        st.info(sentence)
    return bool(sentence)


def pro_bono_count(entity: str, period: Period, *, one_firm: bool) -> str:
    """The mart_dashboard_pro_bono column whose sum over ``period``'s rows is the number of
    distinct ``entity`` (cases, attorneys) with time in it: within each firm when the rows are
    grouped or filtered by firm, else across firms (a case counted once). Only for the periods
    the mart pre-counts (``PRE_COUNTED``)."""
    return f"{entity if one_firm else 'program_' + entity}_{period.kind}"


# Period kinds whose distinct counts mart_dashboard_pro_bono holds; a fiscal year or a custom
# range counts distinct cases and attorneys over the time entries themselves.
PRE_COUNTED = ("quarter", "year", "all_time")


def pro_bono_summary(ctx: Context, by: str | list[str], period: Period, *, attorneys: bool = False,
                     one_firm: bool | None = None) -> SuppressedTable:
    """Pro bono time in ``period`` by ``by`` (e.g. partner_firm; [] for one row): ``n`` = distinct
    cases with time, ``hours``, ``value_usd`` and, with ``attorneys``, ``attorneys_participating``
    (a head count the caller suppresses for a funder, as the grant report does). Within each firm when grouped or filtered
    by firm (``one_firm``), else a case logging time for two firms counts once."""
    one_firm = ctx.one_firm or bool(by) if one_firm is None else one_firm
    on_entry, p_entry = period.condition("entry_quarter")
    if period.kind in PRE_COUNTED:
        relation = PRO_BONO_MART
        where, params = ctx.filters.where(relation, on_entry, p_entry)
        stats = {"hours": "coalesce(sum(hours), 0)", "value_usd": "coalesce(sum(value_usd), 0)"}
        if attorneys:
            stats["attorneys_participating"] = f"CAST(sum({pro_bono_count('attorneys', period, one_firm=one_firm)}) AS BIGINT)"
        return ctx.data.summary(relation, by, stats, weight=pro_bono_count("cases", period, one_firm=one_firm),
                                where=where, params=params)
    relation = "fct_time_entries"
    where, params = ctx.filters.where(PRO_BONO_MART, on_entry, p_entry)  # the same filters as the mart honours
    stats = {"hours": "coalesce(sum(hours), 0)", "value_usd": "coalesce(sum(value_usd), 0)"}
    if attorneys:
        stats["attorneys_participating"] = "count(DISTINCT attorney_id)"
    return ctx.data.summary(relation, by, stats, distinct="case_id", where=where, params=params)


PRO_BONO_MART = "mart_dashboard_pro_bono"


# --- the period ----------------------------------------------------------------------------

def fiscal_year_start_month() -> tuple[int, str | None]:
    """The program's fiscal-year start month (top-level ``fiscal_year_start_month`` of the grants
    file, docs/periods.md) and, when that file is wrong, why the default (July) is used instead."""
    try:
        return program_fiscal_year_start_month(session.settings().grants_file), None
    except GrantConfigError as problem:
        return DEFAULT_FISCAL_YEAR_START_MONTH, f"{problem}; fiscal years start in July until it is fixed."


def chosen_period() -> Period:
    """The sidebar's period: a label (quarter, year, fiscal year, all time) or a custom range."""
    text = st.session_state.get(PERIOD_KEY, ALL_TIME)
    if text == CUSTOM_RANGE:
        first, last = (st.session_state.get(key) for key in RANGE_KEYS)
        if not first or not last:
            return Period(ALL_TIME)
        return quarter_range(min(first, last), max(first, last))
    try:
        return parse(text, fiscal_year_start_month()[0])
    except ValueError:  # a label of another fiscal-year setting, kept in the session
        return Period(ALL_TIME)


def as_of_date() -> dt.date | None:
    """The day the published data runs to (intermediate.int_as_of_date: the latest date recorded,
    not after the day of the build): the current quarter or year is partial up to it. It says
    nothing about any case, so every role reads it."""
    try:
        frame = read_published(session.settings().published_db, "SELECT as_of_date FROM intermediate.int_as_of_date")
    except (DataUnavailable, duckdb.CatalogException):  # a database built before the model existed: no marking
        return None
    return None if frame.empty or pd.isna(frame.iloc[0, 0]) else pd.Timestamp(frame.iloc[0, 0]).date()


def day_text(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def partial_note(period: Period) -> str | None:
    """"2026-Q4 so far: data to 4 Dec 2026" when the data stops inside ``period``; else None."""
    as_of = as_of_date()
    if not period.partial(as_of):
        return None
    return f"{period.label} is not over: data to {day_text(as_of)}"


def mark_partial(figure) -> None:
    """Mark, on any chart, what the data covers only in part (one helper for every page):
    the bar or point of the quarter (or year) the as-of date falls in, hatched or hollow, with
    a note "to <as-of date>"; and, when the sidebar's period itself is not over, a note on top.
    Categories are read from the figure's traces, so any chart by quarter or year is marked."""
    as_of = as_of_date()
    if as_of is None:
        return
    start_month = fiscal_year_start_month()[0]
    fiscal_year = fiscal_year_label(as_of, start_month)
    current = {quarter_label(as_of): parse(quarter_label(as_of)), str(as_of.year): parse(str(as_of.year)),
               fiscal_year: parse(fiscal_year, start_month)}
    partial = {label for label, period in current.items() if period.partial(as_of)}
    marked, how = None, set()
    for trace in figure.data:
        horizontal = getattr(trace, "orientation", None) == "h"
        categories = trace.y if horizontal else trace.x
        if categories is None:
            continue
        hits = [i for i, c in enumerate(categories) if str(c) in partial]
        if not hits:
            continue
        marked = str(categories[hits[0]])
        if trace.type == "bar":
            shapes = ["/" if i in hits else "" for i in range(len(categories))]
            opacity = [0.55 if i in hits else 1.0 for i in range(len(categories))]
            trace.update(marker_pattern_shape=shapes, marker_opacity=opacity)
            how.add("hatched")
        elif trace.type == "scatter":
            symbols = ["circle-open" if i in hits else "circle" for i in range(len(categories))]
            trace.update(marker_symbol=symbols, marker_size=[11 if i in hits else 6 for i in range(len(categories))])
            how.add("hollow point")
    notes = []
    if marked:
        notes.append(f"{marked} ({' or '.join(sorted(how))}): data to {day_text(as_of)} only")
    elif (note := partial_note(chosen_period())):
        notes.append(note)
    if notes:
        figure.add_annotation(text=notes[0], xref="paper", yref="paper", x=1, y=1.0, xanchor="right", yanchor="bottom",
                              showarrow=False, font=dict(size=11, color="#555555"))


@dataclass(frozen=True)
class YearGrain:
    """A trend counted by year instead of by quarter: calendar years, or the program's fiscal
    years when the sidebar's period is a fiscal year (docs/periods.md)."""

    fiscal_year_start_month: int | None  # None: calendar years
    threshold: int  # the audience's small-count threshold

    @property
    def words(self) -> str:
        return "calendar year" if self.fiscal_year_start_month is None else "fiscal year"

    def of(self, quarter) -> str:
        return year_of_quarter(quarter, self.fiscal_year_start_month)

    def reason(self, counted: str) -> str:
        """What the page says about the grain: which years and why not quarters."""
        other = ("choose a fiscal year as the Period to count by fiscal year" if self.fiscal_year_start_month is None
                 else "choose any other Period to count by calendar year")
        return (f"By {self.words} {counted} ({other}). Counted by quarter, most numbers would be under "
                f"{self.threshold} and hidden; a year holds enough to show more of them.")


def trend_grain(ctx: Context) -> YearGrain | None:
    """The grain of a page's trend for this visitor: by year for an audience whose small counts
    are hidden (a funder: by quarter most of them are), by quarter (None) for everyone else."""
    if not ctx.scope.suppresses:
        return None
    return YearGrain(fiscal_year_start_month()[0] if ctx.filters.period.kind == "fiscal_year" else None, ctx.scope.threshold)


TREND_QUARTERS = 12  # three years of quarters: a season and its year-before are both on screen


def trend_window(period: Period) -> Period:
    """The quarters the trends show: the TREND_QUARTERS up to the chosen period's last quarter
    (for all time, up to the quarter the data stops in)."""
    as_of = as_of_date()
    last = quarter_label(as_of) if period.is_all and as_of else period.last_quarter if not period.is_all else None
    if last is None:
        return period
    first = parse(last).start
    for _ in range(TREND_QUARTERS - 1):
        first = parse(quarter_label(first - dt.timedelta(days=1))).start
    return quarter_range(quarter_label(first), last)


def trend_labels(present, period: Period, grain: YearGrain | None = None) -> list[str]:
    """The rows of a trend: every quarter (or every year of ``grain``) from the first to the last
    it covers, so that its time axis is even and a quarter without an event reads 0 instead of
    being skipped. A bounded ``period`` covers its own quarters; all time, those from the first of
    ``present`` (the labels that have events). Either runs only to the quarter the data stops in:
    a quarter after it holds no data yet, not 0. Labels of ``present`` that are no quarter or year
    (a Total, "no date yet") are left out."""
    start_month = grain.fiscal_year_start_month if grain and grain.fiscal_year_start_month else DEFAULT_FISCAL_YEAR_START_MONTH
    spans = []
    for label in present:
        try:
            spans.append(calendar_period(str(label), start_month))
        except ValueError:
            continue
    as_of = as_of_date()
    if period.is_all:
        if not spans:
            return []
        first, last = min(s.start for s in spans), max(s.end for s in spans)
        if as_of is not None:
            last = max(last, quarter_end(as_of))
    else:
        first, last = period.start, period.end if as_of is None else min(period.end, quarter_end(as_of))
        if spans:
            first, last = min(first, *(s.start for s in spans)), max(last, *(s.end for s in spans))
    if first > last:
        return []
    quarters = quarter_range(quarter_label(first), quarter_label(last)).quarters()
    return list(dict.fromkeys(grain.of(q) for q in quarters)) if grain else quarters


def filled_trend(table: SuppressedTable, period: Period, grain: YearGrain | None = None) -> SuppressedTable:
    """A published trend table (rows: quarters or years) with a row of zeros for each quarter or
    year of ``trend_labels`` that had no event, in time order, its other rows (no date yet, the
    Total) after them. The rows are added after disclosure control: a true zero is no small count,
    and a row of zeros changes no total, so the tables linked to this one stay consistent."""
    present = list(table.numeric.index)
    labels = trend_labels(present, period, grain)
    if not labels or not set(labels) & set(map(str, present)):
        return table  # nothing dated to fill between
    others = [label for label in present if str(label) not in labels]
    order = [*labels, *others]
    return replace(
        table,
        numeric=table.numeric.reindex(order, fill_value=0.0),
        display=table.display.reindex(order, fill_value=format_count(0)),
        suppressed_mask=table.suppressed_mask.reindex(order, fill_value=False),
        reasons=None if table.reasons is None else table.reasons.reindex(order, fill_value=""),
    )


# Series with no colour of their own in reports/vocabulary.py: drawn as the measure they count.
DRAWN_AS = {"decided": "motions", "granted_total": "granted"}


def quarter_bars(frame: pd.DataFrame, title: str, y_title: str) -> go.Figure:
    """Grouped bars by quarter (or by year), one colour per series (reports/vocabulary.py's)."""
    words = vocabulary_of_pages()
    figure = go.Figure()
    for column in frame.columns:
        figure.add_trace(go.Bar(x=list(frame.index), y=frame[column].tolist(), name=words.label(column),
                                marker_color=words.colour(DRAWN_AS.get(column, column))))
    # A third of the page holds 12 quarters only with short ticks: the quarter, and its year under Q1.
    ticks = ([f"{q[-2:]}<br>{q[:4]}" if q.endswith("Q1") or i == 0 else q[-2:] for i, q in enumerate(frame.index)]
             if all("-Q" in str(q) for q in frame.index) else [str(q) for q in frame.index])
    figure.update_layout(title=title, barmode="group", height=340, margin=dict(l=10, r=10, t=60, b=10), legend_title_text="",
                         legend=dict(orientation="h", yanchor="top", y=-0.2), yaxis_title=y_title,
                         xaxis=dict(type="category", tickangle=0, tickvals=list(frame.index), ticktext=ticks))
    return figure


def page_context() -> Context:
    """The visitor's scope (app.py has already refused anyone without one) and filters."""
    scope = session.current_scope()
    values = tuple(
        (column, st.session_state[key])
        for column, key in FILTER_KEYS.items()
        if st.session_state.get(key, ALL) != ALL
    )
    if scope.role is Role.PARTNER:  # the access layer limits to the firm anyway; say so in filters too
        values = tuple(v for v in values if v[0] != "partner_firm")
    return Context(scope, session.data_access(scope), Filters(chosen_period(), values))


# --- showing numbers -------------------------------------------------------------------------

def _position(index: pd.Index, label) -> int | None:
    """Where a label sits, by position: given to ``.loc``, a boolean label (decided False/True
    beside "Total") reads as a mask, and True would also match the integer 1."""
    def is_bool(key) -> bool:
        return isinstance(key, (bool, np.bool_))

    return next((i for i, key in enumerate(index) if is_bool(key) == is_bool(label) and key == label), None)


def value(table: SuppressedTable, label) -> float:
    """One published number of a 1-D table: NaN when suppressed, 0 when absent (a true zero)."""
    i = _position(table.numeric.index, label)
    return 0.0 if i is None else float(table.numeric.iloc[i])


def marker_of(table: SuppressedTable, label) -> str:
    """What a hidden entry of a 1-D table shows (``<11``, ``withheld``, ``fewer than 11 cases``);
    "" when it is shown or absent."""
    i = _position(table.suppressed_mask.index, label)
    if i is None or not bool(np.asarray(table.suppressed_mask.iloc[i]).any()):
        return ""
    return str(np.asarray(table.display.iloc[i]).ravel()[0])


def fmt(number: float, *, marker: str, decimals: int = 0, percent: bool = False, prefix: str = "") -> str:
    if number is None or (isinstance(number, float) and np.isnan(number)):
        return marker or "–"
    if percent:
        return f"{number * 100:.1f}%"
    return f"{prefix}{number:,.{decimals}f}"


def delta(current: float, previous: float | None, *, percent: bool = False, decimals: int = 0) -> str | None:
    """Change against the previous period; nothing when either side is suppressed or absent."""
    if previous is None or np.isnan(current) or np.isnan(previous):
        return None
    change = current - previous
    return f"{change * 100:+.1f} pp" if percent else f"{change:+,.{decimals}f}"


# Streamlit cuts a metric's label at one line ("Removal avoided (confi…"): here a label wraps,
# with its help icon beside the last word, and takes two lines' height in every tile, so the
# numbers of a row sit at one height whatever their labels' lengths.
TILE_STYLE = """<style>
[data-testid="stMetricLabel"] { min-height: 2.6rem; align-items: flex-start; }
[data-testid="stMetricLabel"] * { white-space: normal !important; overflow: visible !important;
                                  text-overflow: clip !important; }
</style>"""


def tile(column, label: str, shown_value: str, *, help_text: str | None, change: str | None = None) -> None:
    """One headline number in a bordered tile; every tile of every page is drawn by this, so
    tiles read alike (label, help icon, number, change; TILE_STYLE, which the app adds once)."""
    column.metric(label, shown_value, change, help=help_text or None, border=True, height="stretch")


def frame_for(table: SuppressedTable, scope: Scope, rows: str | list[str] | None = None, value: str = "count") -> pd.DataFrame:
    """What the visitor sees of a table: the suppressed strings for funders (``<11``), plain
    numbers otherwise. The row labels become the first column, named ``rows`` (the access
    layer's Total row leaves the index unnamed); a 1-D table's numbers go in ``value``."""
    if scope.suppresses:
        shown = _formatted(table) if isinstance(table.display, pd.DataFrame) else table.display
    else:
        shown = table.numeric.apply(_as_integers) if isinstance(table.numeric, pd.DataFrame) else _as_integers(table.numeric)
    frame = shown.to_frame(value) if isinstance(shown, pd.Series) else shown.copy()
    frame.columns = [str(c) for c in frame.columns]
    if rows is None:
        return frame.reset_index(drop=True)
    frame.index = frame.index.set_names(rows) if isinstance(rows, list) else frame.index.map(str).rename(rows)
    return frame.reset_index()


def cells(numbers: pd.Series, table: SuppressedTable, scope: Scope, decimals: int = 0, *,
          hidden_as: pd.Series | None = None, prefix: str = "") -> list:
    """A derived column (sum, ratio, hours) beside a table, one type per column (strings for
    funders, like the rest of their table). Where a number is hidden it shows ``hidden_as``
    (the table's own marker for that row, e.g. "fewer than 11 cases"), else ``withheld``:
    a number computed from a hidden one would reveal it."""
    out = []
    markers = list(hidden_as) if hidden_as is not None else [WITHHELD] * len(numbers)
    for number, hidden_marker in zip(numbers, markers):
        if pd.isna(number):
            out.append(hidden_marker if scope.suppresses else None)
        else:
            rounded = round(float(number), decimals) if decimals else int(round(float(number)))
            out.append(f"{prefix}{rounded:,}" if scope.suppresses else rounded)
    return out


def _formatted(table: SuppressedTable) -> pd.DataFrame:
    """A funder's table with the shown numbers in one format (whole numbers with thousands
    separators, others to one decimal) and a missing statistic empty, as the manager's is; a
    hidden entry keeps its marker."""
    display = table.display.copy()
    for column in display.columns:
        if column not in table.numeric.columns:
            continue
        numbers = table.numeric[column]
        if not pd.api.types.is_numeric_dtype(numbers) or pd.api.types.is_bool_dtype(numbers):
            continue
        shown = ~np.asarray(table.suppressed_mask[column], dtype=bool)
        display[column] = display[column].astype(object)
        j = display.columns.get_loc(column)
        for i in np.flatnonzero(shown):
            number = numbers.iloc[i]
            if pd.isna(number):
                if str(display.iat[i, j]) in ("nan", "NaN", "<NA>", "None"):
                    display.iat[i, j] = ""
            else:
                display.iat[i, j] = f"{int(number):,}" if float(number).is_integer() else f"{float(number):,.1f}"
    return display


def _as_integers(column: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.notna().all() and (numbers == numbers.round()).all():
        return numbers.astype("int64")
    return column


def decision_classes() -> vocabulary.DecisionClasses:
    """The decision classes and their words, as the grant reports read them (the seed in the
    published database)."""
    return vocabulary.read(session.settings().published_db)


def vocabulary_of_pages() -> vocabulary.Vocabulary:
    """The words, help texts and colours of every code and column (reports/vocabulary.py), with
    the decision classes' words of the published seed."""
    return decision_classes().vocabulary()


def words() -> dict[str, str]:
    """What the pages call the marts' codes and columns (reports/vocabulary.py)."""
    return vocabulary_of_pages().words()


# Number formats of a column on screen (a funder's numbers are already text in these formats).
MONEY_COLUMNS = {"value_usd"}
ONE_DECIMAL_COLUMNS = {"hours_per_case", "hours_per_attorney"}  # ratios: 43.0 beside 41.2, not 43
# A number as a funder's text cell writes it ("1,234", "41.2", "$20,500", "66.7%").
_NUMBER_TEXT = re.compile(r"^\$?-?[\d,]+(\.\d+)?%?$")


def _numbers_with_markers(column: pd.Series) -> bool:
    """A text column of numbers and suppression or missing markers (a funder's counts): it reads
    right-aligned like the numbers it holds."""
    cells = [str(c) for c in column.dropna()]
    numbers = sum(bool(_NUMBER_TEXT.match(c)) for c in cells)
    markers = sum(c.startswith(("<", "fewer than", "not ")) or c in (WITHHELD, vocabulary.MISSING) for c in cells)
    return numbers > 0 and numbers + markers == len(cells)


def _column_config(frame: pd.DataFrame, headers: dict | None = None) -> dict:
    """Readable headers with their help text, thousands separators, and dollars for the value
    of donated time."""
    config, words_of = {}, vocabulary_of_pages()
    for column in frame.columns:
        header, help_text = (headers or {}).get(column) or words_of.header(column), words_of.help(column) or None
        if pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column]):
            # "localized": thousands separators, and 41 rather than 41.0 (41.5 stays 41.5); money in
            # whole dollars, as the reports write it (step 1: no cents).
            money = column in MONEY_COLUMNS
            number_format = "dollar" if money else "%.1f" if column in ONE_DECIMAL_COLUMNS else "localized"
            config[column] = st.column_config.NumberColumn(header, help=help_text, format=number_format,
                                                           step=1 if money else None)
        elif pd.api.types.is_datetime64_any_dtype(frame[column]):
            dates_only = (frame[column].dropna() == frame[column].dropna().dt.normalize()).all()
            config[column] = (st.column_config.DateColumn(header, help=help_text, format="YYYY-MM-DD") if dates_only
                              else st.column_config.DatetimeColumn(header, help=help_text, format="YYYY-MM-DD HH:mm"))
        elif pd.api.types.is_bool_dtype(frame[column]):
            config[column] = st.column_config.CheckboxColumn(header, help=help_text)
        elif column != frame.columns[0] and _numbers_with_markers(frame[column]):
            config[column] = st.column_config.TextColumn(header, help=help_text, alignment="right")
        else:
            config[column] = st.column_config.Column(header, help=help_text)
    return config


def _is_code(cell) -> bool:
    return isinstance(cell, str) and (cell == "(none)" or ("_" in cell and cell in vocabulary.TERMS))


def _with_missing_said(column: pd.Series, missing: str, *, money: bool = False, one_decimal: bool = False) -> pd.Series:
    """A column whose empty cells say what they mean (``missing``) instead of a blank or "None":
    numbers and dates then become text in the pages' formats; a column without an empty cell is
    left as it is (typed, sortable)."""
    empty = column.isna() | column.astype(str).isin(["", "None", "nan", "NaN", "NaT", "<NA>"])
    if not empty.any():
        return column
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        kind = "money" if money else "hours"  # whole numbers without ".0", others to one decimal
        return pd.Series([missing if e else f"{v:,.1f}" if one_decimal else vocabulary.number(v, kind)
                          for v, e in zip(column, empty)], index=column.index)
    if pd.api.types.is_datetime64_any_dtype(column):
        return pd.Series([missing if e else f"{v:%Y-%m-%d}" for v, e in zip(column, empty)], index=column.index)
    return column.astype(object).where(~empty, missing)


def show_frame(frame: pd.DataFrame, name: str, *, caption: str | None = None, coded: tuple[str, ...] = (),
               shown_as: dict | None = None, headers: dict | None = None, whole_text: bool = False) -> None:
    """A table on screen and the same table as a CSV download (cells that would start a
    spreadsheet formula neutralised; the download is recorded in the access log). The columns
    ``coded`` hold the marts' codes: on screen they read in ``words()``, the download keeps the codes;
    ``shown_as`` maps other columns' codes to words on screen (e.g. ``{"rule": vocabulary.rule}``);
    ``headers`` gives a column a shorter header on screen where a wide table would be cut off;
    ``whole_text``: a static table whose cells wrap, for sentences the scrolling grid would cut
    off at its column's width."""
    shown = frame.copy()
    words_of = vocabulary_of_pages()
    for column in coded:
        shown[column] = shown[column].map(words_of.label)
    for column, in_words in (shown_as or {}).items():  # codes of their own kind (a quarantine rule, a check)
        shown[column] = shown[column].map(in_words)
    for column in shown.columns:  # any other cell that is a code of the vocabulary (granted_in_part, time_entries)
        if column not in coded and column not in (shown_as or {}) and shown[column].dtype == object:
            shown[column] = shown[column].map(lambda cell: words_of.label(cell) if _is_code(cell) else cell)
    for column in shown.columns:
        shown[column] = _with_missing_said(shown[column], words_of.missing(column), money=column in MONEY_COLUMNS,
                                           one_decimal=column in ONE_DECIMAL_COLUMNS)
    if whole_text:  # a static table formats nothing itself: yes / no, and numbers as the grid shows them
        def as_read(column: pd.Series) -> pd.Series:
            if pd.api.types.is_bool_dtype(column):
                return column.map({True: "yes", False: "no"})
            if pd.api.types.is_numeric_dtype(column):
                return column.map(lambda v: vocabulary.number(v, "money" if column.name in MONEY_COLUMNS else "hours"))
            return column

        static = shown.apply(as_read)
        st.table(static.rename(columns=lambda c: (headers or {}).get(c) or words_of.header(c)), hide_index=True)
    else:
        st.dataframe(shown, hide_index=True, width="stretch", column_config=_column_config(shown, headers))
    file_name = f"{re.sub(r'[^a-z0-9]+', '_', name.lower()).strip('_')}.csv"
    st.download_button(
        f"Download {name} (CSV)",
        spreadsheet.csv_bytes(frame),
        file_name=file_name,
        mime="text/csv",
        key=f"download_{name}",
        on_click=session.record_download,
        args=(name, file_name),
    )
    if caption:
        st.caption(caption)


def _plural(noun: str, n: int) -> str:
    return noun if n == 1 else noun[:-1] + "ies" if noun.endswith("y") else noun + "s"


def _listed(labels: list[str], most: int = 6) -> str:
    """'2016, 2017 and 2022'; past ``most`` labels, the rest counted ('… and 4 more')."""
    if len(labels) > most:
        return ", ".join(labels[:most]) + f" and {len(labels) - most} more"
    return ", ".join(labels[:-1]) + f" and {labels[-1]}" if len(labels) > 1 else "".join(labels)


def show_chart(chart, drawn_from: pd.DataFrame | pd.Series, what: str, *, per: str = "group", stacked: bool = False,
               markers: pd.DataFrame | pd.Series | None = None, table_at: str | None = None) -> None:
    """A chart of ``drawn_from`` (a table's numbers, NaN where hidden) as its reader may see it
    (charts.Cut: a category with a hidden number is not drawn, nor a series most of whose
    numbers are hidden), with one sentence under it naming what was left out; a sentence instead of the
    chart where nothing, or less than half of it, would be drawn.

    ``chart``: a function drawing a figure from the numbers the rule keeps; a figure drawn from
    the whole table has the left-out categories taken off it instead. ``per``: what a category
    is, for the sentence (a time axis says quarter or year itself). ``stacked``: the series are
    parts of one bar (charts.cut). ``markers``: what the table
    shows for each hidden number ("<11", "withheld"), written on a time axis where its period's
    bars would be. ``table_at``: where the table with every number of the chart is ("above",
    "below"), None when the page has none."""
    kept = charts.cut(drawn_from, stacked=stacked)
    if kept.time_axis:
        per = "quarter" if any("-Q" in str(label) for label in kept.numbers.index) else "year"
    where_else = f"; the table {table_at} has every number" if table_at else ""
    if kept.replaced:
        if kept.numbers.shape[1] == 0 or kept.drawn == 0:
            reason = ("most of its numbers are hidden to protect small counts" if kept.numbers.shape[1] == 0
                      else f"every {per} in it has a number hidden to protect small counts")
        else:
            reason = (f"{len(kept.left_out)} of its {kept.categories} {_plural(per, kept.categories)}, more than half, have a "
                      "number hidden to protect small counts")
        st.info(f"The chart of {what} is not drawn: {reason}{where_else}.")
        return
    drawn = kept.numbers[kept.numbers.notna().any(axis=1)]
    if len(drawn) and not (drawn.to_numpy() > 0).any() and (kept.left_out or kept.series_left_out):
        # only zeros left: a flat chart would read as "none"
        st.info(f"The chart of {what} is not drawn: every number in it is 0 or hidden to protect small counts{where_else}.")
        return
    if callable(chart):
        figure = chart(kept.numbers)
    else:
        figure = chart
        if not kept.time_axis:
            charts.drop_categories(figure, kept.left_out)
    if kept.time_axis:
        _mark_left_out(figure, kept, markers)
    mark_partial(figure)
    _legend_of_drawn(figure)
    st.plotly_chart(figure)
    parts = []
    if kept.left_out:
        marked = ", each marked with what the table shows instead" if kept.time_axis else ""
        parts.append(f"{len(kept.left_out)} of {kept.categories} {_plural(per, kept.categories)} "
                     f"({_listed([str(label) for label in kept.left_out])}{marked})")
    if kept.series_left_out:
        words_of = vocabulary_of_pages()
        parts.append(_listed([words_of.label(column) for column in kept.series_left_out]))
    if parts:
        st.caption(f"Not drawn, as numbers of them are hidden to protect small counts: {' and '.join(parts)}{where_else}.")


def _mark_left_out(figure, kept: "charts.Cut", markers) -> None:
    """On a time axis, the place of each period left out says what its hidden numbers show
    (the series named when the chart draws more than one), so that the empty place never reads as 0."""
    words_of = vocabulary_of_pages()
    shown = None if markers is None else charts.interior(markers)
    if isinstance(shown, pd.Series):
        shown = shown.to_frame()
    series = list(kept.numbers.columns)
    for label in kept.left_out:
        lines = []
        for column in series:
            if shown is None or label not in shown.index or column not in shown.columns:
                continue
            text = str(shown.at[label, column])
            if pd.notna(pd.to_numeric(text.replace(",", ""), errors="coerce")):
                continue  # a number the table shows: only the hidden ones are written
            # Plotly reads text between < and > as markup: "<11" is written as an entity.
            text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            lines.append(text if len(series) == 1 else f"{words_of.label(column)} {text}")
        # Placed by the period's position on the axis: a label such as "2016" given as x would be
        # read as the number 2016 and stretch a category axis to it.
        position = list(kept.numbers.index).index(label)
        figure.add_annotation(x=position, y=0, xref="x", yref="y", text="<br>".join(lines or ["hidden"]), textangle=-90,
                              yanchor="bottom", showarrow=False, font=dict(size=10, color="#555555"))


def _legend_of_drawn(figure) -> None:
    """A legend entry only for a series the chart draws: a series whose numbers are all hidden
    (or, for bars, all 0) leaves no mark to name."""
    for trace in figure.data:
        values = trace.x if getattr(trace, "orientation", None) == "h" else trace.y
        if values is None:
            continue
        numbers = pd.to_numeric(pd.Series(list(values)), errors="coerce")
        if numbers.isna().all() or (trace.type == "bar" and not (numbers.fillna(0) != 0).any()):
            trace.showlegend = False


def has_rows(table: SuppressedTable) -> bool:
    """The table holds at least one group besides its Total (an empty scope leaves the Total alone)."""
    labels = table.numeric.index
    return bool((labels.get_level_values(0) != TOTAL_LABEL).any()) if len(labels) else False


def nothing_matches(ctx: Context, what: str, *relations: str, period: bool = True) -> None:
    """The sentence shown in place of a table or chart with nothing in it, naming the filters
    that ``relations`` honour (and the period, when the section follows it)."""
    chosen = [f"{FILTER_LABELS[c]} {v}" for c, v in ctx.filters.values if any(c in FILTERABLE.get(r, set()) for r in relations)]
    if period and not ctx.filters.period.is_all:
        chosen.insert(0, f"period {ctx.filters.period.label}")
    whose = f" of {ctx.scope.firm}" if ctx.scope.firm else ""
    if chosen:
        st.info(f"No {what}{whose} match these filters ({', '.join(chosen)}).")
    else:
        st.info(f"No {what}{whose} are in the published data.")


def ignored_note(ctx: Context, *relations: str) -> None:
    ignored = sorted({f for r in relations for f in ctx.filters.ignored_by(r)})
    if ignored:
        st.caption(f"The {', '.join(ignored)} filter does not apply here (the data has no such column).")


def suppression_note(ctx: Context) -> None:
    if ctx.scope.suppresses:
        # One line per marker: run together, "…counts. withheld: …" reads as one broken sentence.
        st.caption("  \n".join(f"**{line.split(':')[0]}**:{line.split(':', 1)[1]}" if ":" in line else line
                                for line in legend(ctx.scope.threshold)))
