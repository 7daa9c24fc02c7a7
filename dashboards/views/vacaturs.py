"""Vacaturs by vehicle: outcomes and grant rate per vehicle, granted relief by recognition
class with offense reductions and sentence modifications beside vacaturs (never added into
them), and the trend by quarter."""
from __future__ import annotations

import streamlit as st

from access.disclosure import TOTAL_LABEL, ratio
from dashboards import charts
from dashboards.views.common import (show_chart, cells, decision_classes, frame_for, has_rows, ignored_note, not_available,
                                     nothing_matches, page_context, show_frame, suppression_note, words)

OUTCOMES = ["granted", "granted_in_part", "denied", "withdrawn", "pending"]

# Motion counts pre-aggregated at the grain of these tables (grouping the 1M motions took
# ~45 ms per table): decided motions and pending filed ones, granted motions.
MOTION_OUTCOMES, RELIEF = "mart_dashboard_motion_outcomes", "mart_dashboard_relief_granted"

ctx = page_context()
st.title("Vacaturs by vehicle")
classes_in_report = decision_classes()
vacatur_classes = list(classes_in_report.of("vacaturs"))
# Relief granted beside vacaturs, in the report's order; the relief mart keeps a sentence
# modification as one class where the report splits it by 8 CFR 1003.55 (honoured or not).
relief_beside = list(dict.fromkeys("sentence_modification" if code.startswith("sentence_modification") else code
                                   for code in classes_in_report.of("beside")))
period = ctx.filters.period
on_decision, p_decision = period.condition("decision_quarter")


def link_granted_motions(page) -> None:
    """The page's three tables count the same granted motions: a vehicle's granted and granted
    in part outcomes are its granted relief, and the trend's totals are the relief table's."""
    outcomes_by = page.interior("outcomes")
    relief_by = page.interior("relief")
    trend_by = page.interior("trend")
    granted_columns = [c for c in ("granted", "granted_in_part") if c in outcomes_by.columns]
    if relief_by.empty or not granted_columns:
        return
    for vehicle in relief_by.index:
        rows = [row for row in outcomes_by.index if row[1] == vehicle]
        page.link([("outcomes", row, c) for row in rows for c in granted_columns], ("relief", vehicle, TOTAL_LABEL))
    page.link([("outcomes", TOTAL_LABEL, c) for c in granted_columns], ("relief", TOTAL_LABEL, TOTAL_LABEL))
    if trend_by.empty:
        return
    page.link([("relief", TOTAL_LABEL, TOTAL_LABEL)], ("trend", TOTAL_LABEL, TOTAL_LABEL))
    for kind in trend_by.columns:
        classes = [c for c in (vacatur_classes if kind == "vacatur" else [kind]) if c in relief_by.columns]
        page.link([("relief", TOTAL_LABEL, c) for c in classes], ("trend", TOTAL_LABEL, kind))


# Outcomes in the quarter of the decision; motions still pending in the quarter of filing.
page = ctx.data.linked()
where, params = ctx.filters.where(MOTION_OUTCOMES, *period.condition("outcome_quarter"))
ctx.data.aggregate(MOTION_OUTCOMES, ["vehicle_recognition_class", "vehicle"], "outcome", weight="motions", where=where,
                   params=params, into=page, into_key="outcomes")
where, params = ctx.filters.where(RELIEF, on_decision, p_decision)
ctx.data.aggregate(RELIEF, "vehicle", "effective_recognition_class", weight="motions", where=where, params=params,
                   into=page, into_key="relief")
where, params = ctx.filters.where(RELIEF, f"decision_quarter IS NOT NULL AND {on_decision}", p_decision)
ctx.data.aggregate(RELIEF, "decision_quarter", "relief_kind", weight="motions", where=where, params=params,
                   into=page, into_key="trend")
link_granted_motions(page)
published = page.publish()
outcomes, relief, trend = published["outcomes"], published["relief"], published["trend"]

