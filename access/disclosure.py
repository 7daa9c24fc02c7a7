"""Small-cell suppression for everything a funder sees (dashboards and grant reports).

Policy (domain brief section 5; California Health and Human Services Data De-identification
Guidelines, section 4.4):

* **Primary suppression.** Every published count of people or cases from 1 to
  ``threshold - 1`` (default 11, so 1..10) is hidden, interior cells *and* margins, and shown
  as ``<11``: the marker is true for every cell it stands on.
* **Zeros are shown.** A true zero describes nobody (the CHHS guidelines need not suppress
  it), and a zero is never chosen as a complement.
* **Complementary suppression.** Published counts are linked by equations ``sum(parts) =
  total``: the rows and columns of a table with its margins, and across the tables of one
  report (a headline number that is the total of a table, a sum of two tables' totals, the
  same number in two tables). Repeated to a fixed point:

  1. an equation holding exactly one hidden entry would give it away by subtraction, so a
     second entry is hidden;
  2. when an equation's total is published, its hidden parts add up to a disclosed number; if
     that is below the threshold more parts are hidden (the CHHS "sum of suppressed values"
     rule);
  3. the whole system is checked at once, with what the markers say: a ``<11`` entry lies in
     1..10 and a ``withheld`` one, by elimination, is 0 or at least 11 (it is never 0). An
     integer program finds each hidden entry's smallest and largest value consistent with
     everything published; where the two meet, one more entry is hidden.

  In the rare system where every positive entry is hidden and ``<11`` on each would still add
  up to exact values (ten 1s under a total below 11), every entry shows ``withheld``.

  Complements hide as little as possible: interior cells before margins, margins before a
  table's grand total, and a total asked for as a headline last; among equals the smallest
  value. Complementary cells show ``withheld``, a marker that claims no bound.
* **Not counts.** Hours, dollars and durations are not suppressed as counts. One computed
  over a group whose count is under the threshold is withheld as ``fewer than 11 cases`` (the
  group's unit); one whose group is hidden only as a complement is ``withheld``, since it
  would otherwise let a total reveal a small group's share.
* **Rates** are shown exactly when their numerator and denominator are both shown (a rate
  and one published input give the other input); otherwise ``withheld``.
* **Sums beside the tables** (``LinkedTables.add_derived_sums``: a vehicle's vacaturs over its
  recognition classes) take no part in what is hidden. One is shown when the published numbers
  fix it, even over hidden entries (the vehicle's total less zeros beside them), since a reader
  has it already; otherwise ``withheld``.

Derived values take their inputs from ``.numeric``, where hidden entries are NaN, so anything
computed from a hidden number is NaN as well.
"""
from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DEFAULT_THRESHOLD = 11
TOTAL_LABEL = "Total"
WITHHELD = "withheld"

# Why an entry is hidden (SuppressedTable.reasons; "" where it is shown).
SMALL = "small"  # a count from 1 to threshold - 1
COMPLEMENT = "complement"  # a count hidden so that no total reveals a small one
SMALL_GROUP = "small_group"  # hours, dollars or days over fewer than threshold units
REVEALS = "reveals"  # a measure, sum or rate that would reveal a hidden count

# Complements are chosen in this order, cheapest first.
COST_INTERIOR, COST_MARGIN, COST_GRAND_TOTAL, COST_HEADLINE = 0, 1, 2, 3


def small_marker(threshold: int) -> str:
    return f"<{threshold}"


def marker(reason: str, threshold: int | None, unit: str = "cases") -> str:
    """What a hidden entry shows, by the reason it is hidden."""
    if not reason:
        return ""
    if reason == SMALL:
        return small_marker(threshold)
    if reason == SMALL_GROUP:
        return f"fewer than {threshold} {unit}"
    return WITHHELD


def legend(threshold: int, reasons: Iterable[str] | None = None) -> list[str]:
    """One sentence per marker in use (all of them when ``reasons`` is None): what it says
    about the number it stands for. Pages, reports and downloads print these."""
    wanted = set(reasons) if reasons is not None else {SMALL, COMPLEMENT, SMALL_GROUP}
    lines = []
    if SMALL in wanted:
        lines.append(f"{small_marker(threshold)}: a count from 1 to {threshold - 1}, hidden to protect the people it counts.")
    if wanted & {COMPLEMENT, REVEALS}:
        lines.append(f"{WITHHELD}: hidden so that no total, sum or rate shown can reveal a count under {threshold} "
                     "by subtraction; it may be any number, small or large.")
    if SMALL_GROUP in wanted:
        lines.append(f"fewer than {threshold} cases (or clients, motions): hours, dollar values or days computed over "
                     "so few are not shown.")
    if wanted and lines:
        lines.append("0 is a true zero.")
    return lines


