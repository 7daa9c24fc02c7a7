"""Plotly figures for the pages. Every chart is drawn from a table's ``.numeric`` (suppressed
entries are NaN), never from unsuppressed counts, and only from what ``cut`` keeps of it: a
category (vehicle, county, quarter, year) with a hidden number is not drawn at all."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from access.disclosure import TOTAL_LABEL
from reports.periods import calendar_period
from reports.vocabulary import COLOURS, colour, series_colour, series_dash

# The words of codes come from reports.vocabulary (a page hands them to a chart as ``words``:
# dashboards.views.common.words()), and so do the colours: one per outcome, class and status on
# every page, role and report.


def label(code, words: Mapping[str, str]) -> str:
    return words.get(str(code), str(code))


def interior(numeric: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """The table without its Total row / column."""
    out = numeric[numeric.index.get_level_values(0) != TOTAL_LABEL]
    if isinstance(out, pd.DataFrame):
        out = out.drop(columns=TOTAL_LABEL, errors="ignore")
    return out


@dataclass(frozen=True)
class Cut:
    """What a chart may draw of a table for its reader: the one rule of every chart a funder sees.

    A category (a row: vehicle, county, quarter, year) with any hidden number is not drawn at
    all: a stacked bar missing its hidden part, or a group of bars missing one, reads as that
    part being 0 (89 granted motions withheld left a vehicle's denied bar alone, reading as a
    vehicle that fails). A series (a column) most of whose numbers are hidden is set aside first
    (named, not drawn), so that one rare series does not take every category with it: the others
    are more often shown than not, and drawn more of the chart keeps. Not when the series are stacked
    parts of one bar (``stacked``): a bar without one of its parts would read as a smaller
    whole, so there a hidden part takes its bar off like any other. On a time axis the left-out
    periods keep their place, empty and marked with what the table shows instead (the page does
    the marking): a period taken off the axis would close the gap and read as no time passing,
    and an unmarked gap reads as 0. Elsewhere the category is taken off the chart and named in
    the chart's sentence. Where more than half the categories would be left out, no chart is
    drawn: what remained would read as the whole."""

    numbers: pd.DataFrame  # what is drawn: kept series; on a time axis every period, the left-out ones all NaN
    left_out: list  # category labels not drawn, in the table's order
    series_left_out: list  # column labels not drawn (most of their numbers hidden)
    categories: int  # categories of the table (those with a number in a kept series)
    time_axis: bool

    @property
    def drawn(self) -> int:
        return self.categories - len(self.left_out)

    @property
    def replaced(self) -> bool:
        """No chart: something is hidden and nothing, or the smaller part, would be drawn."""
        if not (self.left_out or self.series_left_out):
            return False
        return self.numbers.shape[1] == 0 or self.drawn == 0 or 2 * len(self.left_out) > self.categories


def is_time_axis(labels) -> bool:
    """Every label is a quarter, a calendar year or a fiscal year (the trends' rows)."""
    def is_period(label) -> bool:
        try:
            calendar_period(str(label))
        except ValueError:
            return False
        return True

    return len(labels) > 0 and all(is_period(label) for label in labels)


def cut(drawn_from: pd.DataFrame | pd.Series, *, stacked: bool = False) -> Cut:
    """The part of ``drawn_from`` (a table's ``.numeric``, NaN where hidden; its Total row and
    column are never drawn) that a chart draws (``Cut``). A table with nothing hidden is kept whole."""
    frame = interior(drawn_from)
    frame = frame.to_frame() if isinstance(frame, pd.Series) else frame
    frame = frame.apply(pd.to_numeric, errors="coerce").astype(float)
    hidden = frame.isna()
    series_out = [] if stacked else [c for c in frame.columns if len(frame) and 2 * int(hidden[c].sum()) > len(frame)]
    kept = frame.drop(columns=series_out)
    rows_out = kept.isna().any(axis=1) if kept.shape[1] else pd.Series(True, index=kept.index)
    time_axis = is_time_axis(kept.index)
    if time_axis:
        numbers = kept.copy()
        numbers.loc[rows_out.to_numpy()] = float("nan")
    else:
        numbers = kept[~rows_out.to_numpy()]
    return Cut(numbers, [label for label, out in zip(kept.index, rows_out) if out], series_out, len(kept), time_axis)


def drop_categories(figure: go.Figure, labels) -> None:
    """Take ``labels`` off a figure drawn before ``cut``: every point of every trace at one of
    these categories, with its per-point text and colours. Only for a figure whose categories are
    the table's labels as text (a page that draws from the whole table)."""
    out = {str(label) for label in labels}
    for trace in figure.data:
        horizontal = getattr(trace, "orientation", None) == "h"
        categories = trace.y if horizontal else trace.x
        if categories is None:
            continue
        keep = [i for i, c in enumerate(categories) if str(c) not in out]
        n = len(categories)
        updates = {}
        for name in ("x", "y", "text", "hovertext", "customdata"):
            values = getattr(trace, name, None)
            if values is not None and not isinstance(values, str) and len(values) == n:
                updates[name] = [values[i] for i in keep]
        colours = getattr(trace.marker, "color", None) if hasattr(trace, "marker") else None
        if colours is not None and not isinstance(colours, str) and len(colours) == n:
            updates["marker_color"] = [colours[i] for i in keep]
        trace.update(**updates)


def stacked_bars(numeric: pd.DataFrame, *, words: Mapping[str, str], x_title: str, y_title: str, title: str,
                 horizontal: bool = False) -> go.Figure:
    """One bar per row label, stacked by column label; codes shown in ``words``."""
    data = interior(numeric)
    long = data.rename_axis(index="label", columns="series").stack(future_stack=True).rename("value").reset_index()
    long["label"] = long["label"].map(lambda code: label(code, words))
    long["series"] = long["series"].map(lambda code: label(code, words))
    long = long.dropna(subset=["value"])  # none for a table already ``cut``
    # A row with no bar (every number 0) would only be an empty line on the axis.
    long = long[long.groupby("label")["value"].transform("sum") > 0]
    figure = px.bar(
        long, y="label" if horizontal else "value", x="value" if horizontal else "label", color="series",
        orientation="h" if horizontal else "v", title=title,
        labels={"label": x_title, "value": y_title, "series": ""},
        color_discrete_map={label(code, words): colour(code) for code in data.columns},
        # The legend in the table's column order: in order of first appearance, a series whose
        # first rows are hidden for a funder would move, and the same chart would list it elsewhere.
        category_orders={"series": [label(code, words) for code in data.columns]},
    )
    figure = _tidy(figure)
    if horizontal:  # one readable row per label, and room for every legend entry
        figure.update_yaxes(categoryorder="total ascending", dtick=1)
        figure.update_layout(height=max(240, 120 + 26 * long["label"].nunique(), 120 + 22 * long["series"].nunique()))
    return figure


def lines(numeric: pd.DataFrame, *, words: Mapping[str, str], x_title: str, y_title: str, title: str) -> go.Figure:
    """One line per column label over the row labels (e.g. quarters); codes shown in ``words``."""
    data = interior(numeric)
    figure = go.Figure()
    for column in data.columns:
        figure.add_trace(go.Scatter(x=[str(x) for x in data.index], y=data[column], mode="lines+markers",
                                    name=label(column, words), connectgaps=False, line_color=colour(column)))
    figure.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title)
    return _tidy(figure)


