"""Partner firms: the grant rate of decided motions, clients whose removal was avoided, pro bono
hours per case and per attorney, and the value of donated time, for the visitor's scope (a
partner firm: its own firm; a funder: all firms together, suppressed as on every page), with
pro bono hours by quarter. Program managers also compare the firms side by side."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from access.disclosure import SMALL_GROUP, TOTAL_LABEL, marker, ratio, small_marker
from dashboards.views.common import (PRO_BONO_MART, Context, Period, computed_per_scope, fmt, frame_for, has_rows, ignored_note, marker_of,
                                     not_available, nothing_matches, page_context, partial_note, pro_bono_count, pro_bono_summary,
                                     quarter_bars, show_chart, show_frame, suppression_note, tile, trend_labels, trend_window, value,
                                     vocabulary_of_pages)
from reports.periods import parse

REMOVAL = "mart_removal_avoided"
SHORT_HEADERS = {"grant rate (%)": "grant %", "avoided": "avoided", "hours_per_case": "hours / case",
                 "attorneys_participating": "attorneys", "hours_per_attorney": "hours / attorney", "value_usd": "value",
                 "cases_with_time": "cases"}
AVOIDED = ("confirmed", "projected")


def outcome_tables(ctx: Context, period: Period, by: list[str]):
    """Decided motions by grant (is_granted) and clients whose removal was avoided by status, in
    ``period``, by firm when ``by`` is [partner_firm] (else one row for the visitor's scope)."""
    on_decision, p_decision = period.condition("decision_quarter")
    where, params = ctx.filters.where("fct_motions", f"is_decided AND {on_decision}", p_decision)
    decided = ctx.data.aggregate("fct_motions", by or "is_granted", "is_granted" if by else None, where=where, params=params)
    on_status, p_status = period.condition("status_quarter")
    where, params = ctx.filters.where(REMOVAL, f"removal_avoided_status IN ('confirmed', 'projected') AND {on_status}", p_status)
    removal = ctx.data.aggregate(REMOVAL, by or "removal_avoided_status", "removal_avoided_status" if by else None,
                                 where=where, params=params)
    return decided, removal


@computed_per_scope
def tile_values(ctx: Context, period: Period) -> list[tuple[str, str, str]]:
    """The visitor's whole scope, one firm (a partner, or the firm filter) or all firms: each tile's
    label, what it shows and the vocabulary term of its help text."""
    time = pro_bono_summary(ctx, [], period, attorneys=True)
    decided, removal = outcome_tables(ctx, period, [])
    numeric = time.numeric.iloc[0] if len(time.numeric) else pd.Series({"n": 0.0, "hours": 0.0, "value_usd": 0.0})
    shown = time.display.iloc[0] if len(time.display) else numeric.astype(str)
    hidden = lambda column: str(shown[column]) if pd.isna(numeric.get(column)) else ""  # noqa: E731
    threshold = ctx.scope.threshold if ctx.scope.suppresses else None
    granted, n_decided = value(decided, True), value(decided, TOTAL_LABEL)
    rate = ratio(granted, n_decided, threshold=threshold, percent=False)
    avoided = value(removal, TOTAL_LABEL)
    per_case = numeric["hours"] / numeric["n"] if pd.notna(numeric["n"]) and numeric["n"] else np.nan
    entries = [
        ("Pro bono hours", fmt(numeric["hours"], marker=hidden("hours")), "hours"),
        ("Cases with time", fmt(numeric["n"], marker=hidden("n")), "cases_with_time"),
        ("Hours per case", fmt(per_case, marker=hidden("hours") or "–", decimals=1), "hours_per_case"),
        ("Value of donated time", fmt(numeric["value_usd"], marker=hidden("value_usd"), prefix="$"), "value_usd"),
    ]
    entries += [
        ("Motions decided", fmt(n_decided, marker=marker_of(decided, TOTAL_LABEL)), "decided"),
        ("Grant rate", fmt(float(rate.numeric.iloc[0]), marker=str(rate.display.iloc[0]) if rate.any_suppressed else "–",
                           percent=True), "grant_rate"),
        ("Removal avoided (clients)", fmt(avoided, marker=marker_of(removal, TOTAL_LABEL)), "avoided"),
    ]
    # A head count of attorneys, suppressed for a funder as the grant report does (on its own: no
    # other number of the page adds up to it); hours over fewer attorneys than the threshold are withheld.
    attorneys = numeric.get("attorneys_participating", np.nan)
    if not pd.isna(attorneys) or not len(time.numeric):
        attorneys = 0.0 if pd.isna(attorneys) else float(attorneys)  # no time entry in the scope: no attorney
        attorney_marker, per_attorney_marker = "", "–"
        if threshold and 0 < attorneys < threshold:
            attorney_marker = small_marker(threshold)
            per_attorney_marker = marker(SMALL_GROUP, threshold, "attorneys")
            attorneys = np.nan
    else:  # hidden with the number of cases with time
        attorney_marker = per_attorney_marker = hidden("attorneys_participating")
    entries += [("Attorneys participating", fmt(attorneys, marker=attorney_marker), "attorneys_participating"),
                ("Hours per attorney", fmt(numeric["hours"] / attorneys if attorneys else np.nan, marker=per_attorney_marker,
                                           decimals=1), "hours_per_attorney")]
    return entries


def scope_has_time_or_decisions(ctx: Context, period: Period) -> bool:
    """Whether the visitor's scope holds any pro bono time or decided motion in ``period``: tiles
    of zeros would read as a firm that did nothing, where the truth is that nothing matches."""
    time = pro_bono_summary(ctx, [], period)
    decided, _ = outcome_tables(ctx, period, [])
    # A hidden number of cases (NaN) is a small number, never none.
    with_time = bool(len(time.numeric)) and bool((time.numeric["n"].fillna(1) > 0).any())
    return with_time or has_rows(decided)


def tiles(ctx: Context, period: Period) -> None:
    words = vocabulary_of_pages()
    entries = tile_values(ctx, period)
    # Three to a row (a quarter of the page cuts off a dollar value in the millions), row by row.
    for first in range(0, len(entries), 3):
        for column, (label, shown_value, term) in zip(st.columns(3), entries[first:first + 3]):
            tile(column, label, shown_value, help_text=words.help(term))


@computed_per_scope
def comparison_table(ctx: Context, period: Period) -> pd.DataFrame | None:
    """Every firm's numbers, sorted by hours (None when no firm has time or decided motions)."""
    time = pro_bono_summary(ctx, "partner_firm", period, attorneys=True)
    decided, removal = outcome_tables(ctx, period, ["partner_firm"])
    if not len(time.numeric) and not has_rows(decided):
        return None
    firms = time.numeric.set_index("partner_firm") if len(time.numeric) else pd.DataFrame(columns=["n", "hours", "value_usd"])
    outcomes = decided.numeric.drop(index=TOTAL_LABEL, errors="ignore")
    avoided = removal.numeric.drop(index=TOTAL_LABEL, errors="ignore")
    names = sorted(set(firms.index) | set(outcomes.index) | set(avoided.index), key=str)
    table = pd.DataFrame(index=pd.Index(names, name="partner_firm"))
    table["hours"] = firms["hours"].reindex(names)
    table["cases_with_time"] = firms["n"].reindex(names)
    table["hours_per_case"] = (table["hours"] / table["cases_with_time"]).round(1)
    table["attorneys_participating"] = firms["attorneys_participating"].reindex(names)
    table["hours_per_attorney"] = (table["hours"] / table["attorneys_participating"]).round(1)
    table["value_usd"] = firms["value_usd"].reindex(names)
    table["decided"] = outcomes[TOTAL_LABEL].reindex(names).fillna(0) if TOTAL_LABEL in outcomes else 0
    table["granted_total"] = outcomes[True].reindex(names).fillna(0) if True in outcomes else 0
    table["grant_rate"] = (table["granted_total"] / table["decided"]).where(table["decided"] > 0)
    table["avoided"] = avoided[TOTAL_LABEL].reindex(names).fillna(0) if TOTAL_LABEL in avoided else 0
    table = table.sort_values(["hours", "decided"], ascending=False, na_position="last")
    table = table.apply(pd.to_numeric)
    for column in ("cases_with_time", "attorneys_participating", "decided", "granted_total", "avoided"):
        table[column] = table[column].round().astype("Int64")  # a firm with no time: empty, not 0
    table["hours"] = table["hours"].round(1)
    return table


def comparison(ctx: Context, period: Period) -> None:
    """Program managers: every firm side by side, sorted by hours, and charts of the grant rate
    and hours per attorney by firm."""
    table = comparison_table(ctx, period)
    if table is None:
        nothing_matches(ctx, "pro bono time or decided motions", "mart_dashboard_pro_bono", "fct_motions")
        return
    # The outcomes first, then time: a table wider than the page would hide its last columns.
    shown = table.reset_index()[["partner_firm", "grant_rate", "decided", "avoided", "hours", "hours_per_case",
                                 "attorneys_participating", "hours_per_attorney", "value_usd", "cases_with_time"]]
    shown["grant_rate"] = (shown["grant_rate"] * 100).round(1)
    shown = shown.rename(columns={"grant_rate": "grant rate (%)"})
    # Ten columns fit the page only with short headers (each keeps its help text).
    show_frame(shown, "partner firms compared", headers=SHORT_HEADERS, caption=(
        "Sorted by pro bono hours. Grant rate (%) = granted (incl. in part) ÷ decided, motions decided in the period; "
        "clients whose removal was avoided (confirmed + projected) in the quarter their status was reached; "
        "value of donated time = hours × the program's hourly rate."))

    words = vocabulary_of_pages()
    charted = table[table["decided"] > 0].sort_values("grant_rate")
    left, right = st.columns(2)
    with left:
        figure = go.Figure(go.Bar(x=(charted["grant_rate"] * 100).round(1), y=list(charted.index), orientation="h",
                                  marker_color=words.colour("granted"), name=words.label("grant_rate"),
                                  text=[f"{r * 100:.0f}% of {int(d)}" for r, d in zip(charted["grant_rate"], charted["decided"])],
                                  textposition="auto"))
        _tidy(figure, "Grant rate by firm", "grant rate (%)", len(charted))
        show_chart(figure, charted["grant_rate"], "the grant rate by firm")
    with right:
        hours = table[table["hours_per_attorney"].notna()].sort_values("hours_per_attorney")
        figure = go.Figure(go.Bar(x=hours["hours_per_attorney"], y=list(hours.index), orientation="h",
                                  marker_color=words.colour("hours"), name=words.label("hours_per_attorney")))
        _tidy(figure, "Hours per attorney by firm", "hours per attorney", len(hours))
        show_chart(figure, hours["hours_per_attorney"], "hours per attorney by firm")


def _tidy(figure: go.Figure, title: str, x_title: str, rows: int) -> None:
    # Room for the longest firm name: automargin on the category axis, one row per firm.
    figure.update_layout(title=title, xaxis_title=x_title, height=max(240, 90 + 30 * rows), showlegend=False,
                         margin=dict(l=10, r=10, t=50, b=10))
    figure.update_yaxes(automargin=True, type="category")


@computed_per_scope
def quarterly_hours(ctx: Context, window: Period) -> pd.DataFrame:
    """Pro bono hours of the visitor's scope in each quarter of ``window`` (NaN where withheld)."""
    on_entry, p_entry = window.condition("entry_quarter")
    where, params = ctx.filters.where(PRO_BONO_MART, on_entry, p_entry)
    quarters = trend_labels([], window) or window.quarters()
    hours = ctx.data.summary(PRO_BONO_MART, "entry_quarter", {"hours": "coalesce(sum(hours), 0)"},
                             weight=pro_bono_count("cases", parse(quarters[0]), one_firm=ctx.one_firm), where=where, params=params)
    numeric = hours.numeric.set_index("entry_quarter")[["hours"]] if len(hours.numeric) else pd.DataFrame(columns=["hours"])
    return numeric.reindex(quarters, fill_value=0)


def hours_by_quarter(ctx: Context, period: Period) -> None:
    """Pro bono hours of the visitor's scope by quarter, the twelve up to the period's end."""
    frame = quarterly_hours(ctx, trend_window(period))
    show_chart(quarter_bars(frame, "Pro bono hours by quarter", "hours"), frame, "pro bono hours by quarter")


ctx = page_context()
st.title("Partner firms")
period = ctx.filters.period
st.caption(f"Period: **{period.label}**" + (f". {note}." if (note := partial_note(period)) else ""))
st.subheader("Pro bono time and outcomes" + (f" of {ctx.scope.firm}" if ctx.scope.firm else "" if ctx.one_firm else ", all firms"))
if not_available(ctx, "Pro bono time", "pro_bono_hours"):
    pass  # the sentence it showed says why
if not ctx.is_manager and not ctx.one_firm:
    st.caption("All partner firms together: the comparison of firms is shown to program managers only.")
if scope_has_time_or_decisions(ctx, period):
    tiles(ctx, period)
    hours_by_quarter(ctx, period)
else:
    nothing_matches(ctx, "pro bono time or decided motions", PRO_BONO_MART, "fct_motions")
if ctx.is_manager and not ctx.one_firm:
    st.subheader("Firms compared")
    comparison(ctx, period)

on_decision, p_decision = period.condition("decision_quarter")
where, params = ctx.filters.where("fct_motions", f"is_decided AND {on_decision}", p_decision)
# The scope's outcomes for every role (a funder's table and a manager's of one name are the same
# table, suppressed or not); by firm besides, for program managers.
tables = [("outcome", None, "Motion outcomes", "motion outcomes")]
if ctx.is_manager and not ctx.one_firm:
    tables.append(("partner_firm", "outcome", "Motion outcomes by firm", "motion outcomes by firm"))
for rows, columns, title, name in tables:
    st.subheader(title)
    outcomes = ctx.data.aggregate("fct_motions", rows, columns, where=where, params=params)
    if not_available(ctx, "Decided motions", "motions_decided"):
        break  # the sentence it showed says why
    if has_rows(outcomes):
        show_frame(frame_for(outcomes, ctx.scope, rows), name, coded=("outcome",) if rows == "outcome" else (),
                   caption="Decided motions, in the quarter of the decision.")
    else:
        nothing_matches(ctx, "decided motions", "fct_motions")
        break
ignored_note(ctx, "mart_dashboard_pro_bono", "fct_motions", REMOVAL)
suppression_note(ctx)
