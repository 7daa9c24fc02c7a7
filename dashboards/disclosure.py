"""Small-cell suppression for everything a funder sees (dashboards and grant reports).

Policy (domain brief section 5; California Health and Human Services Data De-identification
Guidelines, section 4.4):

* **Primary suppression.** Every published count from 1 to ``threshold - 1`` (default 11, so
  1..10) is suppressed — interior cells *and* margins, since a row total of 7 is as small a
  group as a cell of 7.
* **Zeros are shown.** A true zero describes nobody: the CHHS guidelines say values of 0 need
  not be suppressed because a non-event cannot be identified. Zeros are also never chosen as
  complements (a suppressed zero beside published neighbours could be pinned exactly).
* **Complementary suppression.** The published table is the interior plus its margins. Every
  row, column and the total row/column is an equation ``sum(interior) = margin``. Repeated
  to a fixed point:

  1. an equation holding exactly one suppressed entry would give it away by subtraction, so
     a second entry is suppressed — the smallest positive published interior entry of that
     equation (ties: first in row-major order), or the margin when none is left;
  2. when the margin of an equation is published, the suppressed interior entries of that
     equation add up to a disclosed number; if it is below the threshold, more entries are
     suppressed until it is not (the CHHS "sum of suppressed values < 11" rule);
  3. the whole system is checked at once: a suppressed entry is recoverable exactly when no
     solution of the published equations can move it (linear algebra: it has a zero
     component in every null-space vector of the suppressed columns). Row/column rules alone
     miss a cell whose only links form a bridge between two groups of suppressed cells; such
     a cell gets one more complement chosen to put it on a cycle.

  Because every suppressed value is positive, a null-space direction can be followed a little
  either way without a count going negative, so no suppressed entry is determined even with
  the knowledge that counts are non-negative (tests/test_disclosure.py checks this with a
  linear program).

* **Restriction: at most two dimensions.** A funder table is a 1-D series or a 2-D frame with
  (optionally) its totals. A frame with a MultiIndex is treated as 2-D with composite row keys:
  subtotals by one level are *not* protected, so do not publish them beside it. Two tables
  that share a margin (e.g. vehicle x outcome and county x outcome, both with outcome totals)
  are protected one by one, not jointly: give a funder page one table per set of margins.

Derived values (rates, percentages) take their inputs from ``.numeric``, where suppressed
entries are NaN, so anything computed from a suppressed number is NaN as well; ``ratio``
formats them with the marker.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_THRESHOLD = 11
TOTAL_LABEL = "Total"


def marker_for(threshold: int) -> str:
    return f"<{threshold}"


@dataclass(frozen=True)
class SuppressedTable:
    """A table ready to publish. All three frames share labels (including the total row /
    column when margins were requested)."""

    display: pd.DataFrame | pd.Series  # strings; suppressed entries show the marker
    numeric: pd.DataFrame | pd.Series  # floats; suppressed entries are NaN (for charts)
    suppressed_mask: pd.DataFrame | pd.Series  # True where suppressed
    threshold: int | None  # None: nothing was suppressed (program manager / partner view)

    @property
    def marker(self) -> str:
        return marker_for(self.threshold) if self.threshold else ""

    @property
    def any_suppressed(self) -> bool:
        return bool(np.asarray(self.suppressed_mask).any())


# --- building the published grid -------------------------------------------------------------

@dataclass
class _Grid:
    """Flat entries of the published table and the equations that link them."""

    values: np.ndarray  # int64, flattened in row-major order of the published layout
    equations: list[tuple[np.ndarray, int]]  # (interior entry indices, margin entry index)
    labels: pd.DataFrame | pd.Series  # frame/series of the published layout (holds the values)


def _as_counts(values: np.ndarray, what: str) -> np.ndarray:
    as_float = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(as_float)):
        raise ValueError(f"{what}: counts must not be missing (NaN/None); fill true zeros with 0")
    if np.any(as_float < 0) or np.any(as_float != np.round(as_float)):
        raise ValueError(f"{what}: counts must be non-negative integers")
    return as_float.astype(np.int64)


def _check_total_label(labels: pd.Index, total_label: str) -> None:
    if total_label in labels:
        raise ValueError(f"the table already has a {total_label!r} label: pass the interior only, margins are added here")


def _grid_1d(series: pd.Series, with_margins: bool, total: int | None, total_label: str) -> _Grid:
    cells = _as_counts(series.to_numpy(), "suppress")
    if not with_margins:
        return _Grid(cells, [], pd.Series(cells, index=series.index, name=series.name))
    _check_total_label(series.index, total_label)
    grand = int(cells.sum()) if total is None else int(_as_counts(np.array([total]), "total")[0])
    values = np.append(cells, grand)
    index = _append_label(series.index, total_label)
    equations = [(np.arange(len(cells)), len(cells))]
    return _Grid(values, equations, pd.Series(values, index=index, name=series.name))


def _grid_2d(
    frame: pd.DataFrame,
    with_margins: bool,
    row_totals: pd.Series | None,
    column_totals: pd.Series | None,
    grand_total: int | None,
    total_label: str,
) -> _Grid:
    cells = _as_counts(frame.to_numpy(), "suppress")
    n_rows, n_cols = cells.shape
    if not with_margins:
        return _Grid(cells.ravel(), [], pd.DataFrame(cells, index=frame.index, columns=frame.columns))
    _check_total_label(frame.index, total_label)
    _check_total_label(frame.columns, total_label)
    rows = cells.sum(axis=1) if row_totals is None else _as_counts(row_totals.reindex(frame.index).to_numpy(), "row_totals")
    cols = cells.sum(axis=0) if column_totals is None else _as_counts(column_totals.reindex(frame.columns).to_numpy(), "column_totals")
    grand = int(cells.sum()) if grand_total is None else int(_as_counts(np.array([grand_total]), "grand_total")[0])
    extended = np.zeros((n_rows + 1, n_cols + 1), dtype=np.int64)
    extended[:n_rows, :n_cols] = cells
    extended[:n_rows, n_cols] = rows
    extended[n_rows, :n_cols] = cols
    extended[n_rows, n_cols] = grand
    width = n_cols + 1
    equations: list[tuple[np.ndarray, int]] = []
    for i in range(n_rows + 1):  # each row, and the row of column totals, sums to its margin
        equations.append((i * width + np.arange(n_cols), i * width + n_cols))
    for j in range(n_cols + 1):  # each column, and the column of row totals
        equations.append((np.arange(n_rows) * width + j, n_rows * width + j))
    index = _append_label(frame.index, total_label)
    columns = _append_label(frame.columns, total_label)
    return _Grid(extended.ravel(), equations, pd.DataFrame(extended, index=index, columns=columns))


def _append_label(labels: pd.Index, total_label: str) -> pd.Index:
    if labels.nlevels == 1:
        return labels.append(pd.Index([total_label]))
    return labels.append(pd.MultiIndex.from_tuples([(total_label,) + ("",) * (labels.nlevels - 1)]))


# --- the suppression itself ------------------------------------------------------------------

def _determined(values: np.ndarray, equations: list[tuple[np.ndarray, int]], suppressed: np.ndarray) -> np.ndarray:
    """Indices of suppressed entries whose value the published equations pin down exactly."""
    hidden = np.flatnonzero(suppressed)
    if hidden.size == 0 or not equations:
        return np.array([], dtype=int)
    position = {entry: k for k, entry in enumerate(hidden)}
    matrix = np.zeros((len(equations), hidden.size))
    for row, (interior, margin) in enumerate(equations):
        for entry in interior:
            if entry in position:
                matrix[row, position[entry]] = 1.0
        if margin in position:
            matrix[row, position[margin]] = -1.0
    _, singular, vh = np.linalg.svd(matrix, full_matrices=True)
    rank = int(np.sum(singular > 1e-9 * max(1.0, singular.max(initial=0.0))))
    null_space = vh[rank:]  # rows span the directions the hidden values can move in together
    movable = np.linalg.norm(null_space, axis=0) > 1e-9 if null_space.size else np.zeros(hidden.size, bool)
    return hidden[~movable]


def _smallest(values: np.ndarray, candidates: np.ndarray) -> list[int]:
    """Positive entries among candidates, smallest first, ties in row-major order."""
    positive = [int(c) for c in candidates if values[c] > 0]
    return sorted(positive, key=lambda c: (values[c], c))


def _suppression_mask(values: np.ndarray, equations: list[tuple[np.ndarray, int]], threshold: int) -> np.ndarray:
    suppressed = (values > 0) & (values < threshold)
    while True:
        changed = False
        for interior, margin in equations:
            line_hidden = int(suppressed[interior].sum()) + int(suppressed[margin])
            if line_hidden == 1:
                choice = _smallest(values, interior[~suppressed[interior]])
                suppressed[choice[0] if choice else margin] = True
                changed = True
            if not suppressed[margin]:
                hidden_sum = int(values[interior][suppressed[interior]].sum())
                if 0 < hidden_sum < threshold:
                    for c in _smallest(values, interior[~suppressed[interior]]):
                        suppressed[c] = True
                        hidden_sum += int(values[c])
                        if hidden_sum >= threshold:
                            break
                    else:
                        suppressed[margin] = True
                    changed = True
        if changed:
            continue
        determined = _determined(values, equations, suppressed)
        if determined.size == 0:
            return suppressed
        exposed = determined[0]
        candidates = _smallest(values, np.flatnonzero(~suppressed))
        # Every positive entry suppressed means nothing is determined (the true values are a
        # strictly positive solution), so candidates cannot run out while one is exposed.
        fix = next(
            (c for c in candidates if exposed not in _determined(values, equations, suppressed | (np.arange(values.size) == c))),
            candidates[0],
        )
        suppressed[fix] = True


def _publish(grid: _Grid, mask: np.ndarray, threshold: int | None) -> SuppressedTable:
    labels = grid.labels
    shape = labels.shape
    numeric_values = np.where(mask, np.nan, grid.values.astype(float)).reshape(shape)
    marker = marker_for(threshold) if threshold else ""
    display_values = np.array([marker if hidden else str(int(v)) for v, hidden in zip(grid.values, mask)], dtype=object).reshape(shape)
    if isinstance(labels, pd.Series):
        make = lambda data, dtype=None: pd.Series(data, index=labels.index, name=labels.name, dtype=dtype)  # noqa: E731
    else:
        make = lambda data, dtype=None: pd.DataFrame(data, index=labels.index, columns=labels.columns, dtype=dtype)  # noqa: E731
    return SuppressedTable(
        display=make(display_values, object),
        numeric=make(numeric_values, float),
        suppressed_mask=make(mask.reshape(shape), bool),
        threshold=threshold,
    )


def _grid(table, with_margins, row_totals, column_totals, grand_total, total_label) -> _Grid:
    if isinstance(table, pd.Series):
        if row_totals is not None or column_totals is not None:
            raise ValueError("a 1-D table has only a grand total")
        return _grid_1d(table, with_margins, grand_total, total_label)
    if isinstance(table, pd.DataFrame):
        return _grid_2d(table, with_margins, row_totals, column_totals, grand_total, total_label)
    raise TypeError(f"expected a pandas Series (1-D) or DataFrame (2-D) of counts, got {type(table).__name__}")


def suppress(
    table: pd.Series | pd.DataFrame,
    threshold: int = DEFAULT_THRESHOLD,
    with_margins: bool = True,
    *,
    row_totals: pd.Series | None = None,
    column_totals: pd.Series | None = None,
    grand_total: int | None = None,
    total_label: str = TOTAL_LABEL,
) -> SuppressedTable:
    """Suppress small cells of a 1-D (Series) or 2-D (DataFrame) table of counts of people
    or cases, adding its margins unless ``with_margins`` is False.

    Margins default to sums of the interior. Pass them explicitly when they are not sums —
    distinct counts, where one client can fall in several cells; they are then protected
    by the same rules. ``with_margins=False`` protects the interior only: never publish its
    totals elsewhere.
    """
    if int(threshold) != threshold or threshold < 1:
        raise ValueError(f"threshold must be a positive integer, got {threshold!r}")
    grid = _grid(table, with_margins, row_totals, column_totals, grand_total, total_label)
    mask = _suppression_mask(grid.values, grid.equations, int(threshold))
    return _publish(grid, mask, int(threshold))


def unsuppressed(
    table: pd.Series | pd.DataFrame,
    with_margins: bool = True,
    *,
    row_totals: pd.Series | None = None,
    column_totals: pd.Series | None = None,
    grand_total: int | None = None,
    total_label: str = TOTAL_LABEL,
) -> SuppressedTable:
    """The same shape as ``suppress`` with nothing hidden: for program managers and partners,
    so a page handles every role's tables with one code path."""
    grid = _grid(table, with_margins, row_totals, column_totals, grand_total, total_label)
    return _publish(grid, np.zeros(grid.values.size, dtype=bool), None)


