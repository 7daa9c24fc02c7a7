"""reports/periods.py: the one Period, as the dashboards and reports use it. A period's SQL
condition on quarter labels selects, in a real DuckDB table, exactly the rows whose dates fall
within its days; fiscal years follow the configured start month; the previous period is the
same length just before; a custom range is whole quarters."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from reports.grants import GrantConfigError, load_grants, program_fiscal_year_start_month
from reports.periods import ALL_TIME, Period, calendar_period, parse, quarter_range

DAYS = [dt.date(2023, 1, 1) + dt.timedelta(days=n) for n in range(0, 4 * 365, 3)]


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (d DATE, quarter VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(d, f"{d.year}-Q{(d.month - 1) // 3 + 1}") for d in DAYS])
    con.execute("INSERT INTO t VALUES (NULL, NULL)")  # no date: in no period but all time
    return con


@pytest.mark.parametrize("label, month", [("2024-Q3", 7), ("2024", 7), ("FY2024-25", 7), ("FY2024-25", 10), ("FY2024-25", 1),
                                          ("2023-Q4 to 2025-Q2", 7), (ALL_TIME, 7)])
def test_a_periods_quarter_condition_selects_the_rows_of_its_days(con, label, month):
    period = parse(label, month)
    where, params = period.condition("quarter")
    by_label = con.execute(f"SELECT count(*) FROM t WHERE {where}", params).fetchone()[0]
    by_date = con.execute("SELECT count(*) FROM t WHERE d BETWEEN ? AND ?" + (" OR d IS NULL" if period.is_all else ""),
                          [period.start, period.end]).fetchone()[0]
    assert by_label == by_date > 0


def test_fiscal_years_start_in_the_configured_month():
    assert parse("FY2025-26", 7).bounds() == (dt.date(2025, 7, 1), dt.date(2026, 6, 30))
    assert parse("FY2025-26", 10).bounds() == (dt.date(2025, 10, 1), dt.date(2026, 9, 30))
    assert parse("FY2025-26", 10).quarters() == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    with pytest.raises(ValueError, match="FY2025-26"):
        parse("FY2025-27")


def test_the_previous_period_is_the_same_length_just_before():
    assert Period("2026-Q1").previous().label == "2025-Q4"
    assert Period("2026").previous().label == "2025"
    assert parse("FY2025-26", 10).previous().bounds() == (dt.date(2024, 10, 1), dt.date(2025, 9, 30))
    custom = quarter_range("2025-Q2", "2025-Q4")
    assert custom.label == "2025-Q2 to 2025-Q4" and custom.previous().label == "2024-Q3 to 2025-Q1"
    assert Period(ALL_TIME).previous() is None


def test_a_custom_range_runs_between_two_quarters_in_order():
    assert parse("2024-Q3 to 2025-Q2").bounds() == (dt.date(2024, 7, 1), dt.date(2025, 6, 30))
    assert quarter_range("2025-Q1", "2025-Q1").label == "2025-Q1"
    with pytest.raises(ValueError, match="ends after it starts"):
        quarter_range("2025-Q2", "2024-Q1")
    with pytest.raises(ValueError, match="quarter"):
        quarter_range("2025", "2026")


def test_a_period_clipped_off_quarter_bounds_refuses_a_quarter_condition():
    clipped = Period("within a grant", dt.date(2025, 2, 10), dt.date(2025, 6, 30))
    with pytest.raises(ValueError, match="whole quarters"):
        clipped.condition("quarter")


def test_a_period_is_partial_while_the_data_stops_inside_it():
    quarter = calendar_period("2026-Q4")
    assert quarter.partial(dt.date(2026, 10, 31))
    assert not quarter.partial(dt.date(2026, 12, 31)) and not quarter.partial(dt.date(2027, 1, 5))
    assert not Period(ALL_TIME).partial(dt.date(2026, 10, 31))


def test_the_programs_fiscal_year_is_a_setting_of_the_grants_file(tmp_path):
    assert program_fiscal_year_start_month(tmp_path / "missing.yml") == 7  # no grants file yet: July
    grants = tmp_path / "grants.yml"
    grants.write_text("fiscal_year_start_month: 10\ngrants:\n  - {id: G, funder: F, start: 2025-01-01, end: 2026-12-31}\n"
                      "  - {id: H, funder: F, start: 2025-01-01, end: 2026-12-31, fiscal_year_start_month: 7}\n")
    assert program_fiscal_year_start_month(grants) == 10
    loaded = load_grants(grants)
    assert loaded.fiscal_year_start_month == 10
    assert loaded.grants["G"].fiscal_year_start_month == 10 and loaded.grants["H"].fiscal_year_start_month == 7
    grants.write_text("fiscal_year_start_month: 9\ngrants: []\n")
    with pytest.raises(GrantConfigError, match=r"grants.yml: fiscal_year_start_month .*\(1, 4, 7 or 10\), got 9"):
        program_fiscal_year_start_month(grants)
