"""Suite `marts`: the numbers dashboards and reports show must add up.

dbt unit tests prove the SQL logic on hand-made fixtures; this suite checks the built marts on
the real data, where a join that fans out or drops rows shows up as totals that do not match:
breakdowns (by vehicle, county, firm, period) that do not add up to their total, rates outside
[0, 1], vacaturs that absorb reductions, survival curves that rise. Negative durations in
fct_cases are dbt tests (`non_negative`) and not repeated here. The SQL of each dataset
lines up the two sides of a comparison; the expectation states the rule.
"""
from __future__ import annotations

import datetime as dt

import duckdb
import great_expectations as gx

from expectations.dataset import BLOCKING, Dataset

E = gx.expectations
SUITE = "marts"

MOTION_COUNTS = (
    "motions_filed", "motions_decided", "motions_granted", "motions_granted_in_full",
    "motions_granted_in_part", "motions_denied", "motions_withdrawn", "motions_pending",
)
REMOVAL_STATUSES = (
    "confirmed", "projected", "not_avoided", "administrative_closure", "partial_relief", "none_yet",
    "no_effective_relief",
)


def _equal(a: str, b: str, description: str) -> E.ExpectColumnPairValuesToBeEqual:
    return E.ExpectColumnPairValuesToBeEqual(column_A=a, column_B=b, severity=BLOCKING, description=description)


def _share(column: str, what: str) -> E.ExpectColumnValuesToBeBetween:
    return E.ExpectColumnValuesToBeBetween(
        column=column, min_value=0, max_value=1, severity=BLOCKING, description=f"{what} outside [0, 1]"
    )


def _breakdown_sums(mart: str, measures: tuple[str, ...], by: tuple[str, ...]) -> str:
    """Each breakdown's sum beside the 'all' row it must add up to, per value of `by`."""
    join = " and ".join(f"t.{c} = b.{c}" for c in by) or "true"
    by_cols = "".join(f"{c}, " for c in by)
    sums = ", ".join(f"sum({m}) as {m}" for m in measures)
    pairs = ", ".join(f"t.{m} as total_{m}, coalesce(b.{m}, 0) as breakdown_{m}" for m in measures)
    return f"""
        with totals as (select * from marts.{mart} where dimension_value = 'all'),
        breakdowns as (
            select {by_cols}dimension, {sums} from marts.{mart}
            where dimension <> 'all' group by all
        )
        select {''.join(f't.{c}, ' for c in by)}b.dimension as breakdown, {pairs}
        from breakdowns b join totals t on {join}
    """


