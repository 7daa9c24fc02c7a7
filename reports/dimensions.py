"""The client attributes a grant report can break its counts down by (a grant lists the ones
it wants under ``demographics:`` in the grants file)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Dimension:
    column: str  # column of marts.dim_clients
    label: str
    value_labels: dict[str, str] = field(default_factory=dict)  # coded values as a reader says them
    sort_key: str | None = None  # SQL aggregate ordering the categories; else most clients first
    note: str = ""


# Allowed values of the contract's immigration_status (ingest/contract.py), in plain words.
IMMIGRATION_STATUS_LABELS = {
    "lpr": "Lawful permanent resident",
    "visa_holder": "Visa holder",
    "daca": "DACA recipient",
    "tps": "Temporary protected status",
    "asylee_refugee": "Asylee or refugee",
    "undocumented": "Undocumented",
    "other": "Other status",
    "unknown": "Unknown (as recorded)",
}

DIMENSIONS = {
    "age_band": Dimension("age_band_at_intake", "Age at intake", sort_key="min(age_at_intake)",
                          note="Age in years at first intake, from the date of birth, which is not kept."),
    "primary_language": Dimension("primary_language", "Primary language"),
    "country_of_birth": Dimension("country_of_birth", "Country of birth"),
    "county_of_residence": Dimension("county_of_residence", "County of residence",
                                     note="County of residence at intake (not the county of the convicting court)."),
    "immigration_status": Dimension("immigration_status", "Immigration status at intake", IMMIGRATION_STATUS_LABELS),
}
