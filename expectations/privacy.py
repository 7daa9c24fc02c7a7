"""Suite `privacy`: nothing in a mart may hold a name, an A-number or a date of birth.

Marts are what dashboards, reports, funders and partner firms see. Two layers:
- column names: a denylist of names that say "this holds an identifier" (blocking);
- column contents: every text value of every mart, searched for A-number shapes and full
  dates (blocking: dates belong in DATE columns, a date in text is how a date of birth leaks)
  and for person-name shapes among values that are not a known label such as a county, a
  country, a language or a partner firm (warning: a heuristic, firms are often named after people).

Results of content checks keep counts only: the leaked value itself is never copied into Data
Docs, the run record or the terminal. The examples of a failed content check are the locations
(schema.table.column) of the matching values, with counts.
"""
from __future__ import annotations

import datetime as dt

import duckdb
import great_expectations as gx

from expectations.dataset import BLOCKING, WARNING, Dataset
from ingest.contract import CALIFORNIA_COUNTIES

E = gx.expectations
SUITE = "privacy"
SCHEMAS = ("marts",)

IDENTIFYING_COLUMN_NAMES = [
    r"(?:^|_)(?:first|last|middle|given|family|full|maiden|legal|client|person|sur)_?names?(?:$|_)",
    r"^names?$",
    r"(?:^|_)alias(?:$|_)",
    r"(?:^|_)a_?num(?:ber)?s?(?:$|_)",
    r"(?:^|_)a_?no(?:$|_)",
    r"alien",
    r"court_case_num",
    r"(?:^|_)dob(?:$|_)",
    r"birth_?date",
    r"date_of_birth",
    r"birthday",
    r"(?:^|_)ssn(?:$|_)",
    r"social_security",
]
A_NUMBER_VALUES = [
    r"(?i)\bA[\s-]?\d{8,9}\b",
    r"(?i)\bA?[\s-]?\d{3}-\d{3}-\d{2,3}\b",
    r"^\s*\d{8,9}\s*$",
]
DATE_VALUES = [
    r"\b\d{1,2}/\d{1,2}/(?:\d{2}|\d{4})\b",
    r"\b(?:18|19|20)\d{2}-\d{1,2}-\d{1,2}\b",
    r"\b\d{1,2}-\d{1,2}-(?:18|19|20)\d{2}\b",
]
# Two to four capitalised words, Spanish particles allowed between them ("María de la Cruz").
PERSON_NAME_VALUE = (
    r"^\s*[A-ZÁÉÍÓÚÑÜ][a-záéíóúñü'’-]+"
    r"(?:\s+(?:(?:de|del|la|las|los|y|van|von)\s+)*[A-ZÁÉÍÓÚÑÜ][a-záéíóúñü'’-]+){1,3}\s*$"
)
UNKNOWN_LABEL_COLUMN = "value_if_not_a_known_label"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _known_labels_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Values that legitimately look like proper names: counties, countries, languages, firms."""
    counties = ", ".join("'" + c.replace("'", "''") + "'" for c in CALIFORNIA_COUNTIES)
    parts = [f"select unnest([{counties}]) as label"]
    sources = {
        ("staging", "stg_clients"): ("country_of_birth", "primary_language"),
        ("staging", "stg_cases"): ("partner_firm",),
        ("staging", "stg_time_entries"): ("partner_firm",),
        ("staging", "stg_convictions"): ("offense_code",),
    }
    existing = {tuple(r) for r in con.execute(
        "select table_schema, table_name from information_schema.tables").fetchall()}
    for (schema, table), columns in sources.items():
        if (schema, table) in existing:
            parts += [f"select {c} from {schema}.{table}" for c in columns]
    return " union ".join(parts)


def datasets(con: duckdb.DuckDBPyConnection, today: dt.date) -> list[Dataset]:
    schemas = ", ".join(f"'{s}'" for s in SCHEMAS)
    out = [
        Dataset(
            SUITE,
            "mart_columns",
            f"select table_schema || '.' || table_name as mart, column_name, data_type "
            f"from information_schema.columns where table_schema in ({schemas})",
            key=("mart", "column_name"),
            expectations=[
                E.ExpectColumnValuesToNotMatchRegexList(
                    column="column_name", regex_list=IDENTIFYING_COLUMN_NAMES, severity=BLOCKING,
                    description="A published table's column named like a personal identifier (name, A-number, date of birth)",
                ),
            ],
        )
    ]
    text_columns = con.execute(
        f"select table_schema, table_name, column_name from information_schema.columns "
        f"where table_schema in ({schemas}) and data_type = 'VARCHAR' order by all"
    ).fetchall()
    if not text_columns:
        return out
    # One long table of (location, distinct value) over every text column of every mart:
    # three expectations in all instead of three per column keeps GX's per-expectation cost low.
    values = " union all ".join(
        f"select distinct '{schema}.{table}.{column}' as location, {_quote(column)} as value "
        f"from {_quote(schema)}.{_quote(table)} where {_quote(column)} is not null"
        for schema, table, column in text_columns
    )
    # GX (Python regular expressions on pandas) sees only the values DuckDB's RE2 finds could
    # match: at a million motions the marts hold ~20 million distinct text values, too many to
    # copy into pandas. Values with any character outside printable ASCII always go through,
    # because RE2's \d, \s and \b are narrower than Python's; so the verdicts are GX's own.
    # One alternation, not one regexp_matches per pattern: RE2 scans each value once (~6x faster
    # over 17 million values); a (?i) inside a group applies to that group only.
    candidate = "|".join(f"(?:{p})" for p in [*A_NUMBER_VALUES, *DATE_VALUES, PERSON_NAME_VALUE, r"[^\x20-\x7E]"])
    out.append(
        Dataset(
            SUITE,
            "mart_text_values",
            f"with known as ({_known_labels_sql(con)}), text_values as ({values}) "
            f"select location, value, case when value in (select label from known) then null else value end "
            f"as {UNKNOWN_LABEL_COLUMN} from text_values where regexp_matches(value, {_literal(candidate)})",
            key=("location",),
            expectations=[
                E.ExpectColumnValuesToNotMatchRegexList(
                    column="value", regex_list=A_NUMBER_VALUES, severity=BLOCKING,
                    description="Published tables' text values shaped like an A-number",
                ),
                E.ExpectColumnValuesToNotMatchRegexList(
                    column="value", regex_list=DATE_VALUES, severity=BLOCKING,
                    description="Published tables' text values holding full dates (a date of birth could hide there)",
                ),
                E.ExpectColumnValuesToNotMatchRegex(
                    column=UNKNOWN_LABEL_COLUMN, regex=PERSON_NAME_VALUE, severity=WARNING,
                    description="Published tables' text values shaped like a person's name that are not a known label",
                ),
            ],
            show_values=False,
        )
    )
    return out