def datasets(con: duckdb.DuckDBPyConnection, today: dt.date) -> list[Dataset]:
    return [
        Dataset(
            SUITE,
            "motion_activity",
            "select period, dimension, dimension_value, grant_rate, "
            "motions_granted_in_full + motions_granted_in_part as granted_in_full_plus_in_part, "
            "motions_granted + motions_denied as granted_plus_denied, "
            + ", ".join(MOTION_COUNTS) + " from marts.mart_motion_activity",
            key=("period", "dimension", "dimension_value"),
            expectations=[
                _share("grant_rate", "Grant rate"),
                _equal("motions_granted", "granted_in_full_plus_in_part", "Granted is not granted in full + granted in part"),
                _equal("motions_decided", "granted_plus_denied", "Decided is not granted + denied (withdrawn and pending must stay out)"),
            ],
        ),
        Dataset(
            SUITE,
            "motion_activity_breakdowns",
            _breakdown_sums("mart_motion_activity", MOTION_COUNTS, ("period",)),
            key=("period", "breakdown"),
            expectations=[
                _equal(f"total_{m}", f"breakdown_{m}",
                       f"{m.replace('_', ' ')} by vehicle / county / firm does not add up to the total")
                for m in MOTION_COUNTS
            ],
        ),
        Dataset(
            SUITE,
            "relief_granted",
            """
            select decision_quarter, vehicle, county, partner_firm, motions_granted, vacaturs_granted,
                   vacaturs_recognized + vacaturs_uncertain + vacaturs_not_recognized as vacaturs_by_class,
                   vacaturs_granted + offense_reductions_granted + sentence_modifications_granted
                       + rehabilitative_granted as relief_kinds_total,
                   sentence_modifications_granted,
                   sentence_modifications_honoured + sentence_modifications_not_honoured
                       as sentence_modifications_by_test
            from marts.mart_relief_granted
            """,
            key=("decision_quarter", "vehicle", "county", "partner_firm"),
            expectations=[
                _equal("vacaturs_granted", "vacaturs_by_class", "Vacaturs do not add up over recognition classes"),
                _equal("sentence_modifications_granted", "sentence_modifications_by_test",
                       "Sentence modifications do not add up over the 8 CFR 1003.55 test"),
                # Reductions and sentence modifications sit beside vacaturs, never inside them:
                # the kinds are disjoint, so together they cannot exceed the granted motions.
                E.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="motions_granted", column_B="relief_kinds_total", or_equal=True, severity=BLOCKING,
                    description="A granted motion is counted under more than one kind of relief",
                ),
            ],
        ),
        Dataset(
            SUITE,
            "relief_granted_vs_motion_activity",
            """
            select
                (select coalesce(sum(motions_granted), 0) from marts.mart_relief_granted) as granted_by_vehicle,
                (select motions_granted from marts.mart_motion_activity
                 where period = 'all' and dimension = 'all') as granted_total
            """,
            expectations=[
                _equal("granted_by_vehicle", "granted_total",
                       "Granted motions by vehicle do not add up to all granted motions"),
            ],
        ),
        Dataset(
            SUITE,
            "removal_avoided_rollup",
            "select dimension, dimension_value, clients_with_exposure, "
            + " + ".join(f"clients_{s}" for s in REMOVAL_STATUSES) + " as clients_by_status "
            "from marts.mart_removal_avoided_rollup",
            key=("dimension", "dimension_value"),
            expectations=[
                _equal("clients_with_exposure", "clients_by_status",
                       "Clients with exposure do not add up over removal-avoided statuses"),
            ],
        ),
        Dataset(
            SUITE,
            "removal_avoided_breakdowns",
            _breakdown_sums("mart_removal_avoided_rollup", ("clients_with_exposure",), ())
            # No client with removal exposure (none exported, or the exports carry no exposure
            # column) leaves the rollup without its 'all' row: that total is 0, not NULL.
            + " union all select 'detail rows', coalesce((select clients_with_exposure from marts.mart_removal_avoided_rollup"
              " where dimension = 'all'), 0), (select count(*) from marts.mart_removal_avoided)",
            key=("breakdown",),
            expectations=[
                _equal("total_clients_with_exposure", "breakdown_clients_with_exposure",
                       "Clients by status quarter / county / firm do not add up to all clients with exposure"),
            ],
        ),
        Dataset(
            SUITE,
            "funnel",
            "select intake_cohort, step, cases, clients, conversion_from_previous, conversion_from_screened "
            "from marts.mart_funnel",
            key=("intake_cohort", "step"),
            expectations=[
                _share("conversion_from_previous", "Funnel conversion from the previous step"),
                _share("conversion_from_screened", "Funnel conversion from screening"),
                E.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="cases", column_B="clients", or_equal=True, severity=BLOCKING,
                    description="A funnel step counts more clients than cases",
                ),
            ],
        ),
        Dataset(
            SUITE,
            "pro_bono_breakdowns",
            """
            -- Equal within 1e-9 relative: float sums taken in another order differ in the last
            -- digits, and at millions of hours that reaches the 6th decimal.
            select t.period, t.hours as total_hours,
                   case when abs(sum(f.hours) - t.hours) <= 1e-9 * greatest(abs(t.hours), 1) then t.hours
                        else sum(f.hours) end as firm_hours
            from marts.mart_pro_bono t join marts.mart_pro_bono f
              on f.period = t.period and f.partner_firm <> 'all'
            where t.partner_firm = 'all' group by t.period, t.hours
            """,
            key=("period",),
            expectations=[
                _equal("total_hours", "firm_hours", "Pro bono hours by firm do not add up to the total"),
            ],
        ),
        Dataset(
            SUITE,
            "km_curves",
            """
            select measure, dimension, dimension_value, t_days, survival, at_risk, events + censored as leaving,
                   -- rounded: a product of floats wobbles in the last digits
                   round(survival, 9) as survival_rounded,
                   round(lag(survival) over (partition by measure, dimension, dimension_value order by t_days), 9)
                       as previous_survival
            from marts.mart_time_to_resolution_km
            """,
            key=("measure", "dimension", "dimension_value", "t_days"),
            expectations=[
                _share("survival", "Kaplan-Meier survival"),
                E.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="previous_survival", column_B="survival_rounded", or_equal=True,
                    ignore_row_if="either_value_is_missing", severity=BLOCKING,
                    description="Kaplan-Meier survival rises over time",
                ),
                E.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="at_risk", column_B="leaving", or_equal=True, severity=BLOCKING,
                    description="More units leave the risk set than are at risk",
                ),
            ],
        ),
        Dataset(
            SUITE,
            "time_to_resolution",
            "select measure, dimension, dimension_value, units, events + censored as events_plus_censored, "
            "km_median_days, km_p75_days from marts.mart_time_to_resolution",
            key=("measure", "dimension", "dimension_value"),
            expectations=[
                _equal("units", "events_plus_censored", "Units are not events + censored"),
                E.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="km_p75_days", column_B="km_median_days", or_equal=True,
                    ignore_row_if="either_value_is_missing", severity=BLOCKING,
                    description="75th percentile time to resolution below the median",
                ),
            ],
        ),
    ]
