"""Vacaturs by vehicle: outcomes and grant rate per vehicle, granted relief by recognition
class with offense reductions and sentence modifications beside vacaturs (never added into
them), this year against last year, and the trend by quarter. Vehicles are listed by volume,
the busiest first."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from access.disclosure import TOTAL_LABEL, WITHHELD, ratio
from dashboards import charts
from dashboards.views.common import (as_of_date, day_text, show_chart, cells, decision_classes, frame_for, has_rows, ignored_note, not_available,
                                     nothing_matches, page_context, show_frame, suppression_note, vocabulary_of_pages, words,
                                     filled_trend, quarter_bars, trend_grain)
from reports.vocabulary import number

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
vocabulary = vocabulary_of_pages()


def busiest_first(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """Rows by ``by`` (a count, numbers or a funder's text) largest first, the Total row last;
    a hidden entry ("<11", "withheld") sorts between the shown ones and the zeros, in the
    table's own order (ranking hidden entries among themselves would tell them apart)."""
    # Floats: -inf for the Total in a column of whole counts would be cast back to integers.
    numbers = pd.to_numeric(frame[by].astype(str).str.replace(",", ""), errors="coerce").astype(float)
    is_total = frame.apply(lambda row: TOTAL_LABEL in set(map(str, row.to_numpy())), axis=1)
    key = numbers.fillna(0.5).where(~is_total, float("-inf"))
    return frame.iloc[(-key).to_numpy().argsort(kind="stable")]


def comparison_years() -> tuple[int, bool]:
    """The year compared with the one before: the period's calendar year when it is one, else the
    year the published data runs to; and whether the data stops inside it (a year to date)."""
    as_of = as_of_date()
    year = int(period.label) if period.kind == "year" else (as_of or dt.date.today()).year
    return year, as_of is not None and as_of < dt.date(year, 12, 31)


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


def link_years(page, years: dict[str, int]) -> None:
    """A year's vacaturs are the trend's vacaturs of that year's quarters when the period covers
    the whole year, and the relief table's vacatur classes, vehicle by vehicle, when the period
    is that year."""
    trend_by, relief_by = page.interior("trend"), page.interior("relief")
    for key, year in years.items():
        year_by = page.interior(key)
        if year_by.empty:
            continue
        whole_year = period.is_all or (period.start <= dt.date(year, 1, 1) and period.end >= dt.date(year, 12, 31))
        # The trend's rows of that year: its quarters, or for a funder the calendar year itself (a
        # fiscal year is no sum of calendar years' numbers, nor they of its).
        quarters = [q for q in trend_by.index if str(q).startswith(f"{year}-") or str(q) == str(year)] if not trend_by.empty else []
        if whole_year and quarters and "vacatur" in trend_by.columns:
            page.link([("trend", q, "vacatur") for q in quarters], (key, TOTAL_LABEL))
        classes = [c for c in vacatur_classes if not relief_by.empty and c in relief_by.columns]
        if period.kind == "year" and period.label == str(year) and classes:
            for vehicle in year_by.index:
                if vehicle in relief_by.index:
                    page.link([("relief", vehicle, c) for c in classes], (key, vehicle))


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
trend_grain_shown = trend_grain(ctx)
if trend_grain_shown:  # each motion is decided in one quarter: a year's motions are its quarters' sum
    page.regroup_rows("trend", trend_grain_shown.of)
this_year, to_date = comparison_years()
# Vacaturs alone, one number per vehicle and year: with every kind of relief, the funder's
# tables of the page took ten times as long to protect together (three tables of a dozen columns
# linked to the trend's quarters) for numbers the relief table above already gives.
for key, year in (("this_year", this_year), ("last_year", this_year - 1)):
    where, params = ctx.filters.where(RELIEF, "relief_kind = 'vacatur' AND decision_quarter BETWEEN $first AND $last",
                                      {"first": f"{year}-Q1", "last": f"{year}-Q4"})
    ctx.data.aggregate(RELIEF, "vehicle", weight="motions", where=where, params=params, into=page, into_key=key)
link_granted_motions(page)
link_years(page, {"this_year": this_year, "last_year": this_year - 1})
relief_by_vehicle = page.interior("relief")
page.add_derived_sums("relief_vacaturs", {vehicle: [("relief", vehicle, c) for c in vacatur_classes if c in relief_by_vehicle.columns]
                                          for vehicle in [*relief_by_vehicle.index, TOTAL_LABEL]})
published = page.publish()
outcomes, relief = published["outcomes"], published["relief"]
trend = filled_trend(published["trend"], period, trend_grain_shown)

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
    table = busiest_first(table, TOTAL_LABEL)
    show_frame(table, "motions by vehicle and outcome", coded=("recognition class",),
               caption="Grant rate = (granted + granted in part) ÷ (granted + granted in part + denied).")
    by_vehicle = charts.interior(numeric).droplevel(0)
    show_chart(lambda numbers: charts.stacked_bars(numbers, words=words(), x_title="vehicle", y_title="motions",
                                                   title="Outcomes by vehicle", horizontal=True),
               by_vehicle, "outcomes by vehicle", per="vehicle", stacked=True, table_at="above")
else:
    nothing_matches(ctx, "motions", MOTION_OUTCOMES)

st.subheader("Granted relief by vehicle and recognition class")
if not_available(ctx, "Granted relief by recognition class", "relief_by_recognition_class"):
    pass  # the sentence it showed says why
elif has_rows(relief):
    relief_table = frame_for(relief, ctx.scope, "vehicle")
    # For a funder, shown where the published numbers fix it (a vehicle's total less the relief beside it).
    vacaturs = published["relief_vacaturs"]
    relief_table.insert(1, "vacaturs (all classes)", cells(vacaturs.numeric.reindex(relief.numeric.index), relief, ctx.scope,
                                                           hidden_as=vacaturs.display.reindex(relief.numeric.index)))
    relief_table = relief_table.rename(columns={TOTAL_LABEL: "all granted relief"})
    # Vacatur classes beside their sum, then the relief that is not a vacatur, then the total.
    order = ["vehicle", "vacaturs (all classes)", *vacatur_classes, *relief_beside]
    relief_table = relief_table[[c for c in order if c in relief_table.columns]
                                + sorted(set(relief_table.columns) - set(order) - {"all granted relief"}) + ["all granted relief"]]
    relief_table = busiest_first(relief_table, "all granted relief")
    # Nine columns on one screen: short headers (each header's help has the full words).
    short = {code: vocabulary.label(code).removeprefix("vacatur: ") for code in vacatur_classes}
    short |= {"vacaturs (all classes)": "vacaturs", "offense_reduction": "reduction", "sentence_modification": "sentence mod.",
              "all granted relief": "all relief"}
    show_frame(relief_table, "granted relief by vehicle and class", headers=short, caption=(
        "Vacaturs: recognized, uncertain and not recognized together. Offense reductions, sentence modifications "
        "(sentence mod.) and rehabilitative relief are counted beside vacaturs; 'all relief' is every granted motion, "
        "not a vacatur count."))
    with st.expander("What the recognition classes mean", expanded=True):
        # The seed's descriptions: a program that re-words a class changes it there (seeds/decision_classes.csv).
        explained = [*vacatur_classes, *relief_beside]
        st.markdown("\n".join(f"- **{vocabulary.label(code).capitalize()}**: {vocabulary.help(code)}"
                               for code in explained if vocabulary.help(code)))
        st.caption("Immigration authorities honour a vacatur only when it rests on a legal defect (Matter of Pickering); "
                   "a state-court win and its immigration effect are different facts.")
else:
    nothing_matches(ctx, "granted motions", RELIEF)

this_label = f"1 Jan to {day_text(as_of_date())}" if to_date else str(this_year)
st.subheader(f"This year against last year: vacaturs granted by vehicle, {this_label} and {this_year - 1}")
st.caption("By the year of the decision, whatever the period chosen in the sidebar (a calendar year chosen there is "
           "compared with the year before it)." + (f" {this_year} is not over: the data runs to {day_text(as_of_date())}."
                                                   if to_date else ""))
current, previous = published["this_year"], published["last_year"]
if not_available(ctx, "Granted relief by kind", "relief_by_kind"):
    pass  # the sentence it showed says why
elif has_rows(current) or has_rows(previous):
    def year_numbers(table, rows: list) -> tuple[pd.Series, pd.Series]:
        """A year's vacaturs by vehicle: numbers (NaN when hidden) and what is shown; a vehicle
        without a vacatur that year is a true zero."""
        present = table.numeric.index
        numeric = pd.Series([table.numeric[r] if r in present else 0.0 for r in rows], index=rows, dtype=float)
        if not ctx.scope.suppresses:
            return numeric, numeric.astype("int64")
        return numeric, pd.Series([table.display[r] if r in present else "0" for r in rows], index=rows)

    vehicles = list(dict.fromkeys([*charts.interior(current.numeric).index, *charts.interior(previous.numeric).index]))
    this_vacaturs, this_shown = year_numbers(current, vehicles + [TOTAL_LABEL])
    last_vacaturs, last_shown = year_numbers(previous, vehicles + [TOTAL_LABEL])
    both = pd.DataFrame({"vehicle": [*vehicles, TOTAL_LABEL], f"vacaturs {this_label}": this_shown.to_numpy(),
                         f"vacaturs {this_year - 1}": last_shown.to_numpy()})
    change = this_vacaturs - last_vacaturs
    # A change computed from a hidden number would reveal it: "withheld" for a funder. The funder's
    # column is all text, like the counts beside it (a column of numbers and words cannot be sent
    # to the browser as one type).
    both["change"] = ([number(c, missing=WITHHELD) for c in change] if ctx.scope.suppresses
                      else [None if pd.isna(c) else int(c) for c in change])
    both = busiest_first(both, f"vacaturs {this_label}")
    show_frame(both, "vacaturs this year and last year", caption=(
        "Vacaturs of every recognition class (recognized, uncertain, not recognized); offense reductions, sentence "
        "modifications and rehabilitative relief are never counted as vacaturs."))
    compared = pd.DataFrame({this_label: this_vacaturs, str(this_year - 1): last_vacaturs}).drop(index=TOTAL_LABEL)
    show_chart(lambda numbers: charts.year_against_year(
        numbers, title=f"Vacaturs granted by vehicle: {this_label} and {this_year - 1}", value_title="vacaturs granted (motions)"),
               compared, "vacaturs this year and last year", per="vehicle", table_at="above")
else:
    nothing_matches(ctx, f"granted motions in {this_year} or {this_year - 1}", RELIEF, period=False)

st.subheader(f"Trend by {trend_grain_shown.words if trend_grain_shown else 'quarter'} of decision")
if not_available(ctx, "Granted relief by kind", "relief_by_kind"):
    pass  # the sentence it showed says why
elif has_rows(trend) and trend_grain_shown:
    grain = trend_grain_shown
    st.caption(grain.reason("of the decision"))

    def by_year(numbers: pd.DataFrame):
        # One kind left (the others set aside as mostly hidden) draws no legend: the title names it.
        title = (f"Granted relief by kind and {grain.words}" if numbers.shape[1] != 1
                 else f"Granted relief by {grain.words}: {vocabulary.label(numbers.columns[0])} only")
        return quarter_bars(numbers, title, "granted motions")

    show_chart(by_year, trend.numeric, f"granted relief by {grain.words}", markers=trend.display, table_at="below")
    show_frame(frame_for(trend, ctx.scope, "decision_year"), "granted relief by year", headers={"decision_year": grain.words})
elif has_rows(trend):
    show_chart(lambda numbers: charts.lines(numbers, words=words(), x_title="quarter of decision", y_title="granted motions",
                                            title="Granted relief by kind"),
               trend.numeric, "granted relief by quarter", markers=trend.display, table_at="below")
    show_frame(frame_for(trend, ctx.scope, "decision_quarter"), "granted relief by quarter")
else:
    nothing_matches(ctx, "granted motions", RELIEF)
ignored_note(ctx, MOTION_OUTCOMES, RELIEF)
suppression_note(ctx)