def format_count(value: float) -> str:
    return f"{int(round(float(value))):,}"


def format_measure(value: float, kind: str) -> str:
    """Hours with one decimal, dollars whole with $, anything else whole; thousands separated."""
    if kind == "usd":
        return f"${float(value):,.0f}"
    if kind == "hours":
        return f"{float(value):,.1f}"
    return f"{float(value):,.0f}"


@dataclass(frozen=True)
class SuppressedTable:
    """A table ready to publish. The frames share labels (including the total row / column
    when margins were requested)."""

    display: pd.DataFrame | pd.Series  # strings; hidden entries show their marker
    numeric: pd.DataFrame | pd.Series  # floats; hidden entries are NaN (for charts and sums)
    suppressed_mask: pd.DataFrame | pd.Series  # True where hidden
    threshold: int | None  # None: nothing is suppressed for this audience (manager / partner)
    reasons: pd.DataFrame | pd.Series | None = None  # SMALL, COMPLEMENT, ... where hidden, else ""

    @property
    def any_suppressed(self) -> bool:
        return bool(np.asarray(self.suppressed_mask).any())

    def reasons_present(self) -> set[str]:
        if self.reasons is None:
            return set()
        return {r for r in np.asarray(self.reasons).ravel() if r}

    def hidden_counts(self) -> tuple[int, int]:
        """(hidden entries, all entries): the share a report states."""
        mask = np.asarray(self.suppressed_mask)
        return int(mask.sum()), int(mask.size)


# --- the published layout of one table -------------------------------------------------------

@dataclass
class _Grid:
    """Flat entries of a published table (row-major), the equations that link them, and what
    each entry costs to hide as a complement."""

    values: np.ndarray
    costs: np.ndarray
    equations: list[tuple[np.ndarray, int]]  # (part indices, total index), local to the grid
    labels: pd.DataFrame | pd.Series  # the published layout (holds the values)


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


def _append_label(labels: pd.Index, total_label: str) -> pd.Index:
    if labels.nlevels == 1:
        return labels.append(pd.Index([total_label]))
    return labels.append(pd.MultiIndex.from_tuples([(total_label,) + ("",) * (labels.nlevels - 1)]))


def _grid_1d(series: pd.Series, with_margins: bool, total: int | None, total_label: str, headline: bool) -> _Grid:
    cells = _as_counts(series.to_numpy(), "suppress")
    if not with_margins:
        costs = np.full(cells.size, COST_HEADLINE if headline else COST_INTERIOR)
        return _Grid(cells, costs, [], pd.Series(cells, index=series.index, name=series.name))
    _check_total_label(series.index, total_label)
    grand = int(cells.sum()) if total is None else int(_as_counts(np.array([total]), "total")[0])
    values = np.append(cells, grand)
    costs = np.append(np.full(cells.size, COST_INTERIOR), COST_HEADLINE if headline else COST_GRAND_TOTAL)
    index = _append_label(series.index, total_label)
    return _Grid(values, costs, [(np.arange(len(cells)), len(cells))], pd.Series(values, index=index, name=series.name))


def _grid_2d(frame: pd.DataFrame, with_margins: bool, row_totals: pd.Series | None, column_totals: pd.Series | None,
             grand_total: int | None, total_label: str, headline: bool) -> _Grid:
    cells = _as_counts(frame.to_numpy(), "suppress")
    n_rows, n_cols = cells.shape
    if not with_margins:
        return _Grid(cells.ravel(), np.full(cells.size, COST_INTERIOR), [],
                     pd.DataFrame(cells, index=frame.index, columns=frame.columns))
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
    costs = np.full(extended.shape, COST_MARGIN)
    costs[:n_rows, :n_cols] = COST_INTERIOR
    costs[n_rows, n_cols] = COST_HEADLINE if headline else COST_GRAND_TOTAL
    width = n_cols + 1
    equations: list[tuple[np.ndarray, int]] = []
    for i in range(n_rows + 1):  # each row, and the row of column totals, sums to its margin
        equations.append((i * width + np.arange(n_cols), i * width + n_cols))
    for j in range(n_cols + 1):  # each column, and the column of row totals
        equations.append((np.arange(n_rows) * width + j, n_rows * width + j))
    index, columns = _append_label(frame.index, total_label), _append_label(frame.columns, total_label)
    return _Grid(extended.ravel(), costs.ravel(), equations, pd.DataFrame(extended, index=index, columns=columns))


