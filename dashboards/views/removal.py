"""Removal avoided (counts clients with removal exposure at intake): status, over time and by
county. Each client is in one county and one quarter (docs/glossary.md)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from access.disclosure import TOTAL_LABEL
from dashboards import charts
from dashboards.views.common import (filled_trend, show_chart, frame_for, has_rows, ignored_note, not_available,
                                     nothing_matches, page_context, quarter_bars, show_frame, suppression_note, trend_grain, words)

STATUSES = ["confirmed", "projected", "administrative_closure", "partial_relief", "none_yet", "no_effective_relief", "not_avoided"]
RELATION = "mart_removal_avoided"


def drawn_statuses(frame, *, bars: bool) -> str:
    """The statuses a chart of ``frame`` (what the chart rule keeps) draws, in words ("Confirmed
    and projected"): a status whose every number is 0 (for bars) leaves no mark, so the title
    does not name it."""
    numbers = charts.interior(frame).apply(pd.to_numeric, errors="coerce")
    shown = [words().get(s, s) for s in numbers.columns
             if (numbers[s].fillna(0) > 0).any() or (not bars and numbers[s].notna().any())]
    listed = ", ".join(shown[:-1]) + f" and {shown[-1]}" if len(shown) > 1 else "".join(shown) or "removal avoided"
    return listed[0].upper() + listed[1:]


ctx = page_context()
st.title("Removal avoided")
st.caption(
    "Clients with removal exposure at intake (in proceedings, final order, detained, or a removal-ground "
    "conviction). Confirmed: a favourable immigration outcome after immigration-effective relief. Projected: "
    "every removal-ground conviction cleared, no outcome yet. Administrative closure is its own, weaker category. "
    "A client counts in the quarter the status was reached."
)
if not_available(ctx, "Removal avoided", "clients_removal_avoided"):
    st.stop()  # no client would have removal exposure: every table below would be empty
on_status, p_status = ctx.filters.period.condition("status_quarter")
where, params = ctx.filters.where(RELATION, on_status, p_status)

# One client, one status, one quarter, one county: the three tables count the same clients,
# published as one system so that no table's numbers narrow another's hidden ones.
page = ctx.data.linked()
ctx.data.aggregate(RELATION, "removal_avoided_status", where=where, params=params, into=page, into_key="status")
ctx.data.aggregate(RELATION, "status_quarter", "removal_avoided_status", where=where, params=params, into=page, into_key="quarter")
ctx.data.aggregate(RELATION, "county", "removal_avoided_status", where=where, params=params, into=page, into_key="county")
# Each client is in one quarter, so a year's clients are its quarters' sum; the years replace
# the quarters, whose numbers are never published beside them.
grain = trend_grain(ctx)
if grain:
    page.regroup_rows("quarter", grain.of)
by_status = page.interior("status")
for breakdown in ("quarter", "county") if len(by_status) else ():
    for label in by_status.index:
        page.same((breakdown, TOTAL_LABEL, label), ("status", label))
    page.same((breakdown, TOTAL_LABEL, TOTAL_LABEL), ("status", TOTAL_LABEL))
published = page.publish()
status, by_county = published["status"], published["county"]
by_quarter = filled_trend(published["quarter"], ctx.filters.period, grain)
st.subheader(f"Clients by status — {ctx.filters.period.label}")
if not has_rows(status):  # the tables below read the same clients
    nothing_matches(ctx, "clients with removal exposure", RELATION)
    ignored_note(ctx, RELATION)
    st.stop()
status_frame = frame_for(status, ctx.scope, "status", "clients")
order = {s: i for i, s in enumerate([*STATUSES, "Total"])}
status_frame = status_frame.sort_values("status", key=lambda c: c.map(order))
show_frame(status_frame, "clients by removal-avoided status", coded=("status",))

st.subheader("Over time")
quarters = by_quarter.numeric.drop(index="none", errors="ignore")
drawn = [s for s in STATUSES[:3] if s in quarters.columns]
if grain:
    st.caption(grain.reason("the status was reached"))
if not (drawn and len(charts.interior(quarters))):
    st.caption("No client in these filters has reached confirmed, projected or administrative closure: nothing to draw.")
elif grain:
    show_chart(lambda numbers: quarter_bars(numbers, f"{drawn_statuses(numbers, bars=True)} by {grain.words}", "clients"),
               quarters.reindex(columns=drawn), f"removal avoided by {grain.words}", markers=by_quarter.display,
               table_at="below")
else:
    show_chart(lambda numbers: charts.lines(numbers, words=words(), x_title="quarter the status was reached", y_title="clients",
                                            title=f"{drawn_statuses(numbers, bars=False)} by quarter"),
               quarters.reindex(columns=drawn), "removal avoided by quarter", markers=by_quarter.display, table_at="below")
# Headers of the two wide tables, short enough for every status to fit, a funder's text cells
# included (each header's help has the full words, reports/vocabulary.py's labels).
SHORT_HEADERS = {"status_quarter": "quarter", "administrative_closure": "admin. closure", "partial_relief": "partial",
                 "none_yet": "none yet (open)", "no_effective_relief": "none (closed)"}


def in_status_order(frame, key: str):
    """The statuses in the order of the glossary (strongest first), not alphabetical."""
    return frame[[key, *[c for c in STATUSES if c in frame.columns], *[c for c in frame.columns if c not in (key, *STATUSES)]]]


period_key = "status_year" if grain else "status_quarter"
show_frame(in_status_order(frame_for(by_quarter, ctx.scope, period_key), period_key),
           f"removal avoided by {'year' if grain else 'quarter'}", coded=(period_key,),
           headers={**SHORT_HEADERS, "status_year": grain.words} if grain else SHORT_HEADERS,
           caption="'No date yet': no relief and no outcome yet, so no date the status was reached.")

st.subheader("By county")
county_statuses = by_county.numeric.reindex(columns=[s for s in STATUSES if s in by_county.numeric.columns])
show_chart(lambda numbers: charts.stacked_bars(numbers, words=words(), x_title="county", y_title="clients",
                                               title="Status by county", horizontal=True),
           county_statuses, "status by county", per="county", stacked=True, table_at="below")
show_frame(in_status_order(frame_for(by_county, ctx.scope, "county"), "county"), "removal avoided by county", coded=("county",),
           headers=SHORT_HEADERS,
           caption="County of the conviction of the motion the status rests on; 'not recorded': no motion places the client in a county.")
ignored_note(ctx, RELATION)
suppression_note(ctx)
