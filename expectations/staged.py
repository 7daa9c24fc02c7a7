"""Suite `staged`: the inputs as staged (dbt's staging views), before any metric is computed.

dbt tests on the staging models already cover keys, relationships between tables (a conviction
without a case, a case without a client, a motion whose vehicle is not in the taxonomy) and
accepted values (outcomes, counties, statuses): those are not repeated here. This suite holds
what dbt's generic tests cannot say well: order of dates within a row and across tables,
plausible ranges, and rules over aggregates.
"""
from __future__ import annotations

import datetime as dt

import duckdb
import great_expectations as gx
import pandas as pd
from great_expectations.expectations.row_conditions import Column

from expectations.dataset import BLOCKING, WARNING, Dataset, dates_in_order

E = gx.expectations
SUITE = "staged"
DECIDED = ["granted", "granted_in_part", "denied"]


def _not_in_future(column: str, what: str, today: pd.Timestamp) -> E.ExpectColumnValuesToBeBetween:
    return E.ExpectColumnValuesToBeBetween(
        column=column, max_value=today, severity=BLOCKING, description=f"{what} is in the future"
    )


def datasets(con: duckdb.DuckDBPyConnection, today: dt.date) -> list[Dataset]:
    today_ts = pd.Timestamp(today)
    return [
        Dataset(
            SUITE,
            "clients",
            "select client_id, intake_date, age_at_intake from staging.stg_clients",
            key=("client_id",),
            expectations=[
                E.ExpectColumnValuesToBeBetween(
                    column="age_at_intake", min_value=0, max_value=120, severity=BLOCKING,
                    description="Age at intake is impossible (below 0 or above 120): date of birth or intake date is wrong",
                ),
                E.ExpectColumnValuesToBeBetween(
                    column="age_at_intake", min_value=14, max_value=100, severity=WARNING,
                    description="Age at intake is unlikely (below 14 or above 100)",
                ),
                _not_in_future("intake_date", "Client intake date", today_ts),
            ],
        ),
        Dataset(
            SUITE,
            "cases",
            """
            select c.case_id, c.client_id, c.intake_date, c.eligibility_date, c.referral_date,
                   c.closed_date, cl.intake_date as client_intake_date
            from staging.stg_cases c left join staging.stg_clients cl using (client_id)
            """,
            key=("case_id", "client_id"),
            expectations=[
                dates_in_order("eligibility_date", "intake_date", BLOCKING, "Eligibility decided before the case's intake"),
                dates_in_order("referral_date", "intake_date", BLOCKING, "Case referred before its intake"),
                dates_in_order("closed_date", "intake_date", BLOCKING, "Case closed before its intake"),
                # With the two rules above this also orders referral after the client's intake.
                dates_in_order("intake_date", "client_intake_date", BLOCKING, "Case opened before the client's first intake"),
                dates_in_order("referral_date", "eligibility_date", WARNING, "Case referred before its eligibility decision"),
                _not_in_future("intake_date", "Case intake date", today_ts),
                _not_in_future("referral_date", "Referral date", today_ts),
            ],
        ),
        Dataset(
            SUITE,
            "convictions",
            "select conviction_id, case_id, conviction_date from staging.stg_convictions",
            key=("conviction_id",),
            expectations=[_not_in_future("conviction_date", "Conviction date", today_ts)],
        ),
        Dataset(
            SUITE,
            "motions",
            """
            select m.motion_id, m.conviction_id, m.outcome, m.filing_date, m.hearing_date,
                   m.decision_date, v.conviction_date, c.intake_date as case_intake_date,
                   c.referral_date as case_referral_date,
                   original.filing_date as refiled_from_filing_date
            from staging.stg_motions m
            left join staging.stg_convictions v using (conviction_id)
            left join staging.stg_cases c on c.case_id = v.case_id
            left join staging.stg_motions original on original.motion_id = m.refiled_from_motion_id
            """,
            key=("motion_id", "conviction_id"),
            expectations=[
                dates_in_order("decision_date", "filing_date", BLOCKING, "Motion decided before it was filed"),
                dates_in_order("hearing_date", "filing_date", BLOCKING, "Motion heard before it was filed"),
                dates_in_order("filing_date", "conviction_date", BLOCKING, "Motion filed before the conviction it attacks"),
                dates_in_order("filing_date", "case_intake_date", WARNING, "Motion filed before the program's intake of the case"),
                dates_in_order("filing_date", "case_referral_date", WARNING, "Motion filed before the case was referred"),
                dates_in_order("filing_date", "refiled_from_filing_date", WARNING, "Re-filed motion dated before the motion it re-files"),
                E.ExpectColumnValuesToNotBeNull(
                    column="decision_date", row_condition=Column("outcome").is_in(DECIDED),
                    severity=BLOCKING,
                    description="Decided motion (granted, granted in part, denied) without a decision date",
                ),
                _not_in_future("filing_date", "Filing date", today_ts),
                _not_in_future("decision_date", "Decision date", today_ts),
            ],
        ),
        Dataset(
            SUITE,
            "immigration_events",
            """
            select e.event_id, e.client_id, e.event_type, e.event_date, cl.intake_date as client_intake_date
            from staging.stg_immigration_events e left join staging.stg_clients cl using (client_id)
            """,
            key=("event_id", "client_id"),
            expectations=[
                dates_in_order("event_date", "client_intake_date", WARNING, "Immigration event dated before the client's intake"),
                _not_in_future("event_date", "Immigration event date", today_ts),
            ],
        ),
        Dataset(
            SUITE,
            "time_entries",
            """
            select t.entry_id, t.case_id, t.entry_date, t.hours, c.intake_date as case_intake_date
            from staging.stg_time_entries t left join staging.stg_cases c using (case_id)
            """,
            key=("entry_id", "case_id"),
            expectations=[
                E.ExpectColumnValuesToBeBetween(
                    column="hours", min_value=0, strict_min=True, max_value=24, severity=BLOCKING,
                    description="Time entry hours not in (0, 24]",
                ),
                dates_in_order("entry_date", "case_intake_date", WARNING, "Time logged before the case's intake"),
                _not_in_future("entry_date", "Time entry date", today_ts),
            ],
        ),
        Dataset(
            SUITE,
            "attorney_days",
            """
            -- Rounded: a float sum of tenths of hours lands on 24.000000000000004 or 24 depending
            -- on the order the threads add them, and flagged 528, 529 or 530 days run to run.
            select partner_firm, attorney_id, entry_date, round(sum(hours), 6) as hours
            from staging.stg_time_entries group by all
            """,
            key=("partner_firm", "attorney_id", "entry_date"),
            expectations=[
                # A warning: programs often log a week's or a month's work on one date.
                E.ExpectColumnValuesToBeBetween(
                    column="hours", max_value=24, severity=WARNING,
                    description="An attorney logged more than 24 hours on one day",
                ),
            ],
        ),
    ]
