"""Which metrics the exports can give: each metric's contract columns, and the sentence a page
or report shows instead of a number when the exports do not carry one of them.

A layout can say an export does not carry a contract column (``{not_available: true}``,
docs/data-contract.md, "A column map entry"); ingest records how every load gave every column,
and ``marts.mart_column_availability`` says which columns no current load gives. A metric that
needs such a column would count it as blank and show 0, a plausible wrong number: the
dashboards, the grant report, the partner report and the collapse check
(expectations/collapse.py) all read ``NEEDS`` here, and show "not available in these exports"
with the sentence ``Availability.sentence`` writes.

This module reads the published database only when asked (``read``), so the pipeline's checks
can import ``NEEDS`` without the dashboards' imports.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

NOT_AVAILABLE = "not available in these exports"
RELATION = "mart_column_availability"

# Contract columns ("table.column") each metric needs. A required contract column is listed
# where a metric rests on it, though a layout cannot mark it not available: the list says what
# the metric is made of. Keys are the metric names of reports/build.py METRICS and of the
# dashboards' tiles and tables.
_REMOVAL_EXPOSURE = ("clients.in_removal_proceedings", "clients.final_removal_order", "clients.detained_at_intake",
                     "convictions.removal_ground")
_DECIDED = ("motions.outcome", "motions.decision_date")
NEEDS: dict[str, tuple[str, ...]] = {
    "clients_screened": ("cases.intake_date",),
    "clients_served": ("cases.intake_date",),
    "clients_represented": ("cases.referral_date",),
    "cases_eligible": ("cases.eligibility",),
    "cases_referred": ("cases.referral_date",),
    "motions_filed": ("motions.filing_date",),
    "motions_decided": _DECIDED,
    "motions_granted": _DECIDED,
    "grant_rate": _DECIDED,
    # What a granted order did: the vehicle's relief kind unless its result type re-classifies it.
    "vacaturs_granted": (*_DECIDED, "motions.result_type"),
    "relief_by_kind": (*_DECIDED, "motions.result_type"),
    "offense_reductions_granted": (*_DECIDED, "motions.result_type"),
    "sentence_modifications_granted": (*_DECIDED, "motions.result_type"),
    # Recognition classes (Pickering) and the 8 CFR 1003.55 test rest on the ground of the order.
    "vacaturs_recognized": (*_DECIDED, "motions.result_type", "motions.grant_ground"),
    "relief_by_recognition_class": (*_DECIDED, "motions.result_type", "motions.grant_ground"),
    # Exposure at intake is any of four facts: without one of them a client exposed only by it
    # is missing, and the count is short. Confirmed needs the immigration outcomes.
    "clients_removal_avoided": (*_REMOVAL_EXPOSURE, "immigration_events.event_type", "immigration_events.event_date"),
    "clients_removal_avoided_confirmed": (*_REMOVAL_EXPOSURE, "immigration_events.event_type",
                                          "immigration_events.event_date"),
    "pro_bono_hours": ("time_entries.hours", "time_entries.entry_date"),
    # Time to resolution (mart_time_to_resolution measures): the dates of the clock.
    "referral_to_decision": ("cases.referral_date", "motions.decision_date"),
    "intake_to_decision": ("cases.intake_date", "motions.decision_date"),
    "filing_to_decision": ("motions.filing_date", "motions.decision_date"),
    "decision_to_immigration_outcome": ("motions.decision_date", "immigration_events.event_type",
                                        "immigration_events.event_date"),
}


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@dataclass(frozen=True)
class Availability:
    """The contract columns no current load gives ("table.column" -> whether every layout
    without it marks it not available); every other column is available."""

    missing: dict[str, bool] = field(default_factory=dict)

    def lacking(self, *metrics: str) -> tuple[str, ...]:
        """The columns the metrics need that the exports do not carry, in the order needed."""
        needed = dict.fromkeys(column for metric in metrics for column in NEEDS[metric])
        return tuple(column for column in needed if column in self.missing)

    def has(self, *metrics: str) -> bool:
        return not self.lacking(*metrics)

    def why(self, columns: Iterable[str]) -> str:
        """Why the exports lack these columns, said of the layout: "the exports' layout marks
        motions.filing_date not available"."""
        columns = list(columns)
        marked = [c for c in columns if self.missing.get(c)]
        unmapped = [c for c in columns if c in self.missing and not self.missing[c]]
        parts = ([f"marks {_listed(marked)} not available"] if marked else []) + \
                ([f"does not map {_listed(unmapped)}"] if unmapped else [])
        return "the exports' layout " + " and ".join(parts) if parts else ""

    def sentence(self, what: str, *metrics: str) -> str:
        """What a page or report says in place of ``what`` ("Motions filed"), naming the
        columns; "" when the exports carry every column the metrics need."""
        lacking = self.lacking(*metrics)
        return f"{what}: {NOT_AVAILABLE}; {self.why(lacking)}." if lacking else ""


    def sentences(self, shown: Iterable[tuple[str, str]]) -> list[str]:
        """One sentence per reason for (what, metric) pairs shown as not available, e.g.
        "Motions filed and Motions filed in the period, by vehicle: not available in these
        exports; the exports' layout marks motions.filing_date not available." """
        by_reason: dict[str, list[str]] = {}
        for what, metric in shown:
            if (lacking := self.lacking(metric)) and what not in by_reason.setdefault(self.why(lacking), []):
                by_reason[self.why(lacking)].append(what)
        return [f"{_listed(whats)}: {NOT_AVAILABLE}; {why}." for why, whats in by_reason.items() if whats]


def from_rows(rows: Iterable[tuple[str, str, bool, bool]]) -> Availability:
    """From (contract_table, contract_column, available, marked_not_available) rows of the mart."""
    return Availability({f"{table}.{column}": bool(marked) for table, column, available, marked in rows if not available})


def read(db: Path | str) -> Availability:
    """What the exports behind a database carry, read through the dashboards' read-only,
    per-version cache. A database built before the mart existed: every column available."""
    from access.reader import read_published

    present = read_published(Path(db), "SELECT count(*) AS n FROM information_schema.tables "
                                        "WHERE table_schema = 'marts' AND table_name = $relation", {"relation": RELATION})
    if not int(present["n"].iloc[0]):
        return Availability()
    frame = read_published(Path(db), f"SELECT contract_table, contract_column, available, marked_not_available FROM marts.{RELATION}")
    return from_rows(frame.itertuples(index=False, name=None))