def _grid(table, with_margins, row_totals, column_totals, grand_total, total_label, headline=False) -> _Grid:
    if isinstance(table, pd.Series):
        if row_totals is not None or column_totals is not None:
            raise ValueError("a 1-D table has only a grand total")
        return _grid_1d(table, with_margins, grand_total, total_label, headline)
    if isinstance(table, pd.DataFrame):
        return _grid_2d(table, with_margins, row_totals, column_totals, grand_total, total_label, headline)
    raise TypeError(f"expected a pandas Series (1-D) or DataFrame (2-D) of counts, got {type(table).__name__}")


# --- choosing what to hide -------------------------------------------------------------------

def _determined(equations: list[tuple[np.ndarray, int]], suppressed: np.ndarray) -> np.ndarray:
    """Hidden entries whose value the published equations alone pin down (linear algebra: a
    zero component in every null-space vector of the hidden columns)."""
    hidden = np.flatnonzero(suppressed)
    if hidden.size == 0 or not equations:
        return np.array([], dtype=int)
    null_space = _null_space(equations, hidden)
    movable = np.linalg.norm(null_space, axis=0) > 1e-9 if null_space.size else np.zeros(hidden.size, bool)
    return hidden[~movable]


def _null_space(equations: list[tuple[np.ndarray, int]], hidden: np.ndarray) -> np.ndarray:
    """Rows spanning the ways the ``hidden`` entries can change together with every published
    equation still holding (one column per hidden entry)."""
    matrix = _hidden_matrix(equations, hidden)
    _, singular, vh = np.linalg.svd(matrix, full_matrices=True)
    rank = int(np.sum(singular > 1e-9 * max(1.0, singular.max(initial=0.0))))
    return vh[rank:]


def _hidden_matrix(equations: list[tuple[np.ndarray, int]], hidden: np.ndarray) -> np.ndarray:
    position = {int(entry): k for k, entry in enumerate(hidden)}
    matrix = np.zeros((len(equations), hidden.size))
    for row, (parts, total) in enumerate(equations):
        for entry in parts:
            if int(entry) in position:
                matrix[row, position[int(entry)]] += 1.0
        if int(total) in position:
            matrix[row, position[int(total)]] -= 1.0
    return matrix


