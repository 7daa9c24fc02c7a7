"""Disclosure control across the tables of one grant report, on a real published database.

Synthetic exports (`pcr samples`) are published once by `pcr run`; hypothesis then draws grant
scopes (counties, vehicles, client criteria, start date) and thresholds. For each, the
report's linked system of counts is published at the threshold and, for the truth, at
threshold 1 (nothing hidden). Checked independently (tests/disclosure_check.py), with the
arithmetic a program officer knows written out here: every marker is true for the number it
stands on, no hidden number can be worked out from the report's tables together, and every
rate is shown exactly when both numbers it divides are.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access.disclosure import TOTAL_LABEL, WITHHELD
from access.queries import DataAccess
from access.scope import Role, Scope
from disclosure_check import assert_markers_true, assert_not_recoverable, flat, layout_equations
from pcr import cli
from reports.build import RateRule, _publish, _rate
from reports.scoped import Scoped as _Scoped
from reports.grants import CLIENT_CRITERIA, Grant

# The report's own arithmetic, as its methods page states it: each is (parts, total) over
# (table, label) entries, besides every table's rows and columns adding up to its margins.
LINKS = [
    ([("vacaturs", (TOTAL_LABEL, TOTAL_LABEL)), ("beside", (TOTAL_LABEL, TOTAL_LABEL))], ("motions_granted", "n")),
    ([("motions_granted", "n"), ("not_granted", (TOTAL_LABEL, "denied"))], ("motions_decided", "n")),
    ([("beside", (TOTAL_LABEL, "sentence_modification_honoured")),
      ("beside", (TOTAL_LABEL, "sentence_modification_not_honoured"))], ("sentence_modifications_granted", "n")),
    ([("removal", "avoided")], ("removal_avoided", TOTAL_LABEL)),
]
SINGLE_NUMBERS = {"motions_granted", "motions_decided", "sentence_modifications_granted", "clients_screened",
                  "clients_represented", "cases_referred", "attorneys"}


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> tuple:
    root = tmp_path_factory.mktemp("report-disclosure")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PCR_HMAC_KEY_FILE", str(root / "hmac.key"))
        mp.setenv("PCR_DATA_DIR", str(root / "var"))
        assert cli.main(["samples", "--out", str(root / "exports"), "--motions", "600", "--seed", "11",
                         "--layouts", "canonical", "--formats", "csv", "--clean"]) == 0
        assert cli.main(["run", str(root / "exports")]) == 0
    db = root / "var" / "pcr.duckdb"
    access = DataAccess(Scope(Role.PROGRAM_MANAGER, "test"), db)
    counties = sorted(access.query("SELECT DISTINCT county FROM {fct_motions} WHERE county IS NOT NULL")["county"])
    vehicles = sorted(access.query("SELECT DISTINCT vehicle FROM {fct_motions}")["vehicle"])
    return db, counties, vehicles


def published_pair(db, grant: Grant, threshold: int):
    scope = Scope(Role.PROGRAM_MANAGER, "test")
    scoped = _Scoped(DataAccess(scope, db), grant, grant.start, grant.end)
    return _publish(scoped, threshold), _publish(scoped, 1)


def system(published) -> tuple[np.ndarray, np.ndarray, list]:
    """Every entry of the report's tables in one vector, and the equations between them."""
    keys = list(published.tables)
    offsets = dict(zip(keys, np.cumsum([0] + [published.tables[k].numeric.size for k in keys])))
    equations = []
    for key in keys:
        if key not in SINGLE_NUMBERS:
            equations += layout_equations(published.tables[key].numeric, int(offsets[key]))

    def index(key: str, label) -> int:
        numeric = published.tables[key].numeric
        if numeric.ndim == 1:
            return int(offsets[key]) + numeric.index.get_loc(label)
        row, column = label
        return int(offsets[key]) + numeric.index.get_loc(row) * numeric.shape[1] + numeric.columns.get_loc(column)

    equations += [([index(*p) for p in parts], index(*total)) for parts, total in LINKS]
    display = np.concatenate([flat(published.tables[k], "display") for k in keys])
    values = np.concatenate([flat(published.tables[k], "numeric") for k in keys])
    return display, values, equations


grants = st.builds(
    dict,
    county_share=st.sampled_from([0.0, 0.3, 0.6]),
    vehicle_share=st.sampled_from([0.0, 0.4]),
    criterion=st.sampled_from([None, *CLIENT_CRITERIA]),
    start_year=st.integers(2016, 2025),
    threshold=st.sampled_from([3, 5, 11]),
    seed=st.integers(0, 10_000),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grants)
def test_no_hidden_number_of_a_report_can_be_worked_out(sample_db, drawn):
    db, counties, vehicles = sample_db
    rng = np.random.default_rng(drawn["seed"])
    pick = lambda names, share: tuple(sorted(rng.choice(names, max(1, int(share * len(names))), replace=False))) if share else ()  # noqa: E731
    grant = Grant(grant_id="G", funder="F", title="", start=dt.date(drawn["start_year"], 1, 1), end=dt.date(2030, 12, 31),
                  counties=pick(counties, drawn["county_share"]), vehicles=pick(vehicles, drawn["vehicle_share"]),
                  client_criteria=((drawn["criterion"], True),) if drawn["criterion"] else ())
    threshold = drawn["threshold"]
    published, exact = published_pair(db, grant, threshold)
    display, values, equations = system(published)
    truth = system(exact)[1]
    assert not np.isnan(truth).any()
    assert_markers_true(display, values, truth, threshold)
    assert_not_recoverable(display, values, equations, threshold)

    # Rates: shown exactly when numerator and denominator are.
    granted, decided = published.values["motions_granted"], published.values["motions_decided"]
    shown, _, rule = _rate("Grant rate", (granted, "motions granted"), (decided, "motions decided"), threshold)
    assert (shown == WITHHELD) == (np.isnan(granted) or np.isnan(decided)), rule
    if shown not in (WITHHELD, "–"):
        assert shown == f"{100 * granted / decided:,.1f}%"
    # Hours and dollars follow their case counts and never read as a count.
    for measure in (published.pro_bono_hours, published.pro_bono_value):
        assert measure.suppressed_mask.equals(published.pro_bono_cases.suppressed_mask)
        assert not any(str(v).startswith("<") for v in measure.display)


def test_sample_whole_grant_report_shows_grant_rate_and_motions_decided(sample_db):
    """The grant's headline numbers survive: complements are found among table cells first."""
    db, counties, _ = sample_db
    grant = Grant(grant_id="G", funder="F", title="", start=dt.date(2018, 1, 1), end=dt.date(2030, 12, 31))
    published, exact = published_pair(db, grant, 11)
    assert exact.values["motions_decided"] >= 11 and exact.values["motions_granted"] >= 11
    assert published.displays["motions_decided"] == f"{int(exact.values['motions_decided']):,}"
    shown, _, rule = _rate("Grant rate", (published.values["motions_granted"], "motions granted"),
                           (published.values["motions_decided"], "motions decided"), 11)
    assert rule == RateRule("Grant rate", True)
    assert shown == f"{100 * exact.values['motions_granted'] / exact.values['motions_decided']:,.1f}%"
