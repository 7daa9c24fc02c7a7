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
def validation(tmp_path_factory):
    from expectations.runner import validate

    root = tmp_path_factory.mktemp("privacy")
    db = root / "fixture.duckdb"
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
    # The staged and marts suites report their missing views as query errors; only privacy matters here.
    return validate(db, root / "docs", today=dt.date(2026, 1, 1))


def _result(validation, dataset: str, description_start: str):
    matches = [r for r in validation.results
               if r.suite == "privacy" and r.dataset == dataset and r.description.startswith(description_start)]
    assert len(matches) == 1
    return matches[0]


def test_identifying_column_names_are_blocked(validation):
    r = _result(validation, "mart_columns", "Mart column named like a personal identifier")
    assert (r.severity, r.success, r.unexpected_count) == ("blocking", False, 3)
    assert {e["column_name"] for e in r.examples} == {"date_of_birth", "a_number_hash", "first_name"}


@pytest.mark.parametrize("description, severity, planted", [
    ("Mart text values shaped like an A-number", "blocking", A_NUMBERS),
    ("Mart text values holding full dates", "blocking", DATES),
    ("Mart text values shaped like a person's name", "warning", PERSON_NAMES),
])
def test_text_values_are_flagged_by_location_never_by_value(validation, description, severity, planted):
    r = _result(validation, "mart_text_values", description)
    assert (r.severity, r.success, r.unexpected_count) == (severity, False, len(planted))
    assert r.examples == [{"location": "marts.fct_things.label", "matching_values": str(len(planted))}]


def test_missing_models_fail_the_gate_instead_of_passing_silently(validation):
    errors = [r for r in validation.results if r.expectation == "query"]
    assert errors and all(r.severity == "blocking" and not r.success for r in errors)
    assert {r.suite for r in errors} == {"staged", "marts"}
