"""Plotly figures for the pages. Every chart is drawn from a table's ``.numeric`` (suppressed
entries are NaN and simply not drawn), never from unsuppressed counts."""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from access.disclosure import TOTAL_LABEL
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


def stacked_bars(numeric: pd.DataFrame, *, words: Mapping[str, str], x_title: str, y_title: str, title: str,
                 horizontal: bool = False) -> go.Figure:
    """One bar per row label, stacked by column label; codes shown in ``words``."""
    data = interior(numeric)
    long = data.rename_axis(index="label", columns="series").stack(future_stack=True).rename("value").reset_index()
    long["label"] = long["label"].map(lambda code: label(code, words))
    long["series"] = long["series"].map(lambda code: label(code, words))
    long = long.dropna(subset=["value"])
    # A row with no bar (every number hidden or 0) would only be an empty line on the axis.
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
    year), the busiest of this year at the top; hidden numbers (NaN) are not drawn."""
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
