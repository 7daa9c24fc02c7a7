"""Small-cell suppression: examples, then properties on random 1-D and 2-D count tables.

The recoverability property is checked independently of the module's own linear algebra: for
every suppressed entry a linear program (scipy's HiGHS) finds its smallest and largest value
consistent with everything published and with counts being non-negative; the two must differ.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from dashboards.disclosure import TOTAL_LABEL, ratio, suppress, suppress_like, unsuppressed

# Counts skewed towards the small numbers that trigger suppression, with zeros and big cells.
count = st.one_of(st.integers(0, 12), st.integers(0, 200))
thresholds = st.sampled_from([2, 5, 11])


@st.composite
def tables_2d(draw):
    n_rows, n_cols = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    cells = draw(st.lists(st.lists(count, min_size=n_cols, max_size=n_cols), min_size=n_rows, max_size=n_rows))
    return pd.DataFrame(cells, index=[f"r{i}" for i in range(n_rows)], columns=[f"c{j}" for j in range(n_cols)])


@st.composite
def tables_1d(draw):
    cells = draw(st.lists(count, min_size=1, max_size=10))
    return pd.Series(cells, index=[f"k{i}" for i in range(len(cells))])


def published_equations(result) -> tuple[np.ndarray, list[tuple[list[int], int]]]:
    """Entries of the published layout (row-major) and its `sum(interior) = margin` equations,
    read off the output frame's labels."""
    numeric = result.numeric
    if isinstance(numeric, pd.Series):
        n = len(numeric) - 1
        return np.arange(n + 1), [(list(range(n)), n)]
    n_rows, n_cols = numeric.shape[0] - 1, numeric.shape[1] - 1
    width = n_cols + 1
    equations = [([i * width + j for j in range(n_cols)], i * width + n_cols) for i in range(n_rows + 1)]
    equations += [([i * width + j for i in range(n_rows)], n_rows * width + j) for j in range(n_cols + 1)]
    return np.arange((n_rows + 1) * width), equations


def true_values(table) -> np.ndarray:
    full = unsuppressed(table).numeric
    return full.to_numpy(dtype=float).ravel()


def assert_no_small_published(result, threshold: int) -> None:
    values = result.numeric.to_numpy(dtype=float).ravel()
    shown = values[~np.isnan(values)]
    assert not np.any((shown > 0) & (shown < threshold))


def assert_lines_protected(result, table, threshold: int) -> None:
    truth = true_values(table)
    hidden = result.suppressed_mask.to_numpy().ravel()
    _, equations = published_equations(result)
    for interior, margin in equations:
        n_hidden = int(hidden[interior].sum() + hidden[margin])
        assert n_hidden != 1, f"one suppressed entry alone in equation {interior} = {margin}"
        if not hidden[margin]:
            hidden_sum = truth[interior][hidden[interior]].sum()
            assert hidden_sum == 0 or hidden_sum >= threshold


def value_range(result, entry: int) -> tuple[float, float]:
    """Smallest and largest value of `entry` that agrees with the published table."""
    published = result.numeric.to_numpy(dtype=float).ravel()
    entries, equations = published_equations(result)
    a_eq = np.zeros((len(equations), entries.size))
    for row, (interior, margin) in enumerate(equations):
        a_eq[row, interior] = 1.0
        a_eq[row, margin] = -1.0
    bounds = [(v, v) if not math.isnan(v) else (0, None) for v in published]
    objective = np.zeros(entries.size)
    objective[entry] = 1.0
    low = linprog(objective, A_eq=a_eq, b_eq=np.zeros(len(equations)), bounds=bounds, method="highs")
    high = linprog(-objective, A_eq=a_eq, b_eq=np.zeros(len(equations)), bounds=bounds, method="highs")
    assert low.status == 0 and high.status in (0, 3)  # 3: unbounded above is fine
    return low.fun, (math.inf if high.status == 3 else -high.fun)


def assert_not_recoverable(result) -> None:
    hidden = np.flatnonzero(result.suppressed_mask.to_numpy().ravel())
    for entry in hidden:
        low, high = value_range(result, int(entry))
        assert high - low > 1e-6, f"suppressed entry {entry} is pinned to {low}"


def assert_published_equal_input(result, table, marker: str) -> None:
    truth = true_values(table)
    values = result.numeric.to_numpy(dtype=float).ravel()
    display = result.display.to_numpy().ravel()
    hidden = result.suppressed_mask.to_numpy().ravel()
    assert np.array_equal(np.isnan(values), hidden)
    assert np.array_equal(values[~hidden], truth[~hidden])
    assert all(d == str(int(v)) for d, v in zip(display[~hidden], truth[~hidden]))
    assert all(d == marker for d in display[hidden])


@settings(max_examples=150, deadline=None)
@given(tables_2d(), thresholds)
def test_2d_tables_publish_nothing_small_or_recoverable(table, threshold):
    result = suppress(table, threshold=threshold)
    assert_no_small_published(result, threshold)
    assert_lines_protected(result, table, threshold)
    assert_published_equal_input(result, table, f"<{threshold}")
    assert_not_recoverable(result)


