"""Overview: the headline numbers of the chosen period with the change against the period of
the same length just before, trends by quarter (motions decided and granted, clients whose
removal was avoided, pro bono hours) with the quarter the data stops in marked, and, for
program managers, what needs attention. Numbers that a subtraction links (granted and decided,
vacaturs and the other relief) come from one table each, so suppression protects them together;
a funder's trends go through the same disclosure control as every count they see."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from access.disclosure import TOTAL_LABEL, ratio
from access.reader import DataUnavailable
from access.scope import Role
from dashboards.views.common import (PRO_BONO_MART, Context, Period, as_of_date, computed_per_scope, day_text, delta, fmt,
                                     ignored_note, marker_of,
                                     nothing_matches, page_context, partial_note, pro_bono_count, pro_bono_summary, quarter_bars,
                                     show_chart, show_frame, suppression_note, tile, trend_grain, trend_labels, trend_window,
                                     value, vocabulary_of_pages)
from reports.availability import NOT_AVAILABLE
from reports.periods import DEFAULT_FISCAL_YEAR_START_MONTH, parse, quarter_label, quarter_range

MEASURE = "referral_to_decision"
# Pre-aggregates of fct_cases and fct_time_entries: counting distinct clients and cases over
# the facts took 0.2-0.6 s per query at 1M motions. Granted motions by relief kind as well.
CLIENTS, RELIEF = "mart_dashboard_clients", "mart_dashboard_relief_granted"
MOTION_TILES = ["Motions filed", "Motions decided", "Motions granted", "Vacaturs granted", "Offense reductions", "Sentence modifications"]
# The metric (reports/availability.py NEEDS) of each tile.
TILE_NEEDS = {
    "Clients served": "clients_served", "Motions filed": "motions_filed", "Motions decided": "motions_decided",
    "Motions granted": "motions_granted", "Grant rate": "grant_rate", "Vacaturs granted": "vacaturs_granted",
    "Offense reductions": "offense_reductions_granted", "Sentence modifications": "sentence_modifications_granted",
    "Removal avoided (confirmed)": "clients_removal_avoided_confirmed", "Removal avoided (projected)": "clients_removal_avoided",
    "Pro bono hours": "pro_bono_hours",
}
# The code or column of reports/vocabulary.py whose help text explains each tile.
TILE_HELP = {
    "Clients served": "clients", "Motions filed": "filed", "Motions decided": "decided", "Motions granted": "granted_total", "Grant rate": "grant_rate",
    "Vacaturs granted": "vacatur", "Offense reductions": "offense_reduction", "Sentence modifications": "sentence_modification",
    "Removal avoided (confirmed)": "confirmed", "Removal avoided (projected)": "projected", "Pro bono hours": "hours",
}
ATTENTION_ROWS = 10


@computed_per_scope
def headline(ctx: Context, period: Period) -> tuple[dict[str, float], dict[str, str]]:
    """Each tile's number (NaN when hidden) and, where hidden, what it shows instead."""
    da, f = ctx.data, ctx.filters
    start, end = period.bounds()
    where, params = f.where(CLIENTS, "intake_quarter_start <= $end AND (closed_quarter_end IS NULL OR closed_quarter_end >= $start)",
                            {"start": start, "end": end})
    clients = da.aggregate(CLIENTS, "case_status", distinct="client_id", weight="clients", where=where, params=params)

    on_filing, p_filing = period.condition("filing_quarter")
    where, params = f.where("fct_motions", f"is_filed AND {on_filing}", p_filing)
    filed = da.aggregate("fct_motions", "outcome", where=where, params=params)
    on_decision, p_decision = period.condition("decision_quarter")
    where, params = f.where("fct_motions", f"is_decided AND {on_decision}", p_decision)
    decided = da.aggregate("fct_motions", "is_granted", where=where, params=params)
    where, params = f.where(RELIEF, on_decision, p_decision)
    relief = da.aggregate(RELIEF, "relief_kind", weight="motions", where=where, params=params)

    on_status, p_status = period.condition("status_quarter")
    where, params = f.where("mart_removal_avoided", on_status, p_status)
    removal = da.aggregate("mart_removal_avoided", "removal_avoided_status", where=where, params=params)

    hours = pro_bono_summary(ctx, [], period)

    granted, n_decided = value(decided, True), value(decided, TOTAL_LABEL)
    rate = ratio(granted, n_decided, threshold=ctx.scope.threshold if ctx.scope.suppresses else None, percent=False)
    hours_value = float(hours.numeric["hours"].iloc[0]) if len(hours.numeric) else 0.0
    tiles = {
        "Clients served": (value(clients, TOTAL_LABEL), marker_of(clients, TOTAL_LABEL)),
        "Motions filed": (value(filed, TOTAL_LABEL), marker_of(filed, TOTAL_LABEL)),
        "Motions decided": (n_decided, marker_of(decided, TOTAL_LABEL)),
        "Motions granted": (granted, marker_of(decided, True)),
        "Grant rate": (float(rate.numeric.iloc[0]), str(rate.display.iloc[0]) if rate.any_suppressed else ""),
        "Vacaturs granted": (value(relief, "vacatur"), marker_of(relief, "vacatur")),
        "Offense reductions": (value(relief, "offense_reduction"), marker_of(relief, "offense_reduction")),
        "Sentence modifications": (value(relief, "sentence_modification"), marker_of(relief, "sentence_modification")),
        "Removal avoided (confirmed)": (value(removal, "confirmed"), marker_of(removal, "confirmed")),
        "Removal avoided (projected)": (value(removal, "projected"), marker_of(removal, "projected")),
        "Pro bono hours": (hours_value, str(hours.display["hours"].iloc[0]) if np.isnan(hours_value) else ""),
    }
    return {label: number for label, (number, _) in tiles.items()}, {label: shown for label, (_, shown) in tiles.items()}


