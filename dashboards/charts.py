"""Plotly figures for the pages. Every chart is drawn from a table's ``.numeric`` (suppressed
entries are NaN and simply not drawn), never from unsuppressed counts."""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from access.disclosure import TOTAL_LABEL

# Words a chart or a column header shows for the marts' codes that are not decision classes
# (outcomes, relief kinds, removal-avoided statuses, case status). The decision classes' words are
# the seed's (reports/vocabulary.py), which dashboards.views.common.words() adds to these; a page
# hands the result to a chart as ``words``. Any other code is shown as it is.
LABELS = {
    "granted": "granted", "granted_in_part": "granted in part", "pending": "pending",
    "vacatur": "vacatur", "sentence_modification": "sentence modification",
    "confirmed": "confirmed", "projected": "projected", "administrative_closure": "administrative closure",
    "partial_relief": "partial relief", "none_yet": "no effective relief yet (work open)",
    "no_effective_relief": "no effective relief (nothing open)", "not_avoided": "not avoided",
    "open": "open", "closed": "closed",
}
# One colour per code on every page, so "denied" looks the same wherever it is drawn.
COLOURS = {
    "granted": "#1f77b4", "granted_in_part": "#aec7e8", "denied": "#d62728", "withdrawn": "#c7c7c7", "pending": "#ff7f0e",
    "vacatur": "#2ca02c", "vacatur_recognized": "#2ca02c", "uncertain": "#98df8a",
    "not_recognized": "#bcbd22", "offense_reduction": "#9467bd", "sentence_modification": "#8c564b",
    "rehabilitative": "#e377c2",
    "confirmed": "#2ca02c", "projected": "#1f77b4", "administrative_closure": "#9467bd", "partial_relief": "#ffbb78",
    "none_yet": "#c7c7c7", "no_effective_relief": "#7f7f7f",
    "not_avoided": "#d62728", "hours": "#1f77b4",
}


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
        color_discrete_map={label(code, words): colour for code, colour in COLOURS.items()},
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
                                    name=label(column, words), connectgaps=False, line_color=COLOURS.get(str(column))))
    figure.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title)
    return _tidy(figure)


def survival_curves(curves: pd.DataFrame, *, title: str) -> go.Figure:
    """Kaplan-Meier step curves: columns group, t_days, survival."""
    figure = go.Figure()
    for group, points in curves.groupby("group", sort=True):
        points = points.sort_values("t_days")
        # The curve starts at S(0) = 1 before the first event.
        x = [0, *points["t_days"]]
        y = [1.0, *points["survival"]]
        figure.add_trace(go.Scatter(x=x, y=y, mode="lines", line_shape="hv", name=str(group)))
    figure.add_hline(y=0.5, line_dash="dot", annotation_text="median", annotation_position="bottom right")
    figure.update_layout(title=title, xaxis_title="days", yaxis_title="share still unresolved", yaxis_range=[0, 1.02])
    return _tidy(figure)


def _tidy(figure: go.Figure) -> go.Figure:
    figure.update_layout(margin=dict(l=10, r=10, t=50, b=10), legend_title_text="", height=420)
    return figure
