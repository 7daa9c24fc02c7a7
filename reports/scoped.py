"""The exact counts of a grant's scope over a date range, read through the data-access layer
(program-manager scope: disclosure control is applied to what these return, in build.py)."""
from __future__ import annotations

import datetime as dt
import re
from functools import cached_property

import duckdb
import pandas as pd

from access.queries import DataAccess
from access.reader import DataUnavailable, read_published
from reports import vocabulary
from reports.grants import Grant
from reports.metrics import CLIENTS_REPRESENTED_CASES, REMOVAL_AVOIDED, REMOVAL_STATUSES


class Scoped:
    """Queries for one grant's scope and one date range, read through the access layer."""

    def __init__(self, access: DataAccess, grant: Grant, start: dt.date, end: dt.date):
        self.access, self.grant = access, grant
        self.params = {"range_start": start, "range_end": end, "grant_start": grant.start,
                       "grant_counties": list(grant.counties), "grant_vehicles": list(grant.vehicles)}

    def where(self, grain: str) -> str:
        """The grant's scope for a relation at ``grain`` (motion, case or client)."""
        parts = []
        if self.grant.client_criteria:
            flags = " AND ".join(f"coalesce({name}, false) = {str(value).lower()}" for name, value in self.grant.client_criteria)
            parts.append(f"client_id IN (SELECT client_id FROM {{dim_clients}} WHERE {flags})")
        key = {"case": "case_id", "client": "client_id"}.get(grain)
        if self.grant.counties:
            parts.append("list_contains($grant_counties, county)" if grain == "motion" else
                         f"{key} IN (SELECT {key} FROM {{fct_convictions}} WHERE list_contains($grant_counties, county))")
        if self.grant.vehicles:
            parts.append("list_contains($grant_vehicles, vehicle)" if grain == "motion" else
                         f"{key} IN (SELECT {key} FROM {{fct_motions}} WHERE list_contains($grant_vehicles, vehicle))")
        return " AND ".join(parts) or "true"

    def query(self, sql: str) -> pd.DataFrame:
        # DuckDB refuses parameters a statement does not use.
        return self.access.query(sql, {k: v for k, v in self.params.items() if f"${k}" in sql})

    def scalar(self, sql: str) -> float:
        return float(self.query(sql).iloc[0, 0] or 0)

    @cached_property
    def decision_classes(self) -> vocabulary.DecisionClasses:
        return vocabulary.read(self.access.db_path)

    def decisions(self) -> pd.DataFrame:
        """The range's decided and withdrawn motions by vehicle and decision class (a vacatur's
        class is its recognition class), one column per class of reference.decision_classes."""
        frame = self.query(f"""
            SELECT vehicle, CASE
                WHEN is_vacatur_granted THEN effective_recognition_class
                WHEN is_offense_reduction_granted THEN 'offense_reduction'
                WHEN is_sentence_modification_granted AND is_sentence_modification_honoured THEN 'sentence_modification_honoured'
                WHEN is_sentence_modification_granted THEN 'sentence_modification_not_honoured'
                WHEN is_rehabilitative_granted THEN 'rehabilitative'
                WHEN outcome = 'denied' THEN 'denied'
                WHEN outcome = 'withdrawn' THEN 'withdrawn' END AS outcome_class, count(*) AS n
            FROM {{fct_motions}}
            WHERE outcome IN ('granted', 'granted_in_part', 'denied', 'withdrawn')
              AND decision_date BETWEEN $range_start AND $range_end AND {self.where('motion')}
            GROUP BY ALL""")
        classes = self.decision_classes.labels
        # A motion in a class the vocabulary lacks would drop out of every table: refused instead.
        unknown = sorted(set(frame["outcome_class"].dropna()) - set(classes))
        if unknown or frame["outcome_class"].isna().any():
            raise ValueError(f"decided motions in a class reference.decision_classes does not list: "
                             f"{', '.join(unknown) or 'none (NULL)'}; add it to seeds/decision_classes.csv")
        table = frame.pivot_table(index="vehicle", columns="outcome_class", values="n", aggfunc="sum", fill_value=0)
        return table.reindex(columns=list(classes), fill_value=0).sort_index().astype("int64")

    def filed(self) -> pd.Series:
        frame = self.query(f"""
            SELECT vehicle, count(*) AS n FROM {{fct_motions}}
            WHERE filing_date BETWEEN $range_start AND $range_end AND {self.where('motion')} GROUP BY ALL""")
        return frame.set_index("vehicle")["n"].sort_index().astype("int64")

    def clients(self) -> dict[str, float]:
        scope = self.where("case")
        return {
            "clients_screened": self.scalar(f"SELECT count(DISTINCT client_id) FROM {{fct_cases}} "
                                            f"WHERE intake_date BETWEEN $range_start AND $range_end AND {scope}"),
            "clients_represented": self.scalar(f"SELECT count(DISTINCT client_id) FROM {{fct_cases}} "
                                               f"WHERE {CLIENTS_REPRESENTED_CASES} AND {scope}"),
            "cases_referred": self.scalar(f"SELECT count(*) FROM {{fct_cases}} "
                                          f"WHERE referral_date BETWEEN $range_start AND $range_end AND {scope}"),
        }

    def removal(self) -> pd.Series:
        frame = self.query(f"""
            SELECT removal_avoided_status AS status, count(*) AS n FROM {{mart_removal_avoided}}
            WHERE status_date BETWEEN $range_start AND $range_end AND {self.where('client')} GROUP BY ALL""")
        return frame.set_index("status")["n"].reindex([*REMOVAL_AVOIDED, *REMOVAL_STATUSES], fill_value=0).astype("int64")

    def pro_bono(self) -> tuple[pd.DataFrame, float]:
        frame = self.query(f"""
            SELECT coalesce(partner_firm, '(none)') AS partner_firm, count(DISTINCT case_id) AS cases,
                   sum(hours) AS hours, sum(value_usd) AS value_usd
            FROM {{fct_time_entries}}
            WHERE entry_date BETWEEN $range_start AND $range_end AND {self.where('case')} GROUP BY ALL ORDER BY 1""")
        attorneys = self.scalar(f"SELECT count(DISTINCT attorney_id) FROM {{fct_time_entries}} "
                                f"WHERE entry_date BETWEEN $range_start AND $range_end AND {self.where('case')}")
        return frame.set_index("partner_firm"), attorneys

    def time_to_resolution(self) -> pd.DataFrame:
        """Per measure (index): the units in scope whose clock started from the grant's start to
        the range's end (re-filing chains, motions, clients), how many are resolved, the
        Kaplan-Meier median and 75th percentile in days, by the database's macros that the
        time-to-resolution marts use (macros/kaplan_meier.sql), and the median of the resolved
        units alone. The table macros are outside what the access layer's SQL guard admits, so
        this reads the file directly: it runs in the program manager's scope, every row."""
        owners = motions = ""
        if self.grant.client_criteria:
            # A chain's or motion's client is its motion's; a client unit is its own.
            clients = re.sub(r"\{(\w+)\}", r"marts.\1", self.where("client"))
            owners = ("AND CASE WHEN u.unit_type = 'client' THEN u.unit_id ELSE m.client_id END "
                      f"IN (SELECT client_id FROM marts.dim_clients WHERE {clients})")
            motions = "LEFT JOIN marts.fct_motions m ON u.unit_type <> 'client' AND m.motion_id = u.unit_id"
        sql = f"""
            WITH units AS (
                SELECT u.measure, 'grant' AS dimension, '' AS dimension_value, u.duration_days, u.is_event
                FROM intermediate.int_time_to_resolution_units u
                {motions}
                WHERE u.start_date BETWEEN $grant_start AND $range_end
                  {"AND list_contains($grant_counties, u.county)" if self.grant.counties else ""}
                  {"AND list_contains($grant_vehicles, u.vehicle)" if self.grant.vehicles else ""}
                  {owners}
            ),
            curve AS (SELECT * FROM intermediate.kaplan_meier_curve(units)),
            quantiles AS (SELECT * FROM intermediate.kaplan_meier_quantiles(curve))
            SELECT measure, count(*) AS units, count(*) FILTER (WHERE is_event) AS resolved,
                   any_value(q.km_median_days) AS km_median, any_value(q.km_p75_days) AS km_p75,
                   median(duration_days) FILTER (WHERE is_event) AS closed_median
            FROM units LEFT JOIN quantiles q USING (measure)
            GROUP BY measure"""
        params = {k: v for k, v in self.params.items() if f"${k}" in sql}
        try:
            frame = read_published(self.access.db_path, sql, params).set_index("measure")
        except duckdb.CatalogException as error:  # a database built before the macros existed
            raise DataUnavailable(f"{self.access.db_path} has no Kaplan-Meier macros: rebuild it with `pcr run` "
                                  f"({error})") from None
        return frame.astype({"units": "int64", "resolved": "int64", "km_median": float, "km_p75": float,
                             "closed_median": float})