@computed_per_scope
def km_median(ctx: Context) -> tuple[float, str, str]:
    """Kaplan-Meier median days from referral to decision for the visitor's scope and the one
    dimension filtered on (the mart has no crossed groups); what to show when there is none;
    the group it describes."""
    chosen = dict(ctx.filters.values)
    if ctx.scope.firm:
        dimension, group = "partner_firm", ctx.scope.firm
    elif len(chosen) == 1:
        dimension, group = next(iter(chosen.items()))
    elif not chosen:
        dimension, group = "all", "all"
    else:
        return np.nan, "not available", "not available for two filters at once"
    table = ctx.data.summary(
        "mart_time_to_resolution", [], {"km_median_days": "max(km_median_days)"}, weight="units",
        where="measure = $measure AND dimension = $dimension AND dimension_value = $group",
        params={"measure": MEASURE, "dimension": dimension, "group": group}, unit="referrals",
    )
    # No row: no referral in this scope; hidden: too few referrals to show; NULL: the curve
    # has not reached 50% yet.
    if not len(table.numeric):
        return np.nan, "no referrals", f"{dimension}: {group}"
    if table.any_suppressed:
        return np.nan, str(table.display["km_median_days"].iloc[0]), f"{dimension}: {group}"
    median = table.numeric["km_median_days"].iloc[0]
    return (np.nan, "not reached yet", f"{dimension}: {group}") if pd.isna(median) else (float(median), "", f"{dimension}: {group}")


# --- trends ----------------------------------------------------------------------------------

def _by_period(frame: pd.DataFrame | pd.Series, periods: list[str], zero) -> pd.DataFrame:
    """A period × series table (a table's numbers or what it shows) without its margins, one row
    per period of ``periods`` (trend_labels: a period with no row is a true zero, ``zero``)."""
    frame = frame[frame.index.get_level_values(0) != TOTAL_LABEL] if len(frame) else frame
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    return frame.reindex(list(periods), fill_value=zero)


def _motions(frame: pd.DataFrame, periods: list[str], zero) -> pd.DataFrame:
    # Decided is the table's row total, published with it (a total summed here from hidden cells
    # would reveal them).
    return pd.DataFrame({"decided": frame[TOTAL_LABEL] if TOTAL_LABEL in frame else np.nan,
                         "granted_total": frame[True] if True in frame.columns else zero}, index=periods)


