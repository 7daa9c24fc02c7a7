"""Partner firms: cases, outcomes, pro bono hours, hours per attorney and the value of
donated time, per firm (a partner sees its own firm only)."""
from __future__ import annotations

import streamlit as st

from dashboards import charts
from dashboards.views.common import cells, frame_for, ignored_note, page_context, show_frame, suppression_note

ctx = page_context()
st.title("Partner firms")
period = ctx.filters.period

st.subheader(f"Pro bono time — {period.label}")
on_entry, p_entry = period.condition("entry_quarter")
where, params = ctx.filters.where("fct_time_entries", on_entry, p_entry)
stats = {"hours": "sum(hours)", "value_usd": "sum(value_usd)"}
# Attorney head counts are small numbers about people (and hours ÷ hours per attorney gives
# them back): program managers and partners only.
if not ctx.scope.suppresses:
    stats |= {"attorneys_participating": "count(DISTINCT attorney_id)", "hours_per_attorney": "sum(hours) / count(DISTINCT attorney_id)"}
time = ctx.data.summary("fct_time_entries", "partner_firm", stats, distinct="case_id", where=where, params=params)
hours = frame_for(time, ctx.scope).rename(columns={"n": "cases_with_time"})
numeric = time.numeric
hours["hours_per_case"] = cells(numeric["hours"] / numeric["n"], time, ctx.scope, decimals=1)
for column in ("hours", "value_usd", "hours_per_attorney"):
    if column in numeric:
        hours[column] = cells(numeric[column], time, ctx.scope, decimals=1)
show_frame(hours, "pro bono time by firm", caption=(
    "Value of donated time = hours × the configured hourly rate (dbt var pro_bono_hourly_rate). "
    "Hours per attorney = hours ÷ attorneys who logged time."))
if len(numeric):
    st.plotly_chart(charts.stacked_bars(numeric.set_index("partner_firm")[["hours"]], x_title="firm", y_title="hours",
                                        title="Pro bono hours by firm", horizontal=True))

st.subheader("Cases by firm")
start, end = period.bounds()
where, params = ctx.filters.where("fct_cases", "referral_date IS NOT NULL AND intake_date <= $end AND (closed_date IS NULL OR closed_date >= $start)",
                                  {"start": start, "end": end})
cases = ctx.data.aggregate("fct_cases", "partner_firm", "case_status", where=where, params=params)
show_frame(frame_for(cases, ctx.scope, "partner_firm"), "cases by firm", caption="Referred cases open at some time in the period.")

st.subheader("Motion outcomes by firm")
on_decision, p_decision = period.condition("decision_quarter")
where, params = ctx.filters.where("fct_motions", f"is_decided AND {on_decision}", p_decision)
outcomes = ctx.data.aggregate("fct_motions", "partner_firm", "outcome", where=where, params=params)
st.plotly_chart(charts.stacked_bars(outcomes.numeric, x_title="firm", y_title="motions decided", title="Decided motions by firm", horizontal=True))
show_frame(frame_for(outcomes, ctx.scope, "partner_firm"), "motion outcomes by firm", caption="Decided motions, in the quarter of the decision.")
ignored_note(ctx, "fct_time_entries", "fct_cases")
suppression_note(ctx)