def suppress_like(values: pd.Series | pd.DataFrame, pattern: SuppressedTable, total_label: str = TOTAL_LABEL) -> SuppressedTable:
    """Publish a companion measure (pro bono hours, value of donated time) of the counts in
    ``pattern`` with the same entries hidden: hours behind fewer than ``threshold`` cases are
    as identifying as the case count. ``values`` is the interior, labelled like the counts;
    its margins are sums."""
    published = values.astype(float)
    if isinstance(values, pd.Series):
        if total_label in pattern.numeric.index:
            published = pd.Series(np.append(published.to_numpy(), published.sum()), index=_append_label(values.index, total_label), name=values.name)
    elif total_label in pattern.numeric.columns:
        published = published.copy()
        published[total_label] = published.sum(axis=1)
        published = pd.concat([published, published.sum(axis=0).to_frame().T])
        published.index = _append_label(values.index, total_label)
    if not (published.index.equals(pattern.numeric.index) and (isinstance(published, pd.Series) or published.columns.equals(pattern.numeric.columns))):
        raise ValueError("suppress_like: values must have exactly the labels of the counts table, in the same order")
    return SuppressedTable(
        display=published.map(_format_number).astype(object).mask(pattern.suppressed_mask, pattern.marker),
        numeric=published.mask(pattern.suppressed_mask),
        suppressed_mask=pattern.suppressed_mask.copy(),
        threshold=pattern.threshold,
    )


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def ratio(
    numerator: pd.Series | pd.DataFrame,
    denominator: pd.Series | pd.DataFrame,
    *,
    threshold: int | None = DEFAULT_THRESHOLD,
    percent: bool = True,
    decimals: int = 1,
) -> SuppressedTable:
    """A rate from two ``.numeric`` tables (e.g. granted / decided). Where either input is
    suppressed (NaN) the rate is suppressed too; a zero denominator gives an empty cell."""
    hidden = numerator.isna() | denominator.isna()
    rate = numerator / denominator.where(denominator != 0)
    if percent:
        rate = rate * 100
    suffix = "%" if percent else ""
    marker = marker_for(threshold) if threshold else ""

    def show(value: float) -> str:
        return "" if pd.isna(value) else f"{value:.{decimals}f}{suffix}"

    display = rate.map(show).mask(hidden, marker)
    return SuppressedTable(display=display, numeric=rate.mask(hidden), suppressed_mask=hidden, threshold=threshold)