class _HiddenValues:
    """The integer program behind rule 3 for one choice of hidden entries: the hidden entries
    are the unknowns, every published equation a constraint, every marker a bound (``<t``:
    1..t-1; ``withheld``: at least t).

    An entry is pinned when its smallest and largest value are the same. Every solution the
    solver returns is kept: an entry that two solutions give different values is free without
    a program of its own, and one solution usually frees dozens. So the smallest and largest
    value are sought only for entries no solution has freed yet, and the answer is still the
    exact one, in a few solves instead of two per hidden entry (the cost of a funder's page).

    ``freed`` (one flag per entry of the tables) carries what earlier systems of the same tables
    proved: hiding more entries keeps every earlier solution a solution (each newly hidden entry
    at its true value), so an entry free then is free now."""

    def __init__(self, values: np.ndarray, equations: list[tuple[np.ndarray, int]], suppressed: np.ndarray,
                 threshold: int, freed: np.ndarray | None = None) -> None:
        from scipy.optimize import Bounds, LinearConstraint

        self.hidden = np.flatnonzero(suppressed)
        self.position = {int(e): k for k, e in enumerate(self.hidden)}
        matrix = _hidden_matrix(equations, self.hidden)
        rhs = np.zeros(len(equations))
        for row, (parts, total) in enumerate(equations):
            shown_parts = [int(p) for p in parts if not suppressed[p]]
            rhs[row] = (0.0 if suppressed[total] else float(values[total])) - float(values[shown_parts].sum())
        used = np.any(matrix != 0, axis=1)
        matrix, rhs = matrix[used], rhs[used]
        small = values[self.hidden] < threshold
        self.lower = np.where(small, 1.0, float(threshold))
        self.upper = np.where(small, float(threshold - 1), np.inf)
        self.bounds = Bounds(self.lower, self.upper)
        self.constraints = [LinearConstraint(matrix, rhs, rhs)] if matrix.size else []
        truth = values[self.hidden].astype(float)
        # The first solution the others are compared with: the true values, unless margins passed
        # in (distinct counts) make the equations false for them.
        self.reference = truth if np.array_equal(matrix @ truth, rhs) else None
        self.solutions = [] if self.reference is None else [self.reference]
        self.free = np.zeros(self.hidden.size, dtype=bool) if freed is None else freed[self.hidden]

    def _solve(self, k: int, direction: float) -> bool:
        """Look for a solution with hidden entry ``k`` as small (direction 1) or as large (-1) as
        it can be, noting which entries it frees; False when there is no optimum (no largest value)."""
        objective = np.zeros(self.hidden.size)
        objective[k] = direction
        return self._optimise(objective)

    def _optimise(self, objective: np.ndarray) -> bool:
        """Look for a solution that minimises ``objective``, keeping it and noting which entries it
        frees; False when there is no optimum (the objective falls without end)."""
        from scipy.optimize import milp

        result = milp(objective, integrality=np.ones(self.hidden.size), bounds=self.bounds, constraints=self.constraints)
        if result.status != 0:
            if result.status == 2 or not np.any(objective < 0):  # no solution at all: the counts contradict their totals
                raise ValueError("suppress: the published equations do not hold for the given counts")
            return False
        solution = np.round(result.x)
        if self.reference is None:
            self.reference = solution
        self.solutions.append(solution)
        self.free |= solution != self.reference
        return True

    def pinned(self, entry: int) -> bool:
        """Whether the published numbers and markers leave hidden ``entry`` one possible value."""
        k = self.position[entry]
        sought_smallest = self.reference is None and self._solve(k, 1.0)
        # A value already at its bound is its own smallest (or largest): no program needed.
        if not self.free[k] and not sought_smallest and self.reference[k] > self.lower[k]:
            self._solve(k, 1.0)
        if not self.free[k] and self.reference[k] < self.upper[k] and not self._solve(k, -1.0):
            self.free[k] = True  # unbounded above: any large number fits
        return not self.free[k]

    def sum_pinned(self, entries: Sequence[int]) -> bool:
        """Whether the published numbers and markers leave the sum of hidden ``entries`` one
        possible value (the entries may each be free: two hidden classes of a row whose other
        classes are shown fix their sum, not each). Two kept solutions with different sums settle
        it without a program; otherwise its smallest and largest values are sought."""
        weights = np.zeros(self.hidden.size)
        for entry in entries:
            weights[self.position[int(entry)]] += 1.0

        def one_sum() -> bool:
            return len({float(weights @ solution) for solution in self.solutions}) <= 1

        if not one_sum():
            return False
        for direction in (1.0, -1.0):
            if not self._optimise(direction * weights) or not one_sum():
                return False
        return True

    def note_freed(self, freed: np.ndarray) -> None:
        """Add the entries this system proved free to ``freed`` (one flag per entry of the tables)."""
        freed[self.hidden] |= self.free


def _pinned(values, equations, suppressed, threshold, freed: np.ndarray) -> int | None:
    """The first hidden entry whose value can be worked out from what is published; ``freed``
    (see _HiddenValues) is read and added to."""
    determined = _determined(equations, suppressed)
    if determined.size:
        return int(determined[0])
    linked = {int(e) for parts, total in equations for e in (*parts, total)}
    system = _HiddenValues(values, equations, suppressed, threshold, freed)
    try:
        for entry in np.flatnonzero(suppressed):
            # With a threshold of 2, "<2" says 1 whatever else is published: nothing can protect it.
            if int(entry) not in linked or (values[entry] < threshold and threshold == 2):
                continue
            if system.pinned(int(entry)):
                return int(entry)
        return None
    finally:
        system.note_freed(freed)


@functools.lru_cache(maxsize=512)
def _cached_mask(values: tuple, costs: tuple, equations: tuple, threshold: int) -> tuple[tuple, bool]:
    eqs = [(np.array(parts, dtype=int), total) for parts, total in equations]
    mask, all_withheld = _suppression_mask(np.array(values, dtype=np.int64), np.array(costs), eqs, threshold)
    return tuple(mask), all_withheld