def year_against_year(numeric: pd.DataFrame, *, title: str, value_title: str) -> go.Figure:
    """One row per label (a vehicle), a bar for each year (the columns: this year, then last
    year), the busiest of this year at the top. Drawn from a table already ``cut``: a vehicle
    with a hidden year is not on it."""
    data = numeric[(numeric.fillna(0) > 0).any(axis=1)]
    data = data.iloc[data.iloc[:, 0].fillna(-1).to_numpy().argsort(kind="stable")]  # ascending: the largest drawn on top
    figure = go.Figure()
    for column, colour in zip(reversed(list(data.columns)), (COLOURS["last_year"], COLOURS["this_year"])):
        figure.add_trace(go.Bar(y=[str(v) for v in data.index], x=data[column], orientation="h", name=str(column),
                                marker_color=colour, hovertemplate=f"%{{y}}, {column}: %{{x:,}}<extra></extra>"))
    figure.update_layout(title=title, barmode="group", xaxis_title=value_title, yaxis_title="vehicle",
                         legend_traceorder="reversed")
    figure.update_yaxes(dtick=1, automargin=True)
    return _tidy(figure, height=max(260, 120 + 34 * len(data)))


def _translucent(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


# More curves than this and their bands cover one another: the curves are drawn alone, and the
# medians' intervals compare the groups.
MAX_BANDS = 3


def survival_curves(curves: pd.DataFrame, *, title: str, order: list[str] | None = None, unit: str = "units") -> go.Figure:
    """Kaplan-Meier step curves with their 95% bands (up to ``MAX_BANDS`` curves): columns group,
    t_days, survival and, when present, survival_lower / survival_upper. Groups in ``order``
    (largest first), each in one colour of the palette, its band the same colour, faint."""
    figure = go.Figure()
    groups = order or sorted(curves["group"].unique())
    for i, group in enumerate(g for g in groups if (curves["group"] == g).any()):
        points = curves[curves["group"] == group].sort_values("t_days")
        colour = series_colour(i)
        # The curve starts at S(0) = 1 before the first event.
        x = [0, *points["t_days"]]
        banded = curves["group"].nunique() <= MAX_BANDS
        if banded and {"survival_lower", "survival_upper"} <= set(points.columns) and points["survival_lower"].notna().any():
            # The band as one closed outline: along the upper bound, back along the lower one.
            upper = [1.0, *points["survival_upper"]]
            lower = [1.0, *points["survival_lower"]]
            figure.add_trace(go.Scatter(x=x + x[::-1], y=upper + lower[::-1], mode="lines", line_shape="hv", line_width=0,
                                        fill="toself", fillcolor=_translucent(colour, 0.15), hoverinfo="skip",
                                        legendgroup=str(group), showlegend=False, name=f"{group}: 95% band"))
        y = [1.0, *points["survival"]]
        figure.add_trace(go.Scatter(x=x, y=y, mode="lines", line_shape="hv", name=str(group), legendgroup=str(group),
                                    line_color=colour, line_dash=series_dash(i),
                                    hovertemplate=f"{group}<br>day %{{x:,}}: %{{y:.0%}} of {unit} still unresolved<extra></extra>"))
    figure.add_hline(y=0.5, line_dash="dot", annotation_text="median", annotation_position="bottom right")
    figure.update_layout(title=title, xaxis_title="days since the start of the clock", yaxis_title=f"share of {unit} still unresolved",
                         yaxis_range=[0, 1.02], yaxis_tickformat=".0%")
    return _tidy(figure)


def median_intervals(medians: pd.DataFrame, *, title: str, group_title: str) -> go.Figure:
    """One point per group at its Kaplan-Meier median with a bar across its 95% interval
    (columns group, km_median_days, km_median_lower_days, km_median_upper_days); an interval
    whose upper end is not reached yet runs to the right edge, open. Groups without a median
    (not reached, or hidden) are left out."""
    data = medians.dropna(subset=["km_median_days"]).iloc[::-1]  # the first group at the top
    columns = ["km_median_days", "km_median_lower_days", "km_median_upper_days"]
    data = data.assign(**{c: data[c].astype(float) for c in columns})  # nullable integers take no fractional edge
    right_edge = float(pd.concat([data["km_median_upper_days"], data["km_median_days"]]).max()) * 1.1
    upper = data["km_median_upper_days"].fillna(right_edge)
    figure = go.Figure(go.Scatter(
        x=data["km_median_days"], y=data["group"].astype(str), mode="markers", marker=dict(size=9, color=series_colour(0)),
        error_x=dict(type="data", symmetric=False, array=upper - data["km_median_days"],
                     arrayminus=data["km_median_days"] - data["km_median_lower_days"].fillna(data["km_median_days"]),
                     color=series_colour(0), thickness=1.5),
        name="median", hovertemplate="%{y}: median %{x:,} days<extra></extra>"))
    figure.update_layout(title=title, xaxis_title="median days (95% interval)", yaxis_title=group_title,
                         height=max(240, 110 + 26 * len(data)), showlegend=False)
    figure.update_yaxes(dtick=1, automargin=True)
    return _tidy(figure, height=max(240, 110 + 26 * len(data)))


def _tidy(figure: go.Figure, height: int = 420) -> go.Figure:
    figure.update_layout(margin=dict(l=10, r=10, t=50, b=10), legend_title_text="", height=height)
    return figure
