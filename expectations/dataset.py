"""What a suite is made of: DataFrames queried from DuckDB, each with its expectations.

GX has no working DuckDB data source, so every check runs on a pandas DataFrame. The SQL of a
dataset selects the population (joins across tables where a rule spans them); the GX
expectation states the rule. Each expectation carries GX's own `severity`:
  BLOCKING ("critical") - the run fails and nothing is published;
  WARNING               - the run publishes and the failure is recorded and printed.
Each expectation also has a `description`: the sentence printed when it fails and shown in
Data Docs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import great_expectations as gx

BLOCKING = "critical"
WARNING = "warning"


@dataclass
class Dataset:
    suite: str
    name: str
    sql: str
    # Columns that identify a row in printed examples (ids, never personal data).
    key: tuple[str, ...] = ()
    expectations: list[gx.expectations.Expectation] = field(default_factory=list)
    # False for privacy checks: results keep counts only, so a leaked A-number is never
    # copied into Data Docs, the run record or the terminal.
    show_values: bool = True
    # A column that holds, on a failing row, the sentence saying what failed (NULL elsewhere):
    # every failing row's sentence is kept and printed whole, not three example rows.
    message: str | None = None


def dates_in_order(
    later: str, earlier: str, severity: str, description: str
) -> gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB:
    """`later` is on or after `earlier` wherever both are known."""
    return gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=later,
        column_B=earlier,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
        severity=severity,
        description=description,
    )
