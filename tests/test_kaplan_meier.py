"""The Kaplan-Meier curves, their 95% bands and the medians with their intervals that the
database computes (macros/kaplan_meier.sql, installed by `pcr run`) equal what lifelines, an
independent implementation, gives: on every group of the published sample marts, and on
random durations with ties, censoring at event times and groups whose last units all resolve.

lifelines' own median is the first t with S(t) < 0.5 strictly; the glossary's is the first t with
S(t) <= 0.5 (an exact 0.5 counts). Medians and their intervals are therefore read off lifelines'
curve and bands with the glossary's rule, and lifelines' own median is compared where the curve
never sits exactly at 0.5."""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from e2e.support import build_published_db

TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    # The same folder as the dashboard tests: one build serves them all.
    return build_published_db(tmp_path_factory.getbasetemp() / "dashboard_db", motions=1500)


def first_at_or_below(curve: pd.Series, q: float) -> float | None:
    reached = curve.index[curve.to_numpy() <= q + TOLERANCE]
    return float(reached[0]) if len(reached) else None


def oracle(durations: pd.Series, events: pd.Series) -> tuple[pd.DataFrame, dict]:
    fitted = KaplanMeierFitter().fit(durations.astype(float), events.astype(bool), alpha=0.05)
    bands = fitted.confidence_interval_
    curve = pd.DataFrame({"survival": fitted.survival_function_.iloc[:, 0],
                          "survival_lower": bands["KM_estimate_lower_0.95"],
                          "survival_upper": bands["KM_estimate_upper_0.95"]})
    curve = curve[curve.index > 0]  # lifelines adds t = 0 (S = 1); the marts start at the first duration
    curve.index = curve.index.astype(int)
    quantiles = {
        "km_median_days": first_at_or_below(curve.survival, 0.5),
        "km_p75_days": first_at_or_below(curve.survival, 0.25),
        "km_median_lower_days": first_at_or_below(curve.survival_lower, 0.5),
        "km_median_upper_days": first_at_or_below(curve.survival_upper, 0.5),
    }
    if not np.isclose(curve.survival, 0.5, atol=TOLERANCE).any():
        own = fitted.median_survival_time_
        assert quantiles["km_median_days"] == (None if np.isinf(own) else float(own))
    return curve, quantiles


def as_number(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def compare_curve(ours: pd.DataFrame, expected: pd.DataFrame, group) -> None:
    ours = ours.set_index("t_days").sort_index()
    assert list(ours.index) == list(expected.index), group
    for column in ("survival", "survival_lower", "survival_upper"):
        np.testing.assert_allclose(ours[column].astype(float), expected[column].fillna(0.0), atol=1e-9,
                                   err_msg=f"{group} {column}")
    # A band holds its estimate, and never leaves [0, 1].
    assert (ours.survival_lower <= ours.survival + TOLERANCE).all() and (ours.survival <= ours.survival_upper + TOLERANCE).all()
    assert ours.survival_lower.between(0, 1).all() and ours.survival_upper.between(0, 1).all()


def test_published_curves_bands_and_medians_equal_lifelines(published):
    with duckdb.connect(str(published), read_only=True) as con:
        units = con.execute("SELECT measure, dimension, dimension_value, duration_days, is_event "
                            "FROM intermediate.int_time_to_resolution_groups").df()
        curves = con.execute("SELECT * FROM marts.mart_time_to_resolution_km").df()
        medians = con.execute("SELECT * FROM marts.mart_time_to_resolution").df()
    keys = ["measure", "dimension", "dimension_value"]
    curves_by, medians_by = dict(list(curves.groupby(keys))), medians.set_index(keys)
    assert len(units.groupby(keys)) == len(medians) > 20  # every group, and groups of every dimension
    intervals_shown = 0
    for group, rows in units.groupby(keys):
        expected_curve, expected = oracle(rows.duration_days, rows.is_event)
        compare_curve(curves_by[group], expected_curve, group)
        row = medians_by.loc[group]
        for column, value in expected.items():
            assert as_number(row[column]) == value, (group, column, row[column], value)
        intervals_shown += value is not None
    assert intervals_shown  # some median's upper bound is reached in the samples: the comparison is not all NULL


@pytest.mark.parametrize("seed", range(6))
def test_random_durations_equal_lifelines(published, seed):
    """Ties, units censored at an event time, groups whose last units all resolve (S reaches 0),
    groups with no event at all, and groups of one unit."""
    rng = np.random.default_rng(seed)
    frames = []
    for g in range(12):
        n = int(rng.choice([1, 2, 5, 30, 200]))
        durations = rng.integers(0 if g == 0 else 1, int(rng.choice([5, 40, 400])), n)  # few distinct values: ties
        share_open = [0.0, 0.3, 0.7, 1.0][g % 4]
        frames.append(pd.DataFrame({"measure": "m", "dimension": "all", "dimension_value": f"g{g}",
                                    "duration_days": durations, "is_event": rng.random(n) >= share_open}))
    units = pd.concat(frames, ignore_index=True)
    with duckdb.connect(str(published), read_only=True) as con:
        con.register("units_frame", units)
        curves = con.execute("WITH units AS (SELECT * FROM units_frame) "
                             "SELECT * FROM intermediate.kaplan_meier_curve(units)").df()
        medians = con.execute("WITH units AS (SELECT * FROM units_frame), curve AS "
                              "(SELECT * FROM intermediate.kaplan_meier_curve(units)) "
                              "SELECT * FROM intermediate.kaplan_meier_quantiles(curve)").df().set_index("dimension_value")
    for group, rows in units.groupby("dimension_value"):
        expected_curve, expected = oracle(rows.duration_days, rows.is_event)
        ours = curves[curves.dimension_value == group]
        if 0 in set(rows.duration_days):  # lifelines folds t = 0 into its starting point; compare from t = 1
            ours = ours[ours.t_days > 0]
        compare_curve(ours, expected_curve, group)
        for column, value in expected.items():
            assert as_number(medians.loc[group, column]) == value, (seed, group, column)
