"""Which rows GX needs to see: SQL for the population an expectation judges and the rows it could fail.

Every expectation of the staged and marts suites judges each row on that row's own values. So DuckDB can count
the whole population and select a superset of the rows that could fail, and GX, given only
those candidates, still states every verdict and finds every unexpected row: at a million
motions that is a few hundred rows instead of 6 million copied into pandas.

The SQL mirrors what GX's pandas engine does with a frame DuckDB hands it:
- a NULL, and a float NaN, is "missing" (pandas isnull);
- DECIMAL and HUGEINT arrive as float64, and GX holds numeric bounds as floats: where rounding
  could move a value across a bound, a row is a candidate if it fails on either its exact or its
  DOUBLE value (the runner gives integer columns the nullable dtype the whole frame would have);
- DATE and TIMESTAMP arrive as naive datetime64 and compare like DuckDB's DATE-to-TIMESTAMP cast.
Anything else (another expectation type, `mostly`, a parameter, a column type or bound not
listed here) gets no plan, and GX reads the dataset's whole frame: correct, only slower.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import great_expectations as gx
from great_expectations.expectations.row_conditions import ComparisonCondition, Operator

E = gx.expectations

EXACT_NUMBERS = re.compile(r"^(?:U?(?:TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|DECIMAL\(\d+,\d+\))$")
TEMPORAL = {"DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"}


@dataclass(frozen=True)
class Plan:
    domain: str  # rows GX counts in element_count (its row_condition)
    judged: str  # rows of the domain GX judges: not missing / not ignored (its nonnull_count)
    candidates: str  # a superset of the rows that could fail


def plan(expectation: gx.expectations.Expectation, types: dict[str, str]) -> Plan | None:
    """SQL predicates over the dataset's columns (`types`: name -> DuckDB type), or None."""
    if expectation.mostly != 1:
        return None
    try:
        if isinstance(expectation, E.ExpectColumnValuesToBeBetween):
            return _between(expectation, types)
        if isinstance(expectation, E.ExpectColumnPairValuesAToBeGreaterThanB):
            op = ">=" if expectation.or_equal else ">"
            return _pair(expectation, types, op)
        if isinstance(expectation, E.ExpectColumnPairValuesToBeEqual):
            return _pair(expectation, types, "=")
        if isinstance(expectation, E.ExpectColumnValuesToNotBeNull):
            return _not_null(expectation, types)
    except _NoPlan:
        return None
    return None


class _NoPlan(Exception):
    pass


def _between(e: E.ExpectColumnValuesToBeBetween, types: dict[str, str]) -> Plan:
    family = _family(types, e.column)
    if e.row_condition is not None or (e.min_value is None and e.max_value is None):
        raise _NoPlan
    tests = []
    if e.min_value is not None:
        tests.append((">" if e.strict_min else ">=", _literal(e.min_value, family)))
    if e.max_value is not None:
        tests.append(("<" if e.strict_max else "<=", _literal(e.max_value, family)))
    judged = f"not {_missing(e.column, types)}"
    fails = " or ".join(
        "not (" + " and ".join(f"{value} {op} {bound}" for op, bound in tests) + ")"
        for value in _images(e.column, types)
    )
    return Plan(domain="true", judged=judged, candidates=f"{judged} and ({fails})")


def _pair(e: gx.expectations.Expectation, types: dict[str, str], op: str) -> Plan:
    a, b = e.column_A, e.column_B
    if e.row_condition is not None or _family(types, a) != _family(types, b):
        raise _NoPlan
    ignored = {
        "both_values_are_missing": f"({_missing(a, types)} and {_missing(b, types)})",
        "either_value_is_missing": f"({_missing(a, types)} or {_missing(b, types)})",
        "neither": "false",
    }.get(e.ignore_row_if)
    if ignored is None:
        raise _NoPlan
    # pandas compares a missing value as False: the row fails unless it is ignored.
    fails = " or ".join(f"not coalesce({x} {op} {y}, false)" for x, y in zip(_images(a, types), _images(b, types)))
    return Plan(domain="true", judged=f"not {ignored}", candidates=f"not {ignored} and ({fails})")


def _not_null(e: E.ExpectColumnValuesToNotBeNull, types: dict[str, str]) -> Plan:
    _family(types, e.column)
    domain = _condition(e.row_condition, types)
    return Plan(domain=domain, judged=domain, candidates=f"{domain} and {_missing(e.column, types)}")


def _condition(condition: object, types: dict[str, str]) -> str:
    """GX's pandas row_condition as SQL: only `Column(text) == / is_in (text values)`, whose
    pandas (==, isin) and SQL (=, IN) agree, a NULL matching neither."""
    if condition is None:
        return "true"
    if not isinstance(condition, ComparisonCondition) or types.get(condition.column.name) != "VARCHAR":
        raise _NoPlan
    values = condition.parameter if condition.operator == Operator.IN else [condition.parameter]
    if condition.operator not in (Operator.IN, Operator.EQUAL) or not all(isinstance(v, str) for v in values):
        raise _NoPlan
    listed = ", ".join(_text(v) for v in values)
    return f"{quote(condition.column.name)} in ({listed})"


def _family(types: dict[str, str], column: str) -> str:
    kind = types.get(column)
    if kind is None:
        raise _NoPlan
    if kind == "DOUBLE" or EXACT_NUMBERS.match(kind):
        return "number"
    if kind in TEMPORAL:
        return "time"
    raise _NoPlan


def _images(column: str, types: dict[str, str]) -> list[str]:
    """The column as DuckDB holds it and, for numbers, as the float64 pandas may hold
    (a pair of number columns compares image to image)."""
    name = quote(column)
    return [name, f"cast({name} as double)"] if _family(types, column) == "number" else [name]


def _missing(column: str, types: dict[str, str]) -> str:
    name = quote(column)
    return f"({name} is null or isnan({name}))" if types[column] == "DOUBLE" else f"{name} is null"


def _literal(value: object, family: str) -> str:
    if family == "number" and isinstance(value, int) and not isinstance(value, bool):
        return repr(value)
    if family == "number" and isinstance(value, float) and value == value and abs(value) != float("inf"):
        # GX holds numeric bounds as floats; a literal like 24.0 would be a DECIMAL in DuckDB.
        return f"cast({value!r} as double)"
    if family == "time" and isinstance(value, dt.datetime) and value.tzinfo is None:
        # pd.Timestamp is a datetime; nanoseconds would not survive isoformat's microseconds.
        if getattr(value, "nanosecond", 0):
            raise _NoPlan
        return f"timestamp '{value.isoformat(sep=' ')}'"
    raise _NoPlan


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