@settings(max_examples=150, deadline=None)
@given(tables_1d(), thresholds)
def test_1d_tables_publish_nothing_small_or_recoverable(table, threshold):
    result = suppress(table, threshold=threshold)
    assert_no_small_published(result, threshold)
    assert_lines_protected(result, table, threshold)
    assert_published_equal_input(result, table, f"<{threshold}")
    assert_not_recoverable(result)


@settings(max_examples=50, deadline=None)
@given(st.one_of(tables_1d(), tables_2d()), thresholds)
def test_suppression_is_deterministic(table, threshold):
    first, second = suppress(table, threshold=threshold), suppress(table.copy(), threshold=threshold)
    assert first.suppressed_mask.equals(second.suppressed_mask)
    assert first.display.equals(second.display)


def test_a_cell_bridging_two_groups_of_suppressed_cells_gets_a_complement():
    # Found by random search: after the row, column and sum rules every equation holds two or
    # more suppressed entries, yet one complement is a bridge between two groups of suppressed
    # cells and its value follows from the published numbers. The global check must fix it.
    table = pd.DataFrame(
        [[61, 5, 25, 151, 159], [48, 38, 174, 3, 1], [113, 120, 199, 35, 103], [92, 4, 23, 131, 193]],
        index=[f"r{i}" for i in range(4)], columns=[f"c{j}" for j in range(5)],
    )
    result = suppress(table)
    assert_lines_protected(result, table, 11)
    assert_not_recoverable(result)


def test_example_table_markers_zeros_and_margins():
    table = pd.DataFrame({"granted": [25, 3, 40], "denied": [12, 0, 2]}, index=["Los Angeles", "Orange", "San Diego"])
    result = suppress(table)
    assert result.display.loc["Orange", "denied"] == "0"  # a true zero is shown, never hidden
    assert result.display.loc["Orange", "granted"] == "<11"
    assert result.display.loc["San Diego", "denied"] == "<11"
    assert result.display.loc[TOTAL_LABEL, TOTAL_LABEL] == "82"
    assert "0" not in set(result.display.to_numpy().ravel()) - {result.display.loc["Orange", "denied"]}
    assert math.isnan(result.numeric.loc["Orange", "granted"])


def test_single_column_table_hides_the_row_total_that_equals_the_cell():
    table = pd.DataFrame({"clients": [50, 4, 30]}, index=["a", "b", "c"])
    result = suppress(table)
    assert result.suppressed_mask.loc["b", "clients"] and result.suppressed_mask.loc["b", TOTAL_LABEL]
    assert_not_recoverable(result)


def test_threshold_is_configurable_and_builds_the_marker():
    result = suppress(pd.Series([4, 30, 30], index=["a", "b", "c"]), threshold=5)
    assert result.display["a"] == "<5"
    assert suppress(pd.Series([4, 30, 30], index=["a", "b", "c"]), threshold=3).display["a"] == "4"


def test_explicit_margins_for_distinct_counts_are_protected():
    # Distinct clients: a client counted in two vehicles appears once in the total.
    table = pd.Series([30, 5, 40], index=["PC 1473.7(a)(1)", "PC 1016.5", "PC 17(b)"])
    result = suppress(table, grand_total=70)
    assert result.display[TOTAL_LABEL] == "70"
    assert result.suppressed_mask.sum() == 2


def test_rates_from_suppressed_numbers_are_suppressed():
    counts = suppress(pd.DataFrame({"granted": [25, 3], "decided": [40, 30]}, index=["x", "y"]), with_margins=False)
    rate = ratio(counts.numeric["granted"], counts.numeric["decided"])
    assert rate.display["x"] == "62.5%"
    assert rate.display["y"] == "<11" and math.isnan(rate.numeric["y"])


def test_companion_measure_hides_the_same_entries():
    cases = pd.DataFrame({"2025Q1": [20, 3], "2025Q2": [15, 30]}, index=["Firm A", "Firm B"])
    hours = pd.DataFrame({"2025Q1": [400.0, 55.5], "2025Q2": [310.0, 620.0]}, index=cases.index)
    counted = suppress(cases)
    result = suppress_like(hours, counted)
    assert result.suppressed_mask.equals(counted.suppressed_mask)
    assert result.display.loc["Firm B", "2025Q1"] == "<11"
    assert result.numeric.loc[TOTAL_LABEL, TOTAL_LABEL] == pytest.approx(1385.5)


@pytest.mark.parametrize(
    "table, message",
    [
        (pd.Series([1, -2]), "non-negative integers"),
        (pd.Series([1.5, 2]), "non-negative integers"),
        (pd.Series([1, None]), "must not be missing"),
        (pd.Series([1, 2], index=["a", TOTAL_LABEL]), "already has a 'Total' label"),
    ],
)
def test_bad_tables_are_refused_with_a_clear_message(table, message):
    with pytest.raises(ValueError, match=message):
        suppress(table)
