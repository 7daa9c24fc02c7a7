"""What a reader of a published table can work out, computed independently of
access/disclosure.py's own search: the equations a reader knows, and for every hidden
entry the smallest and largest whole value consistent with everything shown and with what the
markers say ("<t": 1..t-1; "withheld": never a small count, so at least t, and never 0, except
where no positive number is shown at all). Shared by the disclosure and grant-report tests."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

from access.disclosure import WITHHELD


def layout_equations(numeric: pd.Series | pd.DataFrame, offset: int = 0) -> list[tuple[list[int], int]]:
    """The `sum(parts) = total` equations of a published table with margins, read off its
    labels (row-major entry numbers, shifted by ``offset``)."""
    if isinstance(numeric, pd.Series):
        n = len(numeric) - 1
        return [([offset + k for k in range(n)], offset + n)]
    n_rows, n_cols = numeric.shape[0] - 1, numeric.shape[1] - 1
    width = n_cols + 1
    equations = [([offset + i * width + j for j in range(n_cols)], offset + i * width + n_cols) for i in range(n_rows + 1)]
    equations += [([offset + i * width + j for i in range(n_rows)], offset + n_rows * width + j) for j in range(n_cols + 1)]
    return equations


def flat(table, attribute: str) -> np.ndarray:
    return np.asarray(getattr(table, attribute)).ravel()


def value_range(display: np.ndarray, published: np.ndarray, equations, threshold: int, entry: int | list[int]) -> tuple[float, float]:
    """Smallest and largest whole value of `entry` (or of the sum of a list of entries) that
    agrees with what a reader sees."""
    n = display.size
    a_eq = np.zeros((len(equations), n))
    for row, (parts, total) in enumerate(equations):
        a_eq[row, parts] += 1.0
        a_eq[row, total] -= 1.0
    # With no positive number shown, "withheld" may stand on small counts too (see the module).
    withheld_floor = 1 if np.nan_to_num(published).max(initial=0) == 0 else threshold
    lower, upper = np.zeros(n), np.full(n, np.inf)
    for k, (shown, value) in enumerate(zip(display, published)):
        if not math.isnan(value):
            lower[k] = upper[k] = value
        elif shown == f"<{threshold}":
            lower[k], upper[k] = 1, threshold - 1
        else:
            assert shown == WITHHELD, shown
            lower[k] = withheld_floor
    objective = np.zeros(n)
    np.add.at(objective, entry, 1.0)
    constraint = LinearConstraint(a_eq, np.zeros(len(equations)), np.zeros(len(equations)))
    low = milp(objective, integrality=np.ones(n), bounds=Bounds(lower, upper), constraints=[constraint])
    high = milp(-objective, integrality=np.ones(n), bounds=Bounds(lower, upper), constraints=[constraint])
    assert low.status == 0, "what is published contradicts itself"
    return low.fun, (math.inf if high.status != 0 else -high.fun)


def assert_not_recoverable(display: np.ndarray, published: np.ndarray, equations, threshold: int) -> None:
    for entry in np.flatnonzero(np.isnan(published)):
        low, high = value_range(display, published, equations, threshold, int(entry))
        assert high - low >= 1, f"hidden entry {entry} ({display[entry]}) is pinned to {low}"


def assert_markers_true(display: np.ndarray, published: np.ndarray, truth: np.ndarray, threshold: int) -> None:
    """Every shown number is the true one; every marker's statement holds for the true value."""
    nothing_shown = np.nan_to_num(published).max(initial=0) == 0  # no positive number shown
    for shown, value, true in zip(display, published, truth):
        if math.isnan(value):
            if shown == f"<{threshold}":
                assert 1 <= true <= threshold - 1
            else:  # claims no bound; never a hidden zero; on a small count only when no number is shown
                assert shown == WITHHELD and (true >= threshold or (nothing_shown and true >= 1))
        else:
            assert value == true and shown == f"{int(true):,}"
            assert not 0 < true < threshold


def assert_lines_protected(hidden: np.ndarray, truth: np.ndarray, equations, threshold: int) -> None:
    for parts, total in equations:
        assert int(hidden[parts].sum() + hidden[total]) != 1, f"one hidden entry alone in {parts} = {total}"
        if not hidden[total]:
            hidden_sum = truth[parts][hidden[parts]].sum()
            assert hidden_sum == 0 or hidden_sum >= threshold