@functools.lru_cache(maxsize=512)
def _cached_sums_fixed(values: tuple, equations: tuple, mask: tuple, threshold: int, sums: tuple) -> tuple[bool, ...]:
    """For each sum (a tuple of entries), whether what is published fixes its value: every entry
    shown, or the hidden ones' sum the same in every solution of the published system."""
    values_, hidden = np.array(values, dtype=np.int64), np.array(mask, dtype=bool)
    eqs = [(np.array(parts, dtype=int), total) for parts, total in equations]
    hidden_entries = np.flatnonzero(hidden)
    position = {int(e): k for k, e in enumerate(hidden_entries)}
    null_space = _null_space(eqs, hidden_entries) if hidden_entries.size and eqs else np.eye(hidden_entries.size)
    system = None
    fixed = []
    for parts in sums:
        hidden_parts = [p for p in parts if hidden[p]]
        weights = np.zeros(hidden_entries.size)
        for p in hidden_parts:
            weights[position[p]] += 1.0
        # A sum no change allowed by the equations moves is fixed by them alone (a total less the
        # numbers shown beside it): no integer program needed.
        by_equations = not null_space.size or np.linalg.norm(null_space @ weights) < 1e-9
        if not by_equations and system is None:
            system = _HiddenValues(values_, eqs, hidden, threshold)
        fixed.append(by_equations or system.sum_pinned(hidden_parts))
    return tuple(fixed)


# What hiding an entry costs when complements are compared: a grand total is worth several
# margins, a headline far more than any table entry.
_WEIGHTS = np.array([1, 3, 10, 1000])


def _line_rules(values: np.ndarray, costs: np.ndarray, equations: list[tuple[np.ndarray, int]],
                suppressed: np.ndarray, threshold: int, look_ahead: bool) -> None:
    """Rules 1 and 2 of the module's policy, to a fixed point, on ``suppressed`` in place. With
    ``look_ahead`` a complement is the candidate whose consequences (the further complements
    the rules then need) cost least, so a cheap cell that forces a headline out loses to a
    dearer one that does not."""

    def by_cost(candidates: Iterable[int]) -> list[int]:
        return sorted((int(c) for c in candidates if values[c] > 0 and not suppressed[c]),
                      key=lambda c: (costs[c], values[c], c))

    def choose(candidates: Iterable[int]) -> int | None:
        ranked = by_cost(candidates)
        if not look_ahead or len(ranked) < 2:
            return ranked[0] if ranked else None

        def consequence(c: int) -> tuple[int, int]:
            trial = suppressed.copy()
            trial[c] = True
            _line_rules(values, costs, equations, trial, threshold, look_ahead=False)
            added = trial & ~suppressed
            return int(_WEIGHTS[costs[added]].sum()), int(values[added].sum())

        return min(ranked, key=lambda c: (*consequence(c), c))

    changed = True
    while changed:
        changed = False
        for parts, total in equations:
            line = np.append(parts, total)
            if int(suppressed[line].sum()) == 1:
                choice = choose(line)
                if choice is not None:
                    suppressed[choice] = True
                    changed = True
            if not suppressed[total]:
                hidden_sum = int(values[parts][suppressed[parts]].sum())
                if 0 < hidden_sum < threshold:
                    for c in by_cost(parts):
                        suppressed[c] = True
                        hidden_sum += int(values[c])
                        if hidden_sum >= threshold:
                            break
                    else:
                        suppressed[total] = True
                    changed = True


def _suppression_mask(values: np.ndarray, costs: np.ndarray, equations: list[tuple[np.ndarray, int]],
                      threshold: int) -> tuple[np.ndarray, bool]:
    """Which entries to hide, and whether every marker must be ``withheld``."""
    suppressed = (values > 0) & (values < threshold)
    freed = np.zeros(values.size, dtype=bool)
    while True:
        _line_rules(values, costs, equations, suppressed, threshold, look_ahead=True)
        exposed = _pinned(values, equations, suppressed, threshold, freed)
        if exposed is None:
            return suppressed, False
        candidates = sorted((int(c) for c in np.flatnonzero((values > 0) & ~suppressed)),
                            key=lambda c: (costs[c], values[c], c))
        if not candidates:
            # Every positive entry is hidden and "<t" on each still adds up to exact values
            # (ten 1s under a total "<11"): the markers must say less. All say "withheld".
            return suppressed, True
        fix = candidates[0]
        for c in candidates:
            trial = suppressed.copy()
            trial[c] = True
            # An entry the equations alone determine is pinned here as well: no separate check.
            system = _HiddenValues(values, equations, trial, threshold, freed)
            if not system.pinned(exposed):
                fix = c
                system.note_freed(freed)  # its solutions hold for the tables as they now are
                break
        suppressed[fix] = True


