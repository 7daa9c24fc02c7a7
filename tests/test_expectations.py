"""The privacy suite's patterns, with real GX on a small hand-made DuckDB file (no dbt):
what must be flagged is, what is a legitimate label or id is not."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

A_NUMBERS = ["A123456789", "a 12345678", "123-456-789", "A-123-456-789", "123456789", "file A12345678 x"]
DATES = ["04/12/1985", "1985-04-12", "4-12-1985"]
PERSON_NAMES = ["María de la Cruz", "Weiming Zhangli"]
# Ids, codes, labels and periods that look a bit like the above but are not.
HARMLESS = ["C000123", "ATT-0011", "M1", "2024-Q3", "HS 11350(a)", "PC 1473.7(a)(1)", "not_filed",
            "Los Angeles", "El Salvador", "Sullivan Ortega", "Baker LLP", "1234567", "2019"]


@pytest.fixture(scope="module")
def privacy_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("privacy") / "fixture.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema staging; create schema marts")
    # Known labels come from staging: a firm named after people is not a person.
    con.execute("create table staging.stg_cases as select 'Sullivan Ortega' as partner_firm")
    con.execute("create table staging.stg_clients as select 'El Salvador' as country_of_birth, "
                "'Spanish' as primary_language")
    rows = [(v, "a_number") for v in A_NUMBERS] + [(v, "date") for v in DATES] \
        + [(v, "name") for v in PERSON_NAMES] + [(v, "harmless") for v in HARMLESS]
    con.execute("create table marts.fct_things (label varchar, planted varchar)")
    con.executemany("insert into marts.fct_things values (?, ?)", rows)
    con.execute("create table marts.dim_people (client_id varchar, date_of_birth date, a_number_hash varchar, "
                "first_name varchar, intake_cohort varchar, country_of_birth varchar)")
    con.close()
    return db


@pytest.fixture(scope="module")
def validation(privacy_db):
    from expectations.runner import validate

    # The staged and marts suites report their missing views as query errors; only privacy matters here.
    return validate(privacy_db, privacy_db.parent / "docs", today=dt.date(2026, 1, 1))


def _result(validation, dataset: str, description_start: str):
    matches = [r for r in validation.results
               if r.suite == "privacy" and r.dataset == dataset and r.description.startswith(description_start)]
    assert len(matches) == 1
    return matches[0]


def test_identifying_column_names_are_blocked(validation):
    r = _result(validation, "mart_columns", "A published table's column named like a personal identifier")
    assert (r.severity, r.success, r.unexpected_count) == ("blocking", False, 3)
    assert {e["column_name"] for e in r.examples} == {"date_of_birth", "a_number_hash", "first_name"}


@pytest.mark.parametrize("description, severity, planted", [
    ("Published tables' text values shaped like an A-number", "blocking", A_NUMBERS),
    ("Published tables' text values holding full dates", "blocking", DATES),
    ("Published tables' text values shaped like a person's name", "warning", PERSON_NAMES),
])
def test_text_values_are_flagged_by_location_never_by_value(validation, description, severity, planted):
    r = _result(validation, "mart_text_values", description)
    assert (r.severity, r.success, r.unexpected_count) == (severity, False, len(planted))
    assert r.examples == [{"location": "marts.fct_things.label", "matching_values": str(len(planted))}]


def test_missing_models_fail_the_gate_instead_of_passing_silently(validation):
    errors = [r for r in validation.results if r.expectation == "query"]
    assert errors and all(r.severity == "blocking" and not r.success for r in errors)
    assert {r.suite for r in errors} == {"staged", "marts", "collapse"}


def test_a_large_database_read_through_a_connection_per_dataset_gives_the_same_results(
        privacy_db, validation, tmp_path, monkeypatch):
    """A small database is read through one connection for every dataset, a large one through
    a connection per dataset: the same results either way, failures, examples and query errors
    included."""
    import dataclasses

    from expectations import runner

    def reads_through_one_connection() -> bool:
        reader = runner._Reader(privacy_db)
        reader.close()
        return reader._shared is not None

    assert reads_through_one_connection()
    monkeypatch.setattr(runner._Reader, "SHARED_UP_TO_BYTES", 0)
    assert not reads_through_one_connection()
    own = runner.validate(privacy_db, tmp_path / "docs", today=dt.date(2026, 1, 1))
    assert [dataclasses.asdict(r) for r in own.results] == [dataclasses.asdict(r) for r in validation.results]
    assert any(not r.success and r.examples for r in own.results)
    assert own.rows_checked == validation.rows_checked


# --- Push-down: GX judges only the rows DuckDB finds could fail; the verdicts must not change.

TODAY = dt.date(2026, 1, 1)
# Each column holds failing rows, rows exactly on a bound, NULLs and (in DOUBLE columns) NaN.
EDGE_ROWS = """
select * from (values
  ('r1', 0,    0.0,        0.000::decimal(18,3), 0::hugeint,  date '2025-12-31', timestamp '2025-12-31 23:59:59',
         date '2025-01-02', date '2025-01-01', 1,    1::bigint,  1.0,         'granted',  date '2025-02-01'),
  ('r2', -1,   24.0,       1.000, 1,   date '2026-01-01', timestamp '2026-01-01 00:00:00',
         date '2025-01-01', date '2025-01-01', 2,    2,          'nan'::double, 'denied', null),
  ('r3', 120,  24.000000000000004, 1.001, 170141183460469231731687303715884105727::hugeint, date '2026-01-02',
         timestamp '2026-01-01 00:00:01', date '2024-12-31', date '2025-01-01', 3, 2, null, 'granted_in_part', null),
  ('r4', 121,  'nan'::double, -0.001, -1, null, null, null, date '2025-01-01', null, 5, 2.0, 'pending', null),
  ('r5', null, null,       null,  null, date '2020-01-01', timestamp '2026-01-01 00:00:00.000001',
         date '2025-01-01', null, 4, null, 'nan'::double, null, null),
  ('r6', 14,   'inf'::double, 0.5, 9007199254740993::hugeint, null, null, null, null, null, 9007199254740992, null,
         'granted', null),
  ('r7', 100,  -0.0,       0.999, 9007199254740992::hugeint, date '2025-06-30', timestamp '2025-06-30 12:00:00',
         date '2025-01-01', date '2025-01-01', 7, 7, 7.0, 'withdrawn', null),
  ('r8', 13,   1e-300,     0.0005, 2, date '1900-01-01', timestamp '1900-01-01 00:00:00',
         date '2025-01-01', date '2024-12-31', 8, 9, 8.0, null, date '2025-01-01')
) t(row_id, age, hours, share, big, day, moment, later, earlier, n, n_bigint, n_double, outcome, decided)
"""


def _edge_expectations():
    import great_expectations as gx
    import pandas as pd
    from great_expectations.expectations.row_conditions import Column

    E = gx.expectations
    today = pd.Timestamp(TODAY)
    pair = E.ExpectColumnPairValuesAToBeGreaterThanB
    return [
        E.ExpectColumnValuesToBeBetween(column="age", min_value=0, max_value=120),
        E.ExpectColumnValuesToBeBetween(column="age", min_value=14, max_value=100),
        E.ExpectColumnValuesToBeBetween(column="hours", min_value=0, strict_min=True, max_value=24),
        E.ExpectColumnValuesToBeBetween(column="hours", max_value=24, strict_max=True),
        E.ExpectColumnValuesToBeBetween(column="share", min_value=0, max_value=1),
        E.ExpectColumnValuesToBeBetween(column="big", min_value=0, max_value=9007199254740992),
        # GX holds a bound as a float: 2**53 + 1 becomes 2**53, which 2**53 is not below.
        E.ExpectColumnValuesToBeBetween(column="big", max_value=9007199254740993, strict_max=True),
        E.ExpectColumnValuesToBeBetween(column="day", max_value=today),
        E.ExpectColumnValuesToBeBetween(column="moment", max_value=today),
        E.ExpectColumnValuesToBeBetween(column="moment", min_value=pd.Timestamp("2000-01-01"), max_value=today),
        pair(column_A="later", column_B="earlier", or_equal=True, ignore_row_if="either_value_is_missing"),
        pair(column_A="later", column_B="earlier", or_equal=True),
        pair(column_A="later", column_B="earlier", ignore_row_if="neither"),
        pair(column_A="moment", column_B="day", or_equal=True),
        pair(column_A="n", column_B="n_bigint"),
        pair(column_A="big", column_B="n_bigint"),
        pair(column_A="n_bigint", column_B="n_double", or_equal=True, ignore_row_if="either_value_is_missing"),
        E.ExpectColumnPairValuesToBeEqual(column_A="n", column_B="n_bigint"),
        E.ExpectColumnPairValuesToBeEqual(column_A="n_bigint", column_B="n_double"),
        E.ExpectColumnPairValuesToBeEqual(column_A="big", column_B="n_double", ignore_row_if="either_value_is_missing"),
        E.ExpectColumnValuesToNotBeNull(column="decided", row_condition=Column("outcome").is_in(["granted", "denied"])),
        E.ExpectColumnValuesToNotBeNull(column="decided", row_condition=Column("outcome") == "granted_in_part"),
        E.ExpectColumnValuesToNotBeNull(column="day"),
        E.ExpectColumnValuesToNotBeNull(column="n_double"),
    ]


@pytest.fixture(scope="module")
def edge_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("pushdown") / "edges.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(f"create table edges as {EDGE_ROWS}")
    return db


def _verdicts(validation):
    return [(r.dataset, r.expectation, r.columns, r.success, r.element_count, r.unexpected_count, r.examples, r.error)
            for r in validation.results]


def test_pushed_down_verdicts_equal_gx_on_every_row(edge_db, tmp_path):
    from expectations import pushdown
    from expectations.dataset import Dataset
    from expectations.runner import check

    def datasets():
        # One dataset per expectation: together, the rows one expectation's filter dropped
        # could be let through by another's.
        return [Dataset("edges", f"{i}", "select * from edges order by row_id desc", key=("row_id",),
                        expectations=[e]) for i, e in enumerate(_edge_expectations())]

    with duckdb.connect(str(edge_db), read_only=True) as con:
        relation = con.sql("select * from edges")
        types = dict(zip(relation.columns, map(str, relation.types)))
    assert all(pushdown.plan(e, types) for e in _edge_expectations())

    pushed = check(edge_db, datasets(), tmp_path / "pushed")
    whole = check(edge_db, datasets(), tmp_path / "whole", push_down=False)
    assert _verdicts(pushed) == _verdicts(whole)
    assert pushed.rows_checked == whole.rows_checked == 8 * len(_edge_expectations())
    # The edges do fail: the comparison above is not between two empty reports.
    assert sum(not r.success for r in whole.results) >= 15
    assert (pushed.data_docs.parent / "validations").is_dir()


def test_expectations_without_a_plan_see_every_row(edge_db, tmp_path):
    import great_expectations as gx

    from expectations.dataset import Dataset
    from expectations.runner import check

    E = gx.expectations
    # A type push-down does not know, and a known one on a column type it does not handle: GX
    # reads the whole frame and says what it says, here that it cannot compare text to a bound.
    def fallback():
        return [Dataset("edges", "fallback", "select row_id, outcome, cast(day as varchar) as day_text from edges",
                        key=("row_id",), expectations=[
                            E.ExpectColumnValuesToNotMatchRegex(column="outcome", regex="^granted"),
                            E.ExpectColumnValuesToBeBetween(column="day_text", max_value="2025-12-31"),
                        ])]

    pushed = check(edge_db, fallback(), tmp_path / "pushed")
    assert _verdicts(pushed) == _verdicts(check(edge_db, fallback(), tmp_path / "whole", push_down=False))
    assert {r.expectation: (r.success, r.element_count, r.unexpected_count, r.error is None) for r in pushed.results} \
        == {"expect_column_values_to_not_match_regex": (False, 8, 3, True),
            "expect_column_values_to_be_between": (False, None, None, False)}


def test_every_expectation_type_of_the_row_suites_is_pushed_down_and_tested():
    from expectations import marts, staged

    used = {type(e) for module in (staged, marts) for d in module.datasets(None, TODAY) for e in d.expectations}
    assert used <= {type(e) for e in _edge_expectations()}
