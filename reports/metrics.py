"""What a report counts: the metrics a grant's deliverables can name (definitions follow
docs/glossary.md), the cases of the clients a program represents, and the removal-avoided
statuses a report shows."""
from __future__ import annotations

from dataclasses import dataclass

from reports.vocabulary import TERMS

# The cases of the clients a program represents in a range: referred by its end, not closed before its start.
CLIENTS_REPRESENTED_CASES = "referral_date <= $range_end AND (closed_date IS NULL OR closed_date >= $range_start)"


# Removal-avoided statuses (marts.mart_removal_avoided) the report shows, in the pages' words
# (reports/vocabulary.py) as a row label: "avoided" is confirmed + projected, split in a table of its own.
def _row_label(code: str) -> str:
    label = TERMS[code].label
    return label[:1].upper() + label[1:]


REMOVAL_STATUSES = {code: _row_label(code) for code in ("avoided", "administrative_closure", "partial_relief", "not_avoided")}
REMOVAL_AVOIDED = {code: _row_label(code) for code in ("confirmed", "projected")}


@dataclass(frozen=True)
class Metric:
    label: str
    unit: str
    definition: str


# What a deliverable can count. Definitions follow docs/glossary.md.
METRICS = {
    "clients_screened": Metric("Clients screened", "clients",
        "Distinct clients with a case whose intake (screening) date is in the period."),
    "clients_represented": Metric("Clients represented", "clients",
        "Distinct clients with a case referred to a partner firm on or before the period's end and not closed before its start."),
    "cases_referred": Metric("Cases referred", "cases", "Cases referred to a partner firm in the period."),
    "motions_filed": Metric("Motions filed", "motions", "Motions with a filing date in the period."),
    "motions_decided": Metric("Motions decided", "motions",
        "Motions granted, granted in part or denied, by decision date. Withdrawn and pending motions are not decided."),
    "motions_granted": Metric("Motions granted", "motions",
        "Motions granted or granted in part, by decision date: vacaturs, offense reductions, sentence modifications and rehabilitative relief."),
    "vacaturs_granted": Metric("Vacaturs granted", "motions",
        "Granted motions whose relief vacates a conviction, any recognition class (recognized, uncertain, not recognized). "
        "Offense reductions and sentence modifications are never counted as vacaturs."),
    "vacaturs_recognized": Metric("Vacaturs granted, recognized", "motions",
        "Vacaturs resting on a legal defect under a vehicle whose vacaturs immigration authorities honour (recognition class: recognized)."),
    "offense_reductions_granted": Metric("Offense reductions granted", "motions",
        "Granted offense reductions (Prop 47, PC 17(b)); reported beside vacaturs."),
    "sentence_modifications_granted": Metric("Sentence modifications granted", "motions",
        "Granted sentence modifications, honoured or not under 8 CFR 1003.55; reported beside vacaturs."),
    "clients_removal_avoided": Metric("Clients with removal avoided", "clients",
        "Clients with removal exposure at intake whose status reached in the period is confirmed or projected removal avoided."),
    "clients_removal_avoided_confirmed": Metric("Clients with removal avoided, confirmed", "clients",
        "As above, confirmed by a recorded favourable immigration outcome after immigration-effective relief."),
    "pro_bono_hours": Metric("Pro bono hours", "hours", "Hours partner-firm attorneys logged on in-scope cases in the period."),
}
