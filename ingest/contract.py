"""The canonical export contract: the tables a program hands the pipeline.

This module is the single source of truth for the contract. `docs/data-contract.md`
describes it for people; `tests/test_ingest_doc.py` keeps the two in step.

Every mapping file (ingest/layouts/*.yml) maps a source layout onto these tables.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Column kinds. `pii_*` columns are read from the export and never stored as given:
#   pii_drop  - dropped at the door (client names)
#   pii_hash  - stored only as a keyed HMAC-SHA256 (A-number, court case number)
#   pii_dob   - converted to age at intake, then dropped
KINDS = ("text", "date", "bool", "number", "enum", "pii_drop", "pii_hash", "pii_dob")

OUTCOMES = ("granted", "granted_in_part", "denied", "withdrawn", "pending")
RESULT_TYPES = (
    "vacatur",
    "offense_reduction",
    "sentence_modification",
    "dismissal",
    "expungement",
    "other",
)
GRANT_GROUNDS = (
    "legal_defect",  # procedural or substantive defect (Pickering / Thomas & Thompson)
    "clerical_error",
    "rehabilitation",
    "immigration_hardship",
    "other",
    "unknown",
)
IMMIGRATION_STATUSES = (
    "lpr",
    "visa_holder",
    "daca",
    "tps",
    "asylee_refugee",
    "undocumented",
    "other",
    "unknown",
)
ELIGIBILITY = ("eligible", "ineligible", "pending")
OFFENSE_LEVELS = ("felony", "misdemeanor", "infraction")
REMOVAL_GROUNDS = (
    "aggravated_felony",
    "controlled_substance",
    "crime_involving_moral_turpitude",
    "domestic_violence",
    "firearm",
    "other",
    "none",
)
DISPOSITIONS_AFTER_VACATUR = (
    "dismissed",
    "new_plea_pc372_5",
    "new_plea_other",
    "trial",
    "pending",
)
IMMIGRATION_EVENTS = (
    "motion_to_reopen_filed",
    "proceedings_terminated",
    "relief_granted",
    "released_from_detention",
    "status_retained",
    "naturalization_approved",
    "adjustment_approved",
    "administrative_closure",
    "removal_ordered",
    "removed",
)
CASE_STATUSES = ("open", "closed")

CALIFORNIA_COUNTIES = (
    "Alameda", "Alpine", "Amador", "Butte", "Calaveras", "Colusa", "Contra Costa",
    "Del Norte", "El Dorado", "Fresno", "Glenn", "Humboldt", "Imperial", "Inyo", "Kern",
    "Kings", "Lake", "Lassen", "Los Angeles", "Madera", "Marin", "Mariposa", "Mendocino",
    "Merced", "Modoc", "Mono", "Monterey", "Napa", "Nevada", "Orange", "Placer", "Plumas",
    "Riverside", "Sacramento", "San Benito", "San Bernardino", "San Diego", "San Francisco",
    "San Joaquin", "San Luis Obispo", "San Mateo", "Santa Barbara", "Santa Clara",
    "Santa Cruz", "Shasta", "Sierra", "Siskiyou", "Solano", "Sonoma", "Stanislaus",
    "Sutter", "Tehama", "Trinity", "Tulare", "Tuolumne", "Ventura", "Yolo", "Yuba",
)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = False
    allowed: tuple[str, ...] = ()
    doc: str = ""

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        assert (self.kind == "enum") == bool(self.allowed), self.name


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    doc: str
    columns: tuple[Column, ...]
    parent: tuple[str, str] | None = None  # (column, parent table)
    checks: tuple[str, ...] = field(default=())  # row rules, see ingest.rules

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def stored_columns(self) -> list[str]:
        """Columns as they land in the raw schema (after privacy transforms)."""
        out: list[str] = []
        for c in self.columns:
            if c.kind == "pii_drop" or c.kind == "pii_dob":
                continue
            out.append(f"{c.name}_hash" if c.kind == "pii_hash" else c.name)
        if self.name == "clients":
            out.append("age_at_intake")
        return out


C = Column
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "clients",
            key="client_id",
            doc="One row per client (person).",
            columns=(
                C("client_id", "text", True, doc="Program's pseudonymous client id."),
                C("first_name", "pii_drop", doc="Dropped at ingest."),
                C("last_name", "pii_drop", doc="Dropped at ingest."),
                C("full_name", "pii_drop", doc="Dropped at ingest (for layouts with one name column)."),
                C("a_number", "pii_hash", doc="Alien registration number, 8-9 digits with or without 'A'; stored only as a keyed hash."),
                C("date_of_birth", "pii_dob", doc="Converted to age_at_intake, never stored."),
                C("intake_date", "date", True, doc="Date of first intake / screening."),
                C("country_of_birth", "text"),
                C("primary_language", "text"),
                C("county_of_residence", "enum", allowed=CALIFORNIA_COUNTIES),
                C("immigration_status", "enum", allowed=IMMIGRATION_STATUSES, doc="At intake."),
                C("in_removal_proceedings", "bool", doc="At intake."),
                C("final_removal_order", "bool", doc="At intake."),
                C("detained_at_intake", "bool"),
            ),
        ),
        Table(
            "cases",
            key="case_id",
            doc="One row per case (a client's matter in the program).",
            parent=("client_id", "clients"),
            columns=(
                C("case_id", "text", True),
                C("client_id", "text", True),
                C("intake_date", "date", True, doc="Case opened / screened."),
                C("eligibility", "enum", allowed=ELIGIBILITY, doc="Screening decision."),
                C("eligibility_date", "date"),
                C("referral_date", "date", doc="Referred to a partner firm."),
                C("partner_firm", "text"),
                C("attorney_id", "text", doc="Volunteer attorney's id at the firm (not a client identifier)."),
                C("case_status", "enum", allowed=CASE_STATUSES),
                C("closed_date", "date"),
            ),
            checks=("eligibility_date>=intake_date", "referral_date>=intake_date", "closed_date>=intake_date"),
        ),
        Table(
            "convictions",
            key="conviction_id",
            doc="One row per conviction the program considers for relief.",
            parent=("case_id", "cases"),
            columns=(
                C("conviction_id", "text", True),
                C("case_id", "text", True),
                C("county", "enum", True, allowed=CALIFORNIA_COUNTIES, doc="County of the convicting court."),
                C("court_case_number", "pii_hash", doc="Finds the person in public court records: stored only as a keyed hash."),
                C("offense_code", "text", doc="E.g. 'HS 11350(a)', 'PC 459'."),
                C("offense_level", "enum", allowed=OFFENSE_LEVELS),
                C("conviction_date", "date", doc="Date judgment / plea was entered."),
                C("removal_ground", "bool", doc="Flagged as a ground of deportability / inadmissibility."),
                C("removal_ground_type", "enum", allowed=REMOVAL_GROUNDS),
            ),
        ),
        Table(
            "motions",
            key="motion_id",
            doc="One row per post-conviction motion / petition filed or planned.",
            parent=("conviction_id", "convictions"),
            columns=(
                C("motion_id", "text", True),
                C("conviction_id", "text", True),
                C("vehicle", "text", True, doc="Statute with subsection, e.g. 'PC 1473.7(a)(1)'; must be in the vehicle taxonomy."),
                C("filing_date", "date"),
                C("hearing_date", "date"),
                C("decision_date", "date"),
                C("outcome", "enum", True, allowed=OUTCOMES),
                C("result_type", "enum", allowed=RESULT_TYPES, doc="What a granted order did."),
                C("grant_ground", "enum", allowed=GRANT_GROUNDS, doc="Ground the order rests on."),
                C("order_states_ground", "bool"),
                C("order_cites_subsection", "bool"),
                C("relied_on_relief", "bool", doc="8 CFR 1003.55 condition 2: client relied on availability of sentence relief; blank = unknown."),
                C("refiled_from_motion_id", "text", doc="The earlier motion this one re-files (e.g. after a denial)."),
                C("disposition_after_vacatur", "enum", allowed=DISPOSITIONS_AFTER_VACATUR),
            ),
            checks=("decision_date>=filing_date", "hearing_date>=filing_date", "decision_date>=hearing_date",
                    "decided_has_date"),
        ),
        Table(
            "immigration_events",
            key="event_id",
            doc="One row per immigration-court / agency event after intake.",
            parent=("client_id", "clients"),
            columns=(
                C("event_id", "text", True),
                C("client_id", "text", True),
                C("event_type", "enum", True, allowed=IMMIGRATION_EVENTS),
                C("event_date", "date", True),
            ),
        ),
        Table(
            "time_entries",
            key="entry_id",
            doc="One row per pro bono time entry.",
            parent=("case_id", "cases"),
            columns=(
                C("entry_id", "text", True),
                C("case_id", "text", True),
                C("partner_firm", "text", True),
                C("attorney_id", "text", True),
                C("entry_date", "date", True),
                C("hours", "number", True, doc="0 < hours <= 24."),
            ),
        ),
    )
}

# Parent-first order: loading in this order lets a wide row's parts land before its children.
TABLE_ORDER = ("clients", "cases", "convictions", "motions", "immigration_events", "time_entries")
