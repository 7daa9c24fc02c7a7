"""Time to resolution: Kaplan-Meier curves with their 95% bands, medians with their 95%
intervals and 75th percentiles, compared across intake cohorts, vehicles, counties or firms;
the oldest open motions for program managers.

Funders: a curve (and its band) is drawn only while at least ``threshold`` (11) units remain at
risk — the usual truncation of published survival curves — and a group's median, interval and
75th percentile only when the group has at least ``threshold`` units (complementary suppression
across groups). Event and censoring counts are not shown to funders. Partners see their own
firm's curve (the marts are not crossed by firm and vehicle)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from access.scope import Role
from dashboards import charts
from dashboards.views.common import (day_text, frame_for, not_available, nothing_matches, page_context, show_frame, suppression_note,
                                     vocabulary_of_pages)

MEASURES = {  # measure -> what one unit is
    "referral_to_decision": "re-filing chains",
    "intake_to_decision": "re-filing chains",
    "filing_to_decision": "motions",
    "decision_to_immigration_outcome": "clients",
}
GROUPS = {"all": "nothing (all together)", "intake_cohort": "intake year", "vehicle": "vehicle", "county": "county",
          "partner_firm": "partner firm"}
TOP_GROUPS = 8
OLDEST_OPEN = 25

ctx = page_context()
words = vocabulary_of_pages()
st.title("Time to resolution")
st.caption(
    "Kaplan–Meier estimates count still-open work as censored at the as-of date, so the median is not biased "
    "low the way a median over closed cases is. The shaded band around each curve and the interval beside each "
    "median are 95% confidence intervals. Not limited to the period filter."
)
left, right = st.columns(2)
measure = left.selectbox("Measure", list(MEASURES), key="ttr_measure",
                         format_func=lambda code: f"{words.label(code)} ({MEASURES[code]})".capitalize(),
                         help="\n\n".join(f"**{words.label(m).capitalize()}**: {words.help(m)}" for m in MEASURES))
unit = MEASURES[measure]
measure_words = f"{words.label(measure)} ({unit})".capitalize()
if ctx.scope.role is Role.PARTNER:
    dimension = "partner_firm"
    right.caption(f"Your firm: **{ctx.scope.firm}**")
else:
    dimension = right.selectbox("Compare by", list(GROUPS), format_func=GROUPS.get, key="ttr_dimension",
                                help="One curve and one median per intake year, vehicle (of the latest motion of the "
                                     "chain), county of the convicting court or partner firm.")
chosen = dict(ctx.filters.values).get(dimension)
# A clock whose dates the exports do not carry: no curve, no median, the sentence instead.
measured = not not_available(ctx, measure_words, measure)


def group_words(value) -> str:
    """A group as a reader says it: the overall group names its unit, a missing value says so."""
    return f"all {unit}" if dimension == "all" else words.label(value)


where = "measure = $measure AND dimension = $dimension" + (" AND dimension_value = $group" if chosen else "")
params = {"measure": measure, "dimension": dimension, **({"group": chosen} if chosen else {})}
stats = {"km_median_days": "max(km_median_days)", "km_median_lower_days": "max(km_median_lower_days)",
         "km_median_upper_days": "max(km_median_upper_days)", "km_p75_days": "max(km_p75_days)",
         "closed_only_median_days": "max(closed_only_median_days)"}
if not ctx.scope.suppresses:
    stats |= {"events": "max(events)", "censored": "max(censored)"}
medians = ctx.data.summary("mart_time_to_resolution", "dimension_value", stats, weight="units", where=where, params=params,
                           unit=unit)
group_header = "group" if dimension == "all" else dimension
st.subheader("Medians with their 95% intervals, and 75th percentiles (days)")
if not measured:
    pass  # the sentence above says why
elif len(medians.numeric):
    frame = frame_for(medians, ctx.scope).rename(columns={"dimension_value": group_header, "n": "units"})
    # Largest groups first (an intake year in its own order); a group whose size a funder cannot
    # see goes after the others, in the table's own order (its size never places it).
    if dimension == "intake_cohort":
        order = np.argsort(medians.numeric["dimension_value"].astype(str).to_numpy(), kind="stable")
    else:
        order = np.argsort(-medians.numeric["n"].astype(float).fillna(-1).to_numpy(), kind="stable")
    frame = frame.iloc[order]
    frame[group_header] = frame[group_header].map(group_words)
    show_frame(frame, "time to resolution medians", caption=(
        "Median / 75th percentile days (Kaplan–Meier): first day the curve reaches 50% / 25% still unresolved "
        "(not reached yet: the curve has not come down that far). The 95% interval of the median is read off the curve's band; "
        "its upper end is not reached while the band stays above 50%. The median of closed work only ignores open work and is biased "
        "low; shown for comparison."))
    drawn = medians.numeric.assign(group=medians.numeric["dimension_value"].map(group_words)).iloc[order]
    if dimension != "all" and drawn["km_median_days"].notna().sum() > 1:
        st.plotly_chart(charts.median_intervals(drawn.head(20), title=f"Median days with 95% interval — {measure_words}",
                                                group_title=words.header(dimension)))
        if len(drawn) > 20:
            st.caption("The 20 largest groups; the table has every group.")
else:
    group = f"{words.header(dimension)} {chosen or ctx.scope.firm}" if (chosen or ctx.scope.firm) else None
    st.info(f"No times to resolution match these filters for “{measure_words}” ({group})." if group
            else f"No times to resolution for “{measure_words}” are in the published data.")

# Curves of the largest groups (at the start of the clock).
largest = medians.numeric.dropna(subset=["n"]).sort_values("n", ascending=False)["dimension_value"].head(TOP_GROUPS).tolist()
if largest and measured:
    min_at_risk = ctx.scope.threshold if ctx.scope.suppresses else 0
    curve_where = where.replace("dimension_value = $group", "true") + " AND list_contains($groups, dimension_value) AND at_risk >= $min_at_risk"
    curve_params = {k: v for k, v in params.items() if k != "group"} | {"groups": largest, "min_at_risk": min_at_risk}
    curves = ctx.data.summary("mart_time_to_resolution_km", ["dimension_value", "t_days"],
                              {"survival": "max(survival)", "survival_lower": "max(survival_lower)",
                               "survival_upper": "max(survival_upper)"},
                              weight="at_risk", where=curve_where, params=curve_params)
    points = curves.numeric.dropna(subset=["survival"])
    points = points.assign(group=points["dimension_value"].map(group_words))
    order = [group_words(g) for g in largest]
    title = measure_words + ("" if dimension == "all" else f" — by {words.header(dimension)}") + (
        f" (largest {TOP_GROUPS} groups)" if len(medians.numeric) > TOP_GROUPS else "")
    st.plotly_chart(charts.survival_curves(points, title=title, order=order, unit=unit))
    if points["group"].nunique() > charts.MAX_BANDS:
        st.caption(f"With more than {charts.MAX_BANDS} curves their 95% bands would cover one another: they are left out "
                   "here, and the medians' intervals above compare the groups.")
    if ctx.scope.suppresses:
        st.caption(f"Each curve stops where fewer than {ctx.scope.threshold} units remain at risk.")
elif len(medians.numeric) and measured:  # with no times at all, the sentence above already says so
    st.info("No group large enough to draw a curve.")

if ctx.scope.role is Role.PROGRAM_MANAGER:
    st.subheader(f"Oldest open motions (the {OLDEST_OPEN} filed longest ago, still pending)")
    if not not_available(ctx, "Oldest open motions", "motions_filed"):  # else the sentence says why
        where, params = ctx.filters.where("fct_motions", "outcome = 'pending' AND is_filed")
        # The 25 first, then the as-of date: in one SELECT, DuckDB read every column of every
        # pending motion (twice the time at 1M motions) instead of the 25 rows' only.
        oldest = ctx.data.query(
            "WITH oldest AS (SELECT motion_id, vehicle, county, partner_firm, attorney_id, filing_date, hearing_date "
            f"FROM {{fct_motions}} WHERE {where} ORDER BY filing_date, motion_id LIMIT {OLDEST_OPEN}) "
            "SELECT date_diff('day', filing_date, (SELECT max(as_of_date) FROM {mart_time_to_resolution})) AS days_open, "
            "motion_id, filing_date, hearing_date, vehicle, county, partner_firm, attorney_id "
            "FROM oldest ORDER BY filing_date, motion_id", params)
        if len(oldest):
            measured_to = ctx.data.query("SELECT max(as_of_date) AS as_of FROM {mart_time_to_resolution}").iloc[0, 0]
            show_frame(pd.DataFrame(oldest), "oldest open motions",
                       caption="Days open from the filing to " + ("the day the data runs to." if pd.isna(measured_to) else
                                                                  f"{day_text(pd.Timestamp(measured_to).date())}, the day the "
                                                                  "data runs to."))
        else:
            nothing_matches(ctx, "pending motions", "fct_motions", period=False)
suppression_note(ctx)