@computed_per_scope
def trend_frames(ctx: Context, window: Period) -> dict[str, tuple[pd.DataFrame, pd.DataFrame | None]]:
    """Each trend chart's numbers (NaN where hidden for a funder) and, for a funder, what the
    published table shows for each (markers where hidden): by quarter of ``window`` up to the
    quarter the data stops in, or, for a reader whose small counts are hidden, by the years
    (trend_grain, as the other pages' trends) those quarters fall in, each year whole."""
    grain = trend_grain(ctx)
    da, f = ctx.data, ctx.filters
    if grain:
        periods = trend_labels([], window, grain)
        start_month = grain.fiscal_year_start_month or DEFAULT_FISCAL_YEAR_START_MONTH
        first, last = parse(periods[0], start_month), parse(periods[-1], start_month)
        window = quarter_range(quarter_label(first.start), quarter_label(last.end))
    else:
        periods = trend_labels([], window) or window.quarters()

    def counted(relation: str, rows: str, columns: str, where: str, params: dict):
        """Counts by quarter, or, by year, added up from the exact quarterly counts before
        anything is hidden (each motion or client is in one quarter)."""
        if not grain:
            return da.aggregate(relation, rows, columns, where=where, params=params)
        page = da.linked()
        da.aggregate(relation, rows, columns, where=where, params=params, into=page, into_key="trend")
        page.regroup_rows("trend", grain.of)
        return page.publish()["trend"]

    on_decision, p_decision = window.condition("decision_quarter")
    where, params = f.where("fct_motions", f"is_decided AND {on_decision}", p_decision)
    decided = counted("fct_motions", "decision_quarter", "is_granted", where, params)
    on_status, p_status = window.condition("status_quarter")
    where, params = f.where("mart_removal_avoided", f"removal_avoided_status IN ('confirmed', 'projected') AND {on_status}", p_status)
    removal = counted("mart_removal_avoided", "status_quarter", "removal_avoided_status", where, params)
    frames = {
        "motions": (_motions(_by_period(decided.numeric, periods, 0), periods, 0),
                    _motions(_by_period(decided.display, periods, "0"), periods, "0") if grain else None),
        "clients": (_by_period(removal.numeric, periods, 0).reindex(columns=["confirmed", "projected"], fill_value=0),
                    _by_period(removal.display, periods, "0").reindex(columns=["confirmed", "projected"], fill_value="0")
                    if grain else None),
    }
    if grain:  # a year's hours and the distinct cases they are protected by, as the Partner firms tiles count them
        yearly = {year: pro_bono_summary(ctx, [], parse(year, start_month), one_firm=ctx.one_firm) for year in periods}
        hours = pd.DataFrame({"hours": [float(t.numeric["hours"].iloc[0]) if len(t.numeric) else 0.0 for t in yearly.values()]},
                             index=periods)
        shown = pd.DataFrame({"hours": [str(t.display["hours"].iloc[0]) if len(t.display) else "0" for t in yearly.values()]},
                             index=periods)
        frames["hours"] = (hours, shown)
    else:
        on_entry, p_entry = window.condition("entry_quarter")
        where, params = f.where(PRO_BONO_MART, on_entry, p_entry)
        logged = da.summary(PRO_BONO_MART, "entry_quarter", {"hours": "coalesce(sum(hours), 0)"},
                            weight=pro_bono_count("cases", parse(periods[0]), one_firm=ctx.one_firm), where=where, params=params)
        numbers = logged.numeric.set_index("entry_quarter")[["hours"]] if len(logged.numeric) else pd.DataFrame(columns=["hours"])
        frames["hours"] = (numbers.reindex(periods, fill_value=0), None)
    return frames