# --- publishing ------------------------------------------------------------------------------

def _reasons(values: np.ndarray, mask: np.ndarray, threshold: int | None, all_withheld: bool) -> np.ndarray:
    if threshold is None:
        return np.full(values.size, "", dtype=object)
    small = (values < threshold) & (not all_withheld)
    return np.where(mask, np.where(small, SMALL, COMPLEMENT), "").astype(object)


def _publish(grid: _Grid, mask: np.ndarray, threshold: int | None, all_withheld: bool = False) -> SuppressedTable:
    labels = grid.labels
    shape = labels.shape
    reasons = _reasons(grid.values, mask, threshold, all_withheld)
    numeric_values = np.where(mask, np.nan, grid.values.astype(float)).reshape(shape)
    display_values = np.array([marker(r, threshold) if hidden else format_count(v)
                               for v, hidden, r in zip(grid.values, mask, reasons)], dtype=object).reshape(shape)
    return SuppressedTable(
        display=_like(labels, display_values, object),
        numeric=_like(labels, numeric_values, float),
        suppressed_mask=_like(labels, mask.reshape(shape), bool),
        threshold=threshold,
        reasons=_like(labels, reasons.reshape(shape), object),
    )


def _like(labels: pd.DataFrame | pd.Series, data: np.ndarray, dtype) -> pd.DataFrame | pd.Series:
    if isinstance(labels, pd.Series):
        return pd.Series(data, index=labels.index, name=labels.name, dtype=dtype)
    return pd.DataFrame(data, index=labels.index, columns=labels.columns, dtype=dtype)


def _publish_sums(labels: pd.Index, sums: np.ndarray, fixed: np.ndarray, threshold: int | None) -> SuppressedTable:
    """Sums of entries (LinkedTables.add_derived_sums): a fixed one is shown, as a count is (a
    small one as ``<t``), any other is ``withheld``, since it would narrow its hidden parts."""
    small = fixed & (sums > 0) & (sums < threshold) if threshold is not None else np.zeros(sums.size, dtype=bool)
    reasons = np.where(~fixed, REVEALS, np.where(small, SMALL, "")).astype(object)
    hidden = reasons != ""
    display = [marker(r, threshold) if r else format_count(v) for v, r in zip(sums, reasons)]
    return SuppressedTable(
        display=pd.Series(display, index=labels, dtype=object),
        numeric=pd.Series(np.where(hidden, np.nan, sums.astype(float)), index=labels, dtype=float),
        suppressed_mask=pd.Series(hidden, index=labels, dtype=bool),
        threshold=threshold,
        reasons=pd.Series(reasons, index=labels, dtype=object),
    )


Address = tuple  # (table key, row label) or (table key, row label, column label)


