"""Overview: the headline numbers of the chosen period, with the change against the previous
period. Numbers that a subtraction links (granted and decided, vacaturs and the other relief)
come from one table each, so suppression protects them together."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from access.disclosure import TOTAL_LABEL, ratio
from dashboards.views.common import (Context, Period, delta, fmt, ignored_note, marker_of, nothing_matches, page_context, pro_bono_count,
                                     suppression_note, value)
from reports.availability import NOT_AVAILABLE

MEASURE = "referral_to_decision"
# Pre-aggregates of fct_cases and fct_time_entries: counting distinct clients and cases over
# the facts took 0.2-0.6 s per query at 1M motions. Granted motions by relief kind as well.
CLIENTS, PRO_BONO, RELIEF = "mart_dashboard_clients", "mart_dashboard_pro_bono", "mart_dashboard_relief_granted"
MOTION_TILES = ["Motions filed", "Motions decided", "Motions granted", "Vacaturs granted", "Offense reductions", "Sentence modifications"]
# The metric (reports/availability.py NEEDS) of each tile.
TILE_NEEDS = {
    "Clients served": "clients_served", "Motions filed": "motions_filed", "Motions decided": "motions_decided",
    "Motions granted": "motions_granted", "Grant rate": "grant_rate", "Vacaturs granted": "vacaturs_granted",
    "Offense reductions": "offense_reductions_granted", "Sentence modifications": "sentence_modifications_granted",
    "Removal avoided (confirmed)": "clients_removal_avoided_confirmed", "Removal avoided (projected)": "clients_removal_avoided",
    "Pro bono hours": "pro_bono_hours",
}


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

    on_entry, p_entry = period.condition("entry_quarter")
    where, params = f.where(PRO_BONO, on_entry, p_entry)
    hours = da.summary(PRO_BONO, [], {"hours": "coalesce(sum(hours), 0)"}, weight=pro_bono_count("cases", period, one_firm=ctx.one_firm),
                       where=where, params=params)

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


ctx = page_context()
st.title("Overview")
period, previous = ctx.filters.period, ctx.filters.period.previous()
st.caption(f"Period: **{period.label}**" + (f" — change against {previous.label}" if previous else ""))
current, hidden_as = headline(ctx, period)
# A tile whose columns the exports do not carry would count them as blank: it says so instead.
lacking = [label for label, metric in TILE_NEEDS.items() if not ctx.available.has(metric)]
for label in lacking:
    current[label], hidden_as[label] = float("nan"), NOT_AVAILABLE
if all(number == 0 for label, number in current.items() if label != "Grant rate"):
    # Every count a true zero (a hidden one is NaN): nothing to compare or chart.
    nothing_matches(ctx, "clients, motions, relief or pro bono time", "fct_motions", CLIENTS, PRO_BONO, "mart_removal_avoided")
    st.stop()
if all(current[label] == 0 for label in MOTION_TILES):  # clients and hours may still be there: say so above them
    nothing_matches(ctx, "motions", "fct_motions")
before = headline(ctx, previous)[0] if previous else {}

layout = [
    ["Clients served", "Motions filed", "Motions decided", "Motions granted"],
    ["Grant rate", "Vacaturs granted", "Offense reductions", "Sentence modifications"],
    ["Removal avoided (confirmed)", "Removal avoided (projected)", "Pro bono hours"],
]
rows = [st.columns(4) for _ in layout]
for columns, row in zip(rows, layout):
    for column, label in zip(columns, row):
        is_rate = label == "Grant rate"
        column.metric(
            label,
            fmt(current[label], marker=hidden_as[label], percent=is_rate),
            delta(current[label], before.get(label), percent=is_rate),
            border=True,
        )
median, median_missing, group = km_median(ctx)
if not ctx.available.has(MEASURE):
    median, median_missing = float("nan"), NOT_AVAILABLE
    lacking.append("Median days, referral to decision")
dimension, _, group_value = group.partition(": ")
described = group if not group_value else "every referral" if dimension == "all" else f"{dimension.replace('_', ' ')} {group_value}"
km_label = "Median days, referral to decision (Kaplan–Meier)"
with rows[-1][3].container(border=True):
    # The label is wider than a tile: written above the number, wrapping, instead of cut off.
    st.caption(km_label, help=f"All referrals, open ones counted as censored at the as-of date ({described}); "
                              "not limited to the period.")
    st.metric(km_label, fmt(median, marker=median_missing), label_visibility="collapsed")
st.caption(
    "Grant rate = granted (incl. in part) ÷ decided; withdrawn and pending motions are not in the denominator. "
    "Offense reductions and sentence modifications are reported beside vacaturs, never added into them. "
    "Clients served: clients with a case open at some time in the period."
)
for sentence in ctx.available.sentences([(label, TILE_NEEDS.get(label, MEASURE)) for label in lacking]):
    st.info(sentence)
ignored_note(ctx, CLIENTS, PRO_BONO, "mart_removal_avoided")
suppression_note(ctx)