def trends(ctx: Context, window: Period) -> None:
    frames = trend_frames(ctx, window)
    grain = trend_grain(ctx)

    def stacked(title: str, y_title: str):
        def draw(numbers: pd.DataFrame):
            figure = quarter_bars(numbers, title, y_title)
            figure.update_layout(barmode="stack")
            return figure
        return draw

    columns = st.columns(3)
    with columns[0]:
        numbers, shown = frames["motions"]
        show_chart(lambda kept: quarter_bars(kept, "Motions decided and granted", "motions"), numbers,
                   "motions decided and granted", markers=shown)
    with columns[1]:
        numbers, shown = frames["clients"]
        show_chart(stacked("Clients whose removal was avoided", "clients"), numbers, "clients whose removal was avoided",
                   stacked=True, markers=shown)
    with columns[2]:
        numbers, shown = frames["hours"]
        show_chart(lambda kept: quarter_bars(kept, "Pro bono hours", "hours"), numbers, "pro bono hours", markers=shown)
    first, last = frames["motions"][0].index[0], frames["motions"][0].index[-1]
    if grain:
        st.caption(grain.reason(f"of the decision (motions), of reaching the status (clients) and of logging the time (hours), "
                                f"{first} to {last}"))
    else:
        st.caption(f"By quarter, {window.label}: motions in the quarter of the decision, clients in the quarter their status "
                   "was reached, hours in the quarter logged.")


# --- needs attention ---------------------------------------------------------------------------

def needs_attention(ctx: Context) -> None:
    """Program managers only: the oldest open motions, the referred cases waiting longest for a
    first filing, and the data problems of the last run."""
    st.subheader("Needs attention")
    as_of = as_of_date()
    oldest, waiting, problems = st.tabs(["Oldest open motions", "Waiting longest for filing", "Data problems of the last run"])
    with oldest:
        where, params = ctx.filters.where("fct_motions", "outcome = 'pending' AND is_filed")
        frame = ctx.data.query(
            "SELECT motion_id, vehicle, county, partner_firm, filing_date, "
            "date_diff('day', filing_date, $as_of::DATE) AS days_open "
            f"FROM {{fct_motions}} WHERE {where} ORDER BY filing_date, motion_id LIMIT {ATTENTION_ROWS}", {**params, "as_of": as_of})
        if len(frame):
            show_frame(frame, "oldest open motions", caption=f"Pending motions filed longest ago; days open to {day_text(as_of)}.")
        else:
            nothing_matches(ctx, "pending motions", "fct_motions", period=False)
    with waiting:
        where, params = ctx.filters.where("fct_cases", "case_status = 'open' AND referral_date IS NOT NULL AND coalesce(motions_filed, 0) = 0")
        frame = ctx.data.query(
            "SELECT case_id, partner_firm, referral_date, date_diff('day', referral_date, $as_of::DATE) AS days_since_referral "
            f"FROM {{fct_cases}} WHERE {where} ORDER BY referral_date, case_id LIMIT {ATTENTION_ROWS}", {**params, "as_of": as_of})
        if len(frame):
            show_frame(frame, "cases waiting for filing", caption=f"Open referred cases with no motion filed yet; days to {day_text(as_of)}.")
        else:
            nothing_matches(ctx, "open referred cases without a filing", "fct_cases", period=False)
    with problems:
        data_problems(ctx)


def data_problems(ctx: Context) -> None:
    pipeline, raw = ctx.access("pipeline"), ctx.access("raw")
    try:
        runs = pipeline.query("SELECT run_id, started_at, finished_at, rows_quarantined, blocking_failures, warnings "
                              "FROM {runs} ORDER BY finished_at DESC LIMIT 1")
    except DataUnavailable:
        runs = pd.DataFrame()
    if runs.empty:
        st.info("No pipeline run is recorded: the data was built without `pcr run`, so there are no checks to report.")
        return
    last = runs.iloc[0]
    st.caption(f"Run {last.run_id}, finished {last.finished_at:%Y-%m-%d %H:%M} UTC: {int(last.rows_quarantined):,} rows "
               f"quarantined, {int(last.blocking_failures)} blocking check(s) and {int(last.warnings)} warning(s) not met.")
    quarantined = raw.query(
        "SELECT m.file_name AS source_file, m.file_kind, count(q.load_id) AS rows_quarantined "
        "FROM {load_manifest} m JOIN {quarantine} q ON q.load_id = m.load_id "
        "WHERE m.started_at >= $started AND m.started_at <= $finished GROUP BY ALL ORDER BY rows_quarantined DESC, source_file",
        {"started": last.started_at, "finished": last.finished_at})
    if len(quarantined):
        show_frame(quarantined, "quarantined rows per file", caption="Rows of the files this run loaded that were set aside "
                                                                     "with a reason (Data quality page: the reasons).")
    else:
        st.success("No row of the files this run loaded was quarantined.")
    failed = pipeline.query("SELECT severity, suite, dataset, expectation, description, unexpected_count FROM {validation_results} "
                            "WHERE run_id = $run AND NOT success ORDER BY severity, suite, dataset", {"run": last.run_id})
    if len(failed):
        show_frame(failed, "checks not met in the last run")
    else:
        st.success("Every check of the last run was met.")