@dataclass
class LinkedTables:
    """Counts published together — one report, one page — protected as one system, so that no
    number in one table can be combined with another table's to reveal a hidden count.

    ``add`` a table (its rows and columns sum to its margins), ``same`` two entries that are
    one number shown twice, ``add_sum`` a number that is the sum of other entries (a headline
    such as motions granted = vacaturs + relief beside them); then ``publish``."""

    threshold: int | None = DEFAULT_THRESHOLD
    _grids: dict[str, tuple[_Grid, int]] = field(default_factory=dict)
    _links: list[tuple[list[int], int]] = field(default_factory=list)
    _derived: dict[str, dict[Hashable, list[int]]] = field(default_factory=dict)
    _size: int = 0

    def add(self, key: str, table: pd.Series | pd.DataFrame, with_margins: bool = True, *,
            row_totals: pd.Series | None = None, column_totals: pd.Series | None = None,
            grand_total: int | None = None, total_label: str = TOTAL_LABEL, headline: bool = False) -> None:
        """``headline``: the table's grand total (or, without margins, its entries) is a number
        the audience asked for, hidden as a complement only when nothing else will do."""
        if key in self._grids:
            raise ValueError(f"table {key!r} added twice")
        grid = _grid(table, with_margins, row_totals, column_totals, grand_total, total_label, headline)
        self._grids[key] = (grid, self._size)
        self._size += grid.values.size

    def add_sum(self, key: str, parts: Sequence[Address], label: Hashable = "n") -> None:
        """A single number that is the sum of ``parts`` (entries of tables added before)."""
        indices = [self._index(a) for a in parts]
        total = int(sum(int(self._value(i)) for i in indices))
        self.add(key, pd.Series([total], index=[label]), with_margins=False, headline=True)
        self._links.append((indices, self._index((key, label))))

    def add_derived_sums(self, key: str, sums: Mapping[Hashable, Sequence[Address]]) -> None:
        """Numbers a page computes by adding entries (a vehicle's vacaturs: its vacatur classes),
        published as table ``key`` (one entry per label of ``sums``) without taking part in what
        the tables hide, unlike ``add_sum``. A sum is shown when what is published fixes it: every
        part shown, or hidden parts whose sum the other numbers give away (the row's total less
        the classes shown beside them); otherwise ``withheld``."""
        if key in self._grids or key in self._derived:
            raise ValueError(f"table {key!r} added twice")
        self._derived[key] = {label: [self._index(a) for a in parts] for label, parts in sums.items()}

    def same(self, first: Address, second: Address) -> None:
        """Two published entries that are the same number."""
        self.link([first], second)

    def link(self, parts: Sequence[Address], total: Address) -> None:
        """An entry that is the sum of entries of other tables (the statuses of one table are
        the Total row of another)."""
        indices, index = [self._index(a) for a in parts], self._index(total)
        if sum(self._value(i) for i in indices) != self._value(index):
            raise ValueError(f"{total} = {self._value(index)} is said to be the sum of {list(parts)} but is not")
        self._links.append((indices, index))

    def prefer_shown(self, address: Address) -> None:
        """An entry the audience asked for (a headline inside a table): hidden as a complement
        only when nothing else will do."""
        index = self._index(address)
        for grid, offset in self._grids.values():
            if offset <= index < offset + grid.values.size:
                grid.costs[index - offset] = COST_HEADLINE

    def publish(self) -> dict[str, SuppressedTable]:
        if self.threshold is not None and (int(self.threshold) != self.threshold or self.threshold < 1):
            raise ValueError(f"threshold must be a positive integer, got {self.threshold!r}")
        values = np.concatenate([g.values for g, _ in self._grids.values()]) if self._grids else np.array([], np.int64)
        all_withheld = False
        if self.threshold is None:
            mask = np.zeros(values.size, dtype=bool)
        else:
            costs = np.concatenate([g.costs for g, _ in self._grids.values()]) if self._grids else np.array([])
            equations = [(tuple(int(p) + offset for p in parts), int(total) + offset)
                         for g, offset in self._grids.values() for parts, total in g.equations]
            equations += [(tuple(parts), total) for parts, total in self._links]
            values_key, equations_key = tuple(int(v) for v in values), tuple(equations)
            hidden, all_withheld = _cached_mask(values_key, tuple(int(c) for c in costs), equations_key, int(self.threshold))
            mask = np.array(hidden, dtype=bool)
        published = {key: _publish(g, mask[offset:offset + g.values.size], self.threshold, all_withheld)
                     for key, (g, offset) in self._grids.items()}
        for key, sums in self._derived.items():
            parts = [tuple(sorted(p)) for p in sums.values()]
            if self.threshold is None:
                fixed = [True] * len(parts)
            elif all_withheld:
                # The markers then claim no bound, and no positive number is shown: a sum with a
                # hidden part is fixed by nothing.
                fixed = [not mask[list(p)].any() for p in parts]
            else:
                # Showing a sum that is already fixed adds nothing a reader could not work out:
                # every solution of the published system stays one, so each hidden entry keeps
                # every value it could have (none is narrowed, a small count no more than others).
                fixed = _cached_sums_fixed(values_key, equations_key, tuple(bool(h) for h in mask), int(self.threshold),
                                           tuple(parts))
            published[key] = _publish_sums(pd.Index(list(sums)), np.array([int(values[list(p)].sum()) for p in parts]),
                                           np.array(fixed, dtype=bool), self.threshold)
        return published

    def _index(self, address: Address) -> int:
        key, *label = address
        grid, offset = self._grids[key]
        if isinstance(grid.labels, pd.Series):
            local = grid.labels.index.get_loc(label[0])
        else:
            row, column = label
            if grid.labels.index.nlevels > 1 and not isinstance(row, tuple):  # the Total row of a multi-level table
                row = (row,) + ("",) * (grid.labels.index.nlevels - 1)
            local = grid.labels.index.get_loc(row) * grid.labels.shape[1] + grid.labels.columns.get_loc(column)
        return offset + int(local)

    def _value(self, index: int) -> int:
        for grid, offset in self._grids.values():
            if offset <= index < offset + grid.values.size:
                return int(grid.values[index - offset])
        raise IndexError(index)


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
    totals elsewhere. Tables published together: use ``LinkedTables``."""
    if int(threshold) != threshold or threshold < 1:
        raise ValueError(f"threshold must be a positive integer, got {threshold!r}")
    linked = LinkedTables(int(threshold))
    linked.add("table", table, with_margins, row_totals=row_totals, column_totals=column_totals,
               grand_total=grand_total, total_label=total_label)
    return linked.publish()["table"]


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


def suppress_like(values: pd.Series | pd.DataFrame, pattern: SuppressedTable, *, unit: str = "cases",
                  kind: str = "number", total_label: str = TOTAL_LABEL) -> SuppressedTable:
    """Publish a measure that is not a count (hours, dollars, days) beside the counts in
    ``pattern``, hidden where its count is: over a small group it shows ``fewer than 11
    {unit}``; where the count is hidden only as a complement, ``withheld`` (the total of the
    measure would otherwise reveal a small group's share). ``values`` is the interior,
    labelled like the counts; its margins are sums. ``kind``: "hours", "usd" or "number"."""
    published = values.astype(float)
    if isinstance(values, pd.Series):
        if total_label in pattern.numeric.index:
            published = pd.Series(np.append(published.to_numpy(), published.sum()),
                                  index=_append_label(values.index, total_label), name=values.name)
    elif total_label in pattern.numeric.columns:
        published = published.copy()
        published[total_label] = published.sum(axis=1)
        published = pd.concat([published, published.sum(axis=0).to_frame().T])
        published.index = _append_label(values.index, total_label)
    same_columns = isinstance(published, pd.Series) or published.columns.equals(pattern.numeric.columns)
    if not (published.index.equals(pattern.numeric.index) and same_columns):
        raise ValueError("suppress_like: values must have exactly the labels of the counts table, in the same order")
    count_reasons = pattern.reasons if pattern.reasons is not None else pattern.suppressed_mask.map(lambda h: COMPLEMENT if h else "")
    reasons = count_reasons.map(lambda r: SMALL_GROUP if r == SMALL else (REVEALS if r else ""))
    display = published.map(lambda v: format_measure(v, kind)).astype(object)
    display = display.mask(pattern.suppressed_mask, reasons.map(lambda r: marker(r, pattern.threshold, unit)))
    return SuppressedTable(display=display, numeric=published.mask(pattern.suppressed_mask),
                           suppressed_mask=pattern.suppressed_mask.copy(), threshold=pattern.threshold, reasons=reasons)


def _as_series(value) -> pd.Series | pd.DataFrame:
    if isinstance(value, (pd.Series, pd.DataFrame)):
        return value.astype(float)
    return pd.Series([float(value)] if value is not None else [np.nan], dtype=float)


def ratio(
    numerator: pd.Series | pd.DataFrame | float,
    denominator: pd.Series | pd.DataFrame | float,
    *,
    threshold: int | None = DEFAULT_THRESHOLD,
    percent: bool = True,
    decimals: int = 1,
    undefined: str = "–",
) -> SuppressedTable:
    """A rate from two ``.numeric`` tables (e.g. granted / decided). It is shown exactly when
    both inputs are (NaN marks a hidden input): a rate beside one published input gives the
    other away, so otherwise it is ``withheld``. A zero denominator shows ``undefined``."""
    numerator, denominator = _as_series(numerator), _as_series(denominator)
    hidden = numerator.isna() | denominator.isna()
    rate = numerator / denominator.where(denominator != 0)
    if percent:
        rate = rate * 100
    suffix = "%" if percent else ""

    def show(value: float) -> str:
        return undefined if pd.isna(value) else f"{value:,.{decimals}f}{suffix}"

    display = rate.map(show).astype(object).mask(hidden, WITHHELD)
    reasons = hidden.map(lambda h: REVEALS if h else "").astype(object)
    return SuppressedTable(display=display, numeric=rate.mask(hidden), suppressed_mask=hidden,
                           threshold=threshold, reasons=reasons)
