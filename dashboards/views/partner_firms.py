"""Partner firms: cases, outcomes, pro bono hours, hours per attorney and the value of
donated time, per firm (a partner sees its own firm only)."""
from __future__ import annotations

import streamlit as st

from dashboards import charts
from dashboards.views.common import (show_chart, cells, frame_for, has_rows, ignored_note, not_available, nothing_matches, page_context,
                                     pro_bono_count, show_frame, suppression_note, words)

PRO_BONO = "mart_dashboard_pro_bono"

ctx = page_context()
st.title("Partner firms")
period = ctx.filters.period

st.subheader(f"Pro bono time — {period.label}")
on_entry, p_entry = period.condition("entry_quarter")
# Pre-aggregated by firm and quarter (counting distinct cases and attorneys over the time
# entries took 0.5-2 s at 1M motions); grouped by firm, so the per-firm counts.
where, params = ctx.filters.where(PRO_BONO, on_entry, p_entry)
stats = {"hours": "sum(hours)", "value_usd": "sum(value_usd)"}
# Attorney head counts are small numbers about people (and hours ÷ hours per attorney gives
# them back): program managers and partners only.
if not ctx.scope.suppresses:
    attorneys = f"CAST(sum({pro_bono_count('attorneys', period, one_firm=True)}) AS BIGINT)"
    stats |= {"attorneys_participating": attorneys, "hours_per_attorney": f"sum(hours) / {attorneys}"}
time = ctx.data.summary(PRO_BONO, "partner_firm", stats, weight=pro_bono_count("cases", period, one_firm=True), where=where, params=params)
numeric = time.numeric
if not_available(ctx, "Pro bono time", "pro_bono_hours"):
    pass  # the sentence it showed says why
elif len(numeric):
    hours = frame_for(time, ctx.scope).rename(columns={"n": "cases_with_time"})
    hours["hours_per_case"] = cells(numeric["hours"] / numeric["n"], time, ctx.scope, decimals=1, hidden_as=time.display["hours"])
    for column in ("hours", "value_usd", "hours_per_attorney"):
        if column in numeric:
            hours[column] = cells(numeric[column], time, ctx.scope, decimals=0 if column == "value_usd" else 1,
                                  hidden_as=time.display[column], prefix="$" if column == "value_usd" else "")
    show_frame(hours, "pro bono time by firm", caption=(
        "Value of donated time = hours × the hourly rate the program sets for donated time."
        + (" Hours per attorney = hours ÷ attorneys who logged time." if "hours_per_attorney" in numeric else "")))
    by_firm = numeric.set_index("partner_firm")[["hours"]]
    show_chart(charts.stacked_bars(by_firm, words=words(), x_title="firm", y_title="hours", title="Pro bono hours by firm",
                                   horizontal=True),
               by_firm, "pro bono hours by firm")
else:
    nothing_matches(ctx, "pro bono time entries", PRO_BONO)

st.subheader("Cases by firm")
start, end = period.bounds()
where, params = ctx.filters.where("fct_cases", "referral_date IS NOT NULL AND intake_date <= $end AND (closed_date IS NULL OR closed_date >= $start)",
                                  {"start": start, "end": end})
cases = ctx.data.aggregate("fct_cases", "partner_firm", "case_status", where=where, params=params)
if not_available(ctx, "Referred cases by firm", "cases_referred"):
    pass  # the sentence it showed says why
elif has_rows(cases):
    show_frame(frame_for(cases, ctx.scope, "partner_firm"), "cases by firm", caption="Referred cases open at some time in the period.")
else:
    nothing_matches(ctx, "referred cases", "fct_cases")

st.subheader("Motion outcomes by firm")
on_decision, p_decision = period.condition("decision_quarter")
where, params = ctx.filters.where("fct_motions", f"is_decided AND {on_decision}", p_decision)
outcomes = ctx.data.aggregate("fct_motions", "partner_firm", "outcome", where=where, params=params)
if not_available(ctx, "Decided motions by firm", "motions_decided"):
    pass  # the sentence it showed says why
elif has_rows(outcomes):
    show_chart(charts.stacked_bars(outcomes.numeric, words=words(), x_title="firm", y_title="motions decided",
                                   title="Decided motions by firm", horizontal=True), outcomes.numeric, "decided motions by firm")
    show_frame(frame_for(outcomes, ctx.scope, "partner_firm"), "motion outcomes by firm", caption="Decided motions, in the quarter of the decision.")
else:
    nothing_matches(ctx, "decided motions", "fct_motions")
ignored_note(ctx, PRO_BONO, "fct_cases")
suppression_note(ctx)