# --- the page ----------------------------------------------------------------------------------

ctx = page_context()
st.title("Overview")
period, previous = ctx.filters.period, ctx.filters.period.previous()
st.caption(f"Period: **{period.label}**" + (f" — change against {previous.label}" if previous else "")
           + (f". {note}." if (note := partial_note(period)) else ""))
current, hidden_as = headline(ctx, period)
# A tile whose columns the exports do not carry would count them as blank: it says so instead.
lacking = [label for label, metric in TILE_NEEDS.items() if not ctx.available.has(metric)]
for label in lacking:
    current[label], hidden_as[label] = float("nan"), NOT_AVAILABLE
if all(number == 0 for label, number in current.items() if label != "Grant rate"):
    # Every count a true zero (a hidden one is NaN): nothing to compare or chart.
    nothing_matches(ctx, "clients, motions, relief or pro bono time", "fct_motions", CLIENTS, PRO_BONO_MART, "mart_removal_avoided")
    st.stop()
if all(current[label] == 0 for label in MOTION_TILES):  # clients and hours may still be there: say so above them
    nothing_matches(ctx, "motions", "fct_motions")
before = headline(ctx, previous)[0] if previous else {}

words = vocabulary_of_pages()
layout = [
    ["Clients served", "Motions filed", "Motions decided", "Motions granted"],
    ["Grant rate", "Vacaturs granted", "Offense reductions", "Sentence modifications"],
    ["Removal avoided (confirmed)", "Removal avoided (projected)", "Pro bono hours"],
]
rows = [st.columns(4) for _ in layout]
for columns, row in zip(rows, layout):
    for column, label in zip(columns, row):
        is_rate = label == "Grant rate"
        tile(column, label, fmt(current[label], marker=hidden_as[label], percent=is_rate), help_text=words.help(TILE_HELP[label]),
             change=delta(current[label], before.get(label), percent=is_rate))
median, median_missing, group = km_median(ctx)
if not ctx.available.has(MEASURE):
    median, median_missing = float("nan"), NOT_AVAILABLE
    lacking.append("Median days, referral to decision")
dimension, _, group_value = group.partition(": ")
described = group if not group_value else "every referral" if dimension == "all" else f"{words.header(dimension)} {group_value}"
km_label = "Median days, referral to decision (Kaplan–Meier)"
tile(rows[-1][3], km_label, fmt(median, marker=median_missing),
     help_text=f"{words.help('km_median_days')} All referrals ({described}), open ones counted as censored at the as-of date; "
               "not limited to the period.")
st.caption(
    "Grant rate = granted (incl. in part) ÷ decided; withdrawn and pending motions are not in the denominator. "
    "Offense reductions and sentence modifications are reported beside vacaturs, never added into them. "
    "Clients served: clients with a case open at some time in the period."
)
for sentence in ctx.available.sentences([(label, TILE_NEEDS.get(label, MEASURE)) for label in lacking]):
    st.info(sentence)

st.subheader(f"Trends by {trend_grain(ctx).words if trend_grain(ctx) else 'quarter'}")
trends(ctx, trend_window(period))
if ctx.scope.role is Role.PROGRAM_MANAGER:
    needs_attention(ctx)
ignored_note(ctx, CLIENTS, PRO_BONO_MART, "mart_removal_avoided")
suppression_note(ctx)
