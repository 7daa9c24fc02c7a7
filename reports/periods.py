"""Reporting periods: the one Period of the grant reports, the partner reports and the
dashboards' period filter. A period is a label and its first and last day; the label of a
calendar period (``2026-Q1``, ``2026``) is the quarter label the marts carry, so the dashboards
match mart rows to it by prefix."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

ALL_TIME = "All time"

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_FISCAL_YEAR = re.compile(r"^FY(\d{4})-(\d{2})$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    """``Period("2026-Q1")``, ``Period("2026")`` or ``Period(ALL_TIME)`` take their days from
    the label; a period the label does not define (a fiscal year, a period clipped to a grant)
    is given them."""

    label: str
    start: dt.date | None = None
    end: dt.date | None = None

    def __post_init__(self) -> None:
        if self.start is None or self.end is None:
            whole = Period(ALL_TIME, dt.date(1, 1, 1), dt.date(9999, 12, 31)) if self.is_all else calendar_period(self.label)
            object.__setattr__(self, "start", self.start or whole.start)
            object.__setattr__(self, "end", self.end or whole.end)

    @property
    def is_all(self) -> bool:
        return self.label == ALL_TIME

    @property
    def kind(self) -> str:
        """quarter, year or all_time: the suffix of the pre-aggregated columns of the marts
        that count distinct entities per period (mart_dashboard_pro_bono)."""
        return "quarter" if _QUARTER.match(self.label) else "year" if _YEAR.match(self.label) else "all_time"

    def bounds(self) -> tuple[dt.date, dt.date]:
        """First and last day; a quarter or year is always whole (mart_dashboard_clients relies on it)."""
        return self.start, self.end

    def previous(self) -> Period | None:
        """The quarter or year before; None for any other period."""
        if (m := _QUARTER.match(self.label)):
            year, quarter = int(m.group(1)), int(m.group(2))
            return Period(f"{year - 1}-Q4" if quarter == 1 else f"{year}-Q{quarter - 1}")
        if _YEAR.match(self.label):
            return Period(str(int(self.label) - 1))
        return None

    def condition(self, column: str, name: str = "period") -> tuple[str, dict]:
        """SQL on a quarter-label column (``2024-Q3``) and its parameters."""
        if self.is_all:
            return "true", {}
        return f"starts_with({column}, ${name})", {name: self.label}


def calendar_period(text: str, fiscal_year_start_month: int = 7) -> Period:
    """'2026Q1' or '2026-Q1' (calendar quarter), 'FY2025-26' (fiscal year starting in
    ``fiscal_year_start_month`` of 2025) or '2025' (calendar year)."""
    text = text.strip()
    if match := _QUARTER.match(text):
        year, quarter = int(match.group(1)), int(match.group(2))
        start = dt.date(year, 3 * quarter - 2, 1)
        end = dt.date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - dt.timedelta(days=1)
        return Period(f"{year}-Q{quarter}", start, end)
    if match := _FISCAL_YEAR.match(text):
        year = int(match.group(1))
        if (year + 1) % 100 != int(match.group(2)):
            raise ValueError(f"period {text!r}: a fiscal year is written FY2025-26 (consecutive years)")
        start = dt.date(year, fiscal_year_start_month, 1)
        return Period(f"FY{year}-{match.group(2)}", start, dt.date(year + 1, fiscal_year_start_month, 1) - dt.timedelta(days=1))
    if match := _YEAR.match(text):
        year = int(match.group(1))
        return Period(str(year), dt.date(year, 1, 1), dt.date(year, 12, 31))
    raise ValueError(f"period {text!r}: use a quarter (2026Q1), a fiscal year (FY2025-26) or a year (2026)")