st.subheader(f"Motions by vehicle and outcome — {period.label}")
if not_available(ctx, "Motions by vehicle and outcome", "motions_decided"):
    pass  # the sentence it showed says why
elif has_rows(outcomes):
    numeric = outcomes.numeric.reindex(columns=[c for c in OUTCOMES if c in outcomes.numeric.columns] + [TOTAL_LABEL])
    # An outcome no motion in the scope has is a true zero; the rate takes whole columns, never scalars.
    counts = outcomes.numeric.reindex(columns=OUTCOMES, fill_value=0)
    granted = counts["granted"] + counts["granted_in_part"]
    rate = ratio(granted, granted + counts["denied"], threshold=ctx.scope.threshold if ctx.scope.suppresses else None)
    table = frame_for(outcomes, ctx.scope, ["recognition class", "vehicle"])
    table = table[["recognition class", "vehicle", *[c for c in [*OUTCOMES, TOTAL_LABEL] if c in table.columns]]]
    table["grant rate"] = rate.display.reindex(outcomes.numeric.index).to_numpy()
    show_frame(table, "motions by vehicle and outcome", coded=("recognition class",),
               caption="Grant rate = (granted + granted in part) ÷ (granted + granted in part + denied).")
    by_vehicle = charts.interior(numeric).droplevel(0)
    show_chart(charts.stacked_bars(by_vehicle, words=words(), x_title="vehicle", y_title="motions", title="Outcomes by vehicle",
                                   horizontal=True), by_vehicle, "outcomes by vehicle")
else:
    nothing_matches(ctx, "motions", MOTION_OUTCOMES)

st.subheader("Granted relief by vehicle and recognition class")
if not_available(ctx, "Granted relief by recognition class", "relief_by_recognition_class"):
    pass  # the sentence it showed says why
elif has_rows(relief):
    classes = relief.numeric.reindex(columns=[*vacatur_classes, *relief_beside], fill_value=0)
    relief_table = frame_for(relief, ctx.scope, "vehicle")
    # Shown only when every class is published: a sum over hidden cells would narrow them down.
    vacaturs = classes[vacatur_classes].sum(axis=1, min_count=len(vacatur_classes), skipna=False)
    relief_table.insert(1, "vacaturs (all classes)", cells(vacaturs.reindex(relief.numeric.index), relief, ctx.scope))
    relief_table = relief_table.rename(columns={TOTAL_LABEL: "all granted relief"})
    # Vacatur classes beside their sum, then the relief that is not a vacatur, then the total.
    order = ["vehicle", "vacaturs (all classes)", *vacatur_classes, *relief_beside]
    relief_table = relief_table[[c for c in order if c in relief_table.columns]
                                + sorted(set(relief_table.columns) - set(order) - {"all granted relief"}) + ["all granted relief"]]
    show_frame(relief_table, "granted relief by vehicle and class", caption=(
        "Vacaturs: recognized (defect-based), uncertain (unsettled law), not recognized (Pickering: rehabilitation "
        "or hardship). Offense reductions, sentence modifications and rehabilitative relief are counted beside "
        "vacaturs; 'all granted relief' is every granted motion, not a vacatur count."))
else:
    nothing_matches(ctx, "granted motions", RELIEF)

st.subheader("Trend by quarter of decision")
if not_available(ctx, "Granted relief by kind", "relief_by_kind"):
    pass  # the sentence it showed says why
elif has_rows(trend):
    show_chart(charts.lines(trend.numeric, words=words(), x_title="quarter of decision", y_title="granted motions",
                            title="Granted relief by kind"), trend.numeric, "granted relief by quarter")
    show_frame(frame_for(trend, ctx.scope, "decision_quarter"), "granted relief by quarter")
else:
    nothing_matches(ctx, "granted motions", RELIEF)
ignored_note(ctx, MOTION_OUTCOMES, RELIEF)
suppression_note(ctx)
