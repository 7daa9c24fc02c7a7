"""A table of a report as it is shown and written (PDF, XLSX, CSV, the Grant reports page)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass
class ReportTable:
    key: str
    title: str
    note: str
    display: pd.DataFrame  # strings, first column holds the row labels
    numeric: pd.DataFrame | None = None  # for charts: NaN where suppressed
    reasons: pd.DataFrame | None = None  # why each number is hidden ("" where shown), for tables outside the linked system
    codes: dict[str, str] | None = None  # a row or column label -> the code it names (a chart's colour: reports/vocabulary.py)
