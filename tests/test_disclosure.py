"""Small-cell suppression: examples, then properties on random count tables, single and linked.

Recoverability is checked independently of the module's own search (tests/disclosure_check.py):
for every hidden entry an integer program finds its smallest and largest value consistent with
everything published and with what the markers say; the two must differ.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from access.disclosure import (
    TOTAL_LABEL, WITHHELD, LinkedTables, legend, ratio, suppress, suppress_like, unsuppressed,
)
from disclosure_check import (
    assert_lines_protected, assert_markers_true, assert_not_recoverable, flat, layout_equations, value_range,
)

# Counts skewed towards the small numbers that trigger suppression, with zeros and big cells.
count = st.one_of(st.integers(0, 12), st.integers(0, 200))
# 2 is left out: "<2" can only mean 1, so no complement protects it.
thresholds = st.sampled_from([3, 5, 11])


@st.composite
def tables_2d(draw, max_rows=6, max_cols=6):
    n_rows, n_cols = draw(st.integers(1, max_rows)), draw(st.integers(1, max_cols))
    cells = draw(st.lists(st.lists(count, min_size=n_cols, max_size=n_cols), min_size=n_rows, max_size=n_rows))
    return pd.DataFrame(cells, index=[f"r{i}" for i in range(n_rows)], columns=[f"c{j}" for j in range(n_cols)])


@st.composite
def tables_1d(draw):
    cells = draw(st.lists(count, min_size=1, max_size=10))
    return pd.Series(cells, index=[f"k{i}" for i in range(len(cells))])


def check_single(table, threshold: int) -> None:
    result = suppress(table, threshold=threshold)
    truth = flat(unsuppressed(table), "numeric")
    display, published = flat(result, "display"), flat(result, "numeric")
    equations = layout_equations(result.numeric)
    assert np.array_equal(np.isnan(published), flat(result, "suppressed_mask"))
    assert_markers_true(display, published, truth, threshold)
    assert_lines_protected(np.isnan(published), truth, equations, threshold)
    assert_not_recoverable(display, published, equations, threshold)


@settings(max_examples=120, deadline=None)
@given(tables_2d(), thresholds)
def test_2d_tables_publish_nothing_small_or_recoverable_and_markers_are_true(table, threshold):
    check_single(table, threshold)


@settings(max_examples=120, deadline=None)
@given(tables_1d(), thresholds)
def test_1d_tables_publish_nothing_small_or_recoverable_and_markers_are_true(table, threshold):
    check_single(table, threshold)


LINKED_ORDER = ["first", "second", "both", "repeat"]


def linked_report(first: pd.DataFrame, second: pd.DataFrame, threshold: int) -> tuple[LinkedTables, pd.DataFrame]:
    """Two tables of one report (granted and not-granted motions by vehicle, say), a headline
    that is the sum of their totals and a single number that repeats a total; ``second`` with
    the row labels of ``first`` where they have as many rows."""
    second = second.set_axis(first.index[: len(second)].append(pd.Index([f"s{i}" for i in range(len(first), len(first) + max(0, len(second) - len(first)))]))[: len(second)])
    linked = LinkedTables(threshold)
    linked.add("first", first)
    linked.add("second", second)
    linked.add_sum("both", [("first", TOTAL_LABEL, TOTAL_LABEL), ("second", TOTAL_LABEL, TOTAL_LABEL)])
    linked.add("repeat", pd.Series([int(first.to_numpy().sum())], index=["n"]), with_margins=False, headline=True)
    linked.same(("first", TOTAL_LABEL, TOTAL_LABEL), ("repeat", "n"))
    return linked, second


def what_a_reader_sees(published: dict, first: pd.DataFrame, second: pd.DataFrame):
    """The report's entries in one row-major list (the tables in LINKED_ORDER): what each shows,
    its published number (NaN when hidden), its true value, the sums a reader knows, and where
    each table starts."""
    offsets = np.cumsum([0] + [published[k].numeric.size for k in LINKED_ORDER])
    start = dict(zip(LINKED_ORDER, offsets.tolist()))
    equations = layout_equations(published["first"].numeric, start["first"])
    equations += layout_equations(published["second"].numeric, start["second"])
    grand = lambda k: start[k] + published[k].numeric.size - 1  # noqa: E731
    equations.append(([grand("first"), grand("second")], start["both"]))
    equations.append(([grand("first")], start["repeat"]))
    display = np.concatenate([flat(published[k], "display") for k in LINKED_ORDER])
    values = np.concatenate([flat(published[k], "numeric") for k in LINKED_ORDER])
    truth = np.concatenate([flat(unsuppressed(first), "numeric"), flat(unsuppressed(second), "numeric"),
                            [first.to_numpy().sum() + second.to_numpy().sum(), first.to_numpy().sum()]])
    return display, values, truth, equations, start


@settings(max_examples=60, deadline=None)
@given(tables_2d(max_rows=5, max_cols=3), tables_2d(max_rows=5, max_cols=3), thresholds)
def test_linked_tables_and_their_rates_reveal_nothing(first, second, threshold):
    """The report of linked_report, and a rate per row of the first table over its row total:
    nothing hidden can be recovered across them, and each rate is shown exactly when both its
    inputs are."""
    linked, second = linked_report(first, second, threshold)
    published = linked.publish()
    display, values, truth, equations, _ = what_a_reader_sees(published, first, second)
    assert_markers_true(display, values, truth, threshold)
    assert_not_recoverable(display, values, equations, threshold)

    granted = published["first"].numeric.iloc[:, 0]
    row_totals = published["first"].numeric[TOTAL_LABEL]
    rate = ratio(granted, row_totals, threshold=threshold)
    true_granted, true_total = unsuppressed(first).numeric.iloc[:, 0], unsuppressed(first).numeric[TOTAL_LABEL]
    for label in rate.display.index:
        both_shown = not (math.isnan(granted[label]) or math.isnan(row_totals[label]))
        assert (rate.display[label] != WITHHELD) == both_shown
        if both_shown and true_total[label]:
            assert rate.display[label] == f"{100 * true_granted[label] / true_total[label]:,.1f}%"


def relief_by_vehicle_and_class() -> pd.DataFrame:
    """Granted relief by vehicle and recognition class, as the Vacaturs page counts it: the
    busiest vehicle's two vacatur classes hidden (one small, one its complement), its other
    kinds of relief 0 and its total shown."""
    return pd.DataFrame({"recognized": [300, 4, 60], "uncertain": [0, 0, 0], "not_recognized": [8, 81, 0],
                         "offense_reduction": [0, 0, 25], "sentence_modification": [0, 0, 19]},
                        index=["PC 1473.7(a)(1)", "PC 1016.5", "PC 17(b)"])


VACATUR_CLASSES = ["recognized", "uncertain", "not_recognized"]


def test_a_sum_of_hidden_classes_that_the_total_and_zeros_fix_is_shown():
    counts = relief_by_vehicle_and_class()
    linked = LinkedTables(11)
    linked.add("relief", counts)
    linked.add_derived_sums("vacaturs", {vehicle: [("relief", vehicle, c) for c in VACATUR_CLASSES]
                                         for vehicle in [*counts.index, TOTAL_LABEL]})
    published = linked.publish()
    relief, vacaturs = published["relief"], published["vacaturs"]
    assert relief.display.loc["PC 1473.7(a)(1)", "recognized"] == WITHHELD
    assert relief.display.loc["PC 1473.7(a)(1)", "not_recognized"] == "<11"
    assert relief.display.loc["PC 1473.7(a)(1)", TOTAL_LABEL] == "308"
    # 308 less the zeros beside the vacatur classes: the number is on the page already.
    assert vacaturs.display.to_dict() == {"PC 1473.7(a)(1)": "308", "PC 1016.5": "85", "PC 17(b)": "60", TOTAL_LABEL: "453"}
    assert not vacaturs.any_suppressed
    # A reader works out exactly these numbers, without the module's help (tests/disclosure_check.py).
    display, numeric = flat(relief, "display"), flat(relief, "numeric")
    width = relief.numeric.shape[1]
    for row, vehicle in enumerate(counts.index):
        parts = [row * width + relief.numeric.columns.get_loc(c) for c in VACATUR_CLASSES]
        low, high = value_range(display, numeric, layout_equations(relief.numeric), 11, parts)
        assert low == high == int(counts.loc[vehicle, VACATUR_CLASSES].sum())
    # What the table hides is what it hid without the sums beside it.
    alone = LinkedTables(11)
    alone.add("relief", counts)
    assert alone.publish()["relief"].display.equals(relief.display)
    # Two vehicles whose vacatur classes are each hidden, the relief beside them too: their sum is
    # not on the page, so it stays withheld.
    counts.loc["PC 1016.5", "offense_reduction"], counts.loc["PC 17(b)", "offense_reduction"] = 3, 22
    linked = LinkedTables(11)
    linked.add("relief", counts)
    linked.add_derived_sums("vacaturs", {"PC 1016.5": [("relief", "PC 1016.5", c) for c in VACATUR_CLASSES]})
    assert linked.publish()["vacaturs"].display["PC 1016.5"] == WITHHELD


@st.composite
def sums_of_entries(draw, sizes: tuple[int, int]):
    """Lists of entries of the first two tables of a linked report (flat numbers over both)."""
    entry = st.integers(0, sum(sizes) - 1)
    return draw(st.lists(st.lists(entry, min_size=1, max_size=6, unique=True), min_size=1, max_size=8))


@settings(max_examples=60, deadline=None)
@given(tables_2d(max_rows=5, max_cols=4), tables_2d(max_rows=4, max_cols=3), thresholds, st.data())
def test_sums_beside_linked_tables_are_shown_exactly_when_fixed_and_narrow_nothing(first, second, threshold, data):
    """Sums of any entries of a linked report: a sum is a number exactly when a reader can work
    it out from the report alone (every hidden part included); showing those numbers leaves every
    hidden entry, small or complement, more than one possible value; the tables hide what they
    hid without the sums. A sum of one small count is never shown: that count is never fixed."""
    linked, second = linked_report(first, second, threshold)
    without_sums = linked_report(first, second, threshold)[0].publish()
    layouts = {k: unsuppressed(table).numeric for k, table in (("first", first), ("second", second))}
    addresses = [(k, row, column) for k, layout in layouts.items() for row in layout.index for column in layout.columns]
    sums = data.draw(sums_of_entries((layouts["first"].size, layouts["second"].size)), label="sums")
    # And, as the Vacaturs page adds a vehicle's vacatur classes, each row's interior cells but
    # the last: fixed wherever its total and that cell are shown.
    for k, layout in layouts.items():
        width, offset = layout.shape[1], (0 if k == "first" else layouts["first"].size)
        sums += [[offset + row * width + column for column in range(width - 2)] for row in range(layout.shape[0]) if width > 2]
    labels = [f"sum {n}" for n in range(len(sums))]
    small = [e for e, (k, row, column) in enumerate(addresses)
             if 0 < layouts[k].loc[row, column] < threshold]
    sums += [[e] for e in small]
    labels += [f"small {e}" for e in small]
    linked.add_derived_sums("sums", {label: [addresses[e] for e in parts] for label, parts in zip(labels, sums)})
    published = linked.publish()

    for key in LINKED_ORDER:
        assert published[key].display.equals(without_sums[key].display), f"{key}: the sums changed what is hidden"
    display, values, truth, equations, _ = what_a_reader_sees(published, first, second)
    shown_sums = published["sums"]
    extended_display, extended_values, extended_equations = list(display), list(values), list(equations)
    for label, parts in zip(labels, sums):
        shown, true = shown_sums.display[label], truth[parts].sum()
        low, high = value_range(display, values, equations, threshold, parts)
        assert low <= true <= high
        fixed = low == high
        if label.startswith("small"):
            assert not fixed, f"a small count ({true:g}) is fixed by what is published: a suppression bug"
        if not fixed:
            assert shown == WITHHELD, f"{label} {parts}: shows {shown!r}, but a reader finds {low:g} to {high:g}"
        elif 0 < true < threshold:
            assert shown == f"<{threshold}"  # a reader works it out, but it is never printed
        else:
            assert shown == f"{int(true):,}" and shown_sums.numeric[label] == true
            extended_equations.append((list(parts), len(extended_display)))
            extended_display.append(shown)
            extended_values.append(true)
    # Every hidden entry keeps a range with the shown sums read as published equations as well.
    assert_not_recoverable(np.array(extended_display, dtype=object), np.array(extended_values, dtype=float),
                           extended_equations, threshold)


@settings(max_examples=50, deadline=None)
@given(st.one_of(tables_1d(), tables_2d()), thresholds)
def test_suppression_is_deterministic(table, threshold):
    first, second = suppress(table, threshold=threshold), suppress(table.copy(), threshold=threshold)
    assert first.suppressed_mask.equals(second.suppressed_mask)
    assert first.display.equals(second.display)


def test_a_cell_bridging_two_groups_of_suppressed_cells_gets_a_complement():
    # Found by random search: after the row, column and sum rules every equation holds two or
    # more hidden entries, yet one complement is a bridge between two groups of hidden cells
    # and its value follows from the published numbers. The global check must fix it.
    table = pd.DataFrame(
        [[61, 5, 25, 151, 159], [48, 38, 174, 3, 1], [113, 120, 199, 35, 103], [92, 4, 23, 131, 193]],
        index=[f"r{i}" for i in range(4)], columns=[f"c{j}" for j in range(5)],
    )
    check_single(table, 11)


def test_example_table_markers_zeros_and_margins():
    table = pd.DataFrame({"granted": [25, 3, 40], "denied": [12, 0, 2]}, index=["Los Angeles", "Orange", "San Diego"])
    result = suppress(table)
    assert result.display.loc["Orange", "denied"] == "0"  # a true zero is shown, never hidden
    assert result.display.loc["Orange", "granted"] == "<11"
    assert result.display.loc["San Diego", "denied"] == "<11"
    # Complements claim no bound: the marker never says "<11" over 12 or 25.
    large_hidden = (result.suppressed_mask & (unsuppressed(table).numeric >= 11)).to_numpy()
    assert set(result.display.to_numpy()[large_hidden]) == {WITHHELD}
    assert result.display.loc[TOTAL_LABEL, TOTAL_LABEL] == "82"
    assert math.isnan(result.numeric.loc["Orange", "granted"])


def test_complements_prefer_interior_cells_to_totals():
    # Hiding the 3 needs one more entry in its row and column: the smallest interior cells
    # (12 and 14) do; no margin and never the grand total.
    table = pd.DataFrame({"a": [3, 14, 100], "b": [12, 50, 60], "c": [200, 80, 90]}, index=["x", "y", "z"])
    result = suppress(table)
    hidden = set(result.suppressed_mask.stack().loc[lambda s: s].index)
    assert hidden == {("x", "a"), ("x", "b"), ("y", "a"), ("y", "b")}
    assert result.display.loc[TOTAL_LABEL, TOTAL_LABEL] == "609"


def test_a_headline_sum_is_kept_when_a_cell_will_do():
    linked = LinkedTables(11)
    linked.add("vacaturs", pd.Series([40, 3, 25], index=["PC 1473.7(a)(1)", "PC 1016.5", "PC 236.14"]))
    linked.add("denied", pd.Series([30, 12], index=["PC 1473.7(a)(1)", "PC 1016.5"]))
    linked.add_sum("decided", [("vacaturs", TOTAL_LABEL), ("denied", TOTAL_LABEL)])
    published = linked.publish()
    assert published["decided"].display["n"] == "110"
    assert published["vacaturs"].display[TOTAL_LABEL] == "68"
    assert published["vacaturs"].display["PC 1016.5"] == "<11"
    assert published["vacaturs"].display["PC 236.14"] == WITHHELD


def test_single_column_table_hides_the_row_total_that_equals_the_cell():
    table = pd.DataFrame({"clients": [50, 4, 30]}, index=["a", "b", "c"])
    result = suppress(table)
    assert result.suppressed_mask.loc["b", "clients"] and result.suppressed_mask.loc["b", TOTAL_LABEL]
    check_single(table, 11)


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


def test_rates_are_shown_exactly_when_both_inputs_are():
    counts = suppress(pd.DataFrame({"granted": [25, 3], "decided": [40, 30]}, index=["x", "y"]), with_margins=False)
    rate = ratio(counts.numeric["granted"], counts.numeric["decided"])
    assert rate.display["x"] == "62.5%"
    assert rate.display["y"] == WITHHELD and math.isnan(rate.numeric["y"])
    assert ratio(3, 0).display.iloc[0] == "–"  # a single number and no decisions: undefined, not 0%
    assert ratio(pd.Series([5]), pd.Series([20]), threshold=None).display.iloc[0] == "25.0%"


def test_hours_over_a_small_group_say_why_and_never_look_like_a_count():
    cases = pd.DataFrame({"2025Q1": [20, 3], "2025Q2": [15, 30]}, index=["Firm A", "Firm B"])
    hours = pd.DataFrame({"2025Q1": [400.0, 55.5], "2025Q2": [310.0, 620.0]}, index=cases.index)
    counted = suppress(cases)
    result = suppress_like(hours, counted, unit="cases", kind="hours")
    assert result.suppressed_mask.equals(counted.suppressed_mask)
    assert result.display.loc["Firm B", "2025Q1"] == "fewer than 11 cases"
    hidden_large = counted.suppressed_mask & (unsuppressed(cases).numeric >= 11)
    assert set(result.display.to_numpy()[hidden_large.to_numpy()]) <= {WITHHELD}
    assert not any(str(v).startswith("<") for v in result.display.to_numpy().ravel())
    assert result.numeric.loc[TOTAL_LABEL, TOTAL_LABEL] == pytest.approx(1385.5)
    assert result.display.loc[TOTAL_LABEL, TOTAL_LABEL] == "1,385.5"
    value = suppress_like(hours * 150, counted, kind="usd")
    assert value.display.loc[TOTAL_LABEL, TOTAL_LABEL] == "$207,825"


def test_legend_describes_each_marker_in_use():
    lines = legend(11, {"small", "complement"})
    assert lines[0].startswith("<11: a count from 1 to 10")
    assert any(line.startswith("withheld:") and "any number" in line for line in lines)
    assert not any(line.startswith("fewer than") for line in lines)


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


def test_linking_two_numbers_that_differ_is_refused():
    linked = LinkedTables(11)
    linked.add("a", pd.Series([20, 30], index=["x", "y"]))
    linked.add("b", pd.Series([49], index=["n"]), with_margins=False)
    with pytest.raises(ValueError, match="is said to be the sum of"):
        linked.same(("a", TOTAL_LABEL), ("b", "n"))
