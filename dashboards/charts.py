"""Plotly figures for the pages. Every chart is drawn from a table's ``.numeric`` (suppressed
entries are NaN and simply not drawn), never from unsuppressed counts."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from dashboards.disclosure import TOTAL_LABEL


def interior(numeric: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """The table without its Total row / column."""
    out = numeric[numeric.index.get_level_values(0) != TOTAL_LABEL]
    if isinstance(out, pd.DataFrame):
        out = out.drop(columns=TOTAL_LABEL, errors="ignore")
    return out


def stacked_bars(numeric: pd.DataFrame, *, x_title: str, y_title: str, title: str, horizontal: bool = False) -> go.Figure:
    """One bar per row label, stacked by column label."""
    data = interior(numeric)
    long = data.rename_axis(index="label", columns="series").stack(future_stack=True).rename("value").reset_index()
    long["label"] = long["label"].astype(str)
    long["series"] = long["series"].astype(str)
    long = long.dropna(subset=["value"])
    figure = px.bar(
        long, y="label" if horizontal else "value", x="value" if horizontal else "label", color="series",
        orientation="h" if horizontal else "v", title=title,
        labels={"label": x_title, "value": y_title, "series": ""},
    )
    figure = _tidy(figure)
    if horizontal:  # one readable row per label
        figure.update_yaxes(categoryorder="total ascending", dtick=1)
        figure.update_layout(height=max(420, 120 + 22 * long["label"].nunique()))
    return figure


def lines(numeric: pd.DataFrame, *, x_title: str, y_title: str, title: str) -> go.Figure:
    """One line per column label over the row labels (e.g. quarters)."""
    data = interior(numeric)
    figure = go.Figure()
    for column in data.columns:
        figure.add_trace(go.Scatter(x=[str(x) for x in data.index], y=data[column], mode="lines+markers", name=str(column), connectgaps=False))
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
