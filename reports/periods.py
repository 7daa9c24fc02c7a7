"""Reporting periods: the one Period of the grant reports, the partner reports and the
dashboards' period choice. A period is a label and its first and last day.

The dashboards' marts count by quarter (labels such as ``2026-Q1``), so every period the
dashboards offer is a run of whole quarters: a calendar quarter, a calendar year, a fiscal year
(starting in the program's ``fiscal_year_start_month``, a quarter's first month: docs/periods.md)
or a custom range from one quarter to another. ``condition`` selects a mart's rows by their
quarter label. Grant reports also use periods clipped to a grant, which need not be whole quarters
(they read dates, not quarter labels)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

ALL_TIME = "All time"
DEFAULT_FISCAL_YEAR_START_MONTH = 7
# The months a fiscal year the dashboards offer may start in: the first month of a quarter.
QUARTER_START_MONTHS = (1, 4, 7, 10)
RANGE_WORD = " to "  # "2024-Q3 to 2025-Q2"

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_FISCAL_YEAR = re.compile(r"^FY(\d{4})-(\d{2})$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")
_FIRST, _LAST = dt.date(1, 1, 1), dt.date(9999, 12, 31)


@dataclass(frozen=True)
class Period:
    """``Period("2026-Q1")``, ``Period("2026")`` or ``Period(ALL_TIME)`` take their days from
    the label; a period the label does not define (a fiscal year, a custom range, a period
    clipped to a grant) is given them (``parse`` and ``quarter_range`` build those)."""

    label: str
    start: dt.date | None = None
    end: dt.date | None = None

    def __post_init__(self) -> None:
        if self.start is None or self.end is None:
            whole = Period(ALL_TIME, _FIRST, _LAST) if self.is_all else calendar_period(self.label)
            object.__setattr__(self, "start", self.start or whole.start)
            object.__setattr__(self, "end", self.end or whole.end)

    @property
    def is_all(self) -> bool:
        return self.label == ALL_TIME

    @property
    def kind(self) -> str:
        """quarter, year (calendar), fiscal_year, range (any other run of days) or all_time.
        quarter, year and all_time are also the suffixes of the pre-aggregated distinct counts
        of mart_dashboard_pro_bono; the other kinds count from the facts."""
        if self.is_all:
            return "all_time"
        if _QUARTER.match(self.label):
            return "quarter"
        if _YEAR.match(self.label):
            return "year"
        if _FISCAL_YEAR.match(self.label):
            return "fiscal_year"
        return "range"

    def bounds(self) -> tuple[dt.date, dt.date]:
        """First and last day; a dashboard period is always whole quarters (mart_dashboard_clients relies on it)."""
        return self.start, self.end

    @property
    def whole_quarters(self) -> bool:
        """Starts on a quarter's first day and ends on a quarter's last day (or is all time)."""
        return self.is_all or (self.start == quarter_start(self.start) and self.end == quarter_end(self.end))

    @property
    def first_quarter(self) -> str:
        return quarter_label(self.start)

    @property
    def last_quarter(self) -> str:
        return quarter_label(self.end)

    def quarters(self) -> list[str]:
        """The quarter labels of a bounded period, in order."""
        out, day = [], quarter_start(self.start)
        while day <= self.end:
            out.append(quarter_label(day))
            day = quarter_end(day) + dt.timedelta(days=1)
        return out

    def previous(self) -> Period | None:
        """The period of the same kind and length just before this one (the quarter, calendar
        year or fiscal year before; for a custom range the same number of quarters before it);
        None for all time."""
        if self.is_all:
            return None
        if (m := _QUARTER.match(self.label)):
            year, quarter = int(m.group(1)), int(m.group(2))
            return Period(f"{year - 1}-Q4" if quarter == 1 else f"{year}-Q{quarter - 1}")
        if _YEAR.match(self.label):
            return Period(str(int(self.label) - 1))
        if (m := _FISCAL_YEAR.match(self.label)):
            year = int(m.group(1)) - 1
            return calendar_period(f"FY{year}-{(year + 1) % 100:02d}", self.start.month)
        if not self.whole_quarters:
            return None
        length = len(self.quarters())
        last = quarter_start(self.start) - dt.timedelta(days=1)
        first = last
        for _ in range(length - 1):
            first = quarter_start(first) - dt.timedelta(days=1)
        return quarter_range(quarter_label(first), quarter_label(last))

    def condition(self, column: str, name: str = "period") -> tuple[str, dict]:
        """SQL selecting the rows of a quarter-label column (``2024-Q3``) in the period, and its
        parameters. Quarter labels sort as text, so a run of quarters is a range of labels."""
        if self.is_all:
            return "true", {}
        if not self.whole_quarters:
            raise ValueError(f"period {self.label} is not a run of whole quarters, so quarter labels cannot select it")
        return (f"({column} >= ${name}_first AND {column} <= ${name}_last)",
                {f"{name}_first": self.first_quarter, f"{name}_last": self.last_quarter})

    def partial(self, as_of: dt.date | None) -> bool:
        """The data stops inside the period (its last day is after the as-of date)."""
        return as_of is not None and not self.is_all and self.start <= as_of < self.end


def quarter_label(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_end(day: dt.date) -> dt.date:
    start = quarter_start(day)
    return dt.date(start.year + (start.month == 10), (start.month + 3 - 1) % 12 + 1, 1) - dt.timedelta(days=1)


def quarter_range(first: str, last: str) -> Period:
    """A custom period of whole quarters, ``first`` to ``last`` inclusive ("2024-Q3", "2025-Q2")."""
    start, end = calendar_period(first), calendar_period(last)
    if start.kind != "quarter" or end.kind != "quarter":
        raise ValueError(f"a custom range runs from one quarter to another (2024-Q3{RANGE_WORD}2025-Q2), got {first!r} and {last!r}")
    if end.end < start.start:
        raise ValueError(f"a custom range ends after it starts: {first}{RANGE_WORD}{last}")
    if start.label == end.label:
        return start
    return Period(f"{start.label}{RANGE_WORD}{end.label}", start.start, end.end)


def fiscal_year_label(day: dt.date, fiscal_year_start_month: int) -> str:
    """The fiscal year a day falls in (``FY2025-26`` for a July-start year beginning 1 Jul 2025)."""
    year = day.year - (day.month < fiscal_year_start_month)
    return f"FY{year}-{(year + 1) % 100:02d}"


def year_of_quarter(quarter: str, fiscal_year_start_month: int | None = None) -> str:
    """The year a quarter label (``2025-Q3``) falls in: its calendar year (``2025``), or with
    ``fiscal_year_start_month`` its fiscal year (``FY2025-26``). A label that is not a quarter
    (a mart's "(none)": no date yet) is its own group."""
    if not _QUARTER.match(str(quarter)):
        return str(quarter)
    start = calendar_period(str(quarter)).start
    return str(start.year) if fiscal_year_start_month is None else fiscal_year_label(start, fiscal_year_start_month)


def parse(text: str, fiscal_year_start_month: int = DEFAULT_FISCAL_YEAR_START_MONTH) -> Period:
    """Any label a dashboard period carries: ALL_TIME, a quarter, a year, a fiscal year or a
    custom range of quarters (``2024-Q3 to 2025-Q2``)."""
    text = text.strip()
    if text == ALL_TIME:
        return Period(ALL_TIME)
    if RANGE_WORD in text:
        first, last = text.split(RANGE_WORD, 1)
        return quarter_range(first, last)
    return calendar_period(text, fiscal_year_start_month)


def calendar_period(text: str, fiscal_year_start_month: int = DEFAULT_FISCAL_YEAR_START_MONTH) -> Period:
    """'2026Q1' or '2026-Q1' (calendar quarter), 'FY2025-26' (fiscal year starting in
    ``fiscal_year_start_month`` of 2025) or '2025' (calendar year)."""
    text = text.strip()
    if match := _QUARTER.match(text):
        year, quarter = int(match.group(1)), int(match.group(2))
        start = dt.date(year, 3 * quarter - 2, 1)
        return Period(f"{year}-Q{quarter}", start, quarter_end(start))
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
