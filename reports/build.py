"""A grant report: exact aggregates of the grant's scope, then disclosure control.

Everything a funder receives is built here from ``SuppressedTable``s (access/disclosure.py)
at the grants file's threshold (default 11). The exact counts are read through the data-access
layer as GROUP BY queries; time to resolution is estimated in the database over the grant's
units (reports/scoped.py) and leaves it only as medians of at least ``threshold`` units.

Disclosure design: each table is protected on its own and no two tables share an entry, so
no published number can be subtracted from another to reveal a suppressed one. The period's
decisions are three tables of disjoint motions — vacaturs (vehicle x recognition class),
relief beside vacaturs (vehicle x kind), denied / withdrawn (vehicle x outcome). Headline
numbers are entries of those tables (vacaturs granted = the vacatur table's total) or sums of
published entries (motions granted = vacaturs + relief beside them), shown as "suppressed"
when any input is. The removal-avoided split (confirmed / projected) is published only when
its total, an entry of the status table, is.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from access.disclosure import (
    COMPLEMENT, REVEALS, SMALL, SMALL_GROUP, TOTAL_LABEL, WITHHELD, LinkedTables, SuppressedTable, format_count,
    format_measure, legend, marker, ratio, suppress, suppress_like,
)
from access.queries import DataAccess
from access.scope import Role, Scope
from reports import availability, demographics
from reports.asof import DataVersion
from reports.availability import NOT_AVAILABLE, Availability
from reports.grants import Grant
from reports.metrics import METRICS, REMOVAL_AVOIDED, REMOVAL_STATUSES
from reports.periods import Period
from reports.scoped import Scoped
from reports.tables import ReportTable

TTR_MEASURES = {
    "referral_to_decision": ("Referral to state-court decision", "re-filing chains"),
    "filing_to_decision": ("Filing to decision", "motions"),
    "decision_to_immigration_outcome": ("Relief to immigration outcome", "clients"),
}


# The metric (reports/availability.py NEEDS) of each headline number, linked table of _publish
# and report table: shown as "not available in these exports" when the exports lack its columns.
HEADLINE_NEEDS = {
    "Clients represented": "clients_represented", "Clients screened": "clients_screened",
    "Motions filed": "motions_filed", "Motions decided": "motions_decided", "Grant rate": "grant_rate",
    "Vacaturs granted": "vacaturs_granted", "Removal avoided": "clients_removal_avoided",
    "Pro bono hours": "pro_bono_hours", "Value of donated time": "pro_bono_hours",
}
LINKED_NEEDS = {
    "vacaturs": "relief_by_recognition_class", "beside": "relief_by_recognition_class",
    "not_granted": "motions_decided", "filed": "motions_filed", "removal": "clients_removal_avoided",
    "removal_avoided": "clients_removal_avoided", "motions_granted": "motions_granted",
    "motions_decided": "motions_decided", "sentence_modifications_granted": "sentence_modifications_granted",
    "clients_screened": "clients_screened", "clients_represented": "clients_represented",
    "cases_referred": "cases_referred", "pro_bono_cases": "pro_bono_hours", "attorneys": "pro_bono_hours",
    "pro_bono": "pro_bono_hours",
}
TABLE_NEEDS = {
    "vacaturs": "relief_by_recognition_class", "beside_vacaturs": "relief_by_recognition_class",
    "not_granted": "motions_decided", "motions_filed": "motions_filed", "removal_avoided": "clients_removal_avoided",
    "removal_avoided_split": "clients_removal_avoided", "pro_bono": "pro_bono_hours",
}


GLOSSARY = [
    ("Clients", "Every count of clients counts people: client ids that carry the same A-number (the same person exported "
                "by two systems, or taken in again under a new id) are one client, counted once."),
    ("Grant rate", "(granted + granted in part) / (granted + granted in part + denied), motions decided in the period. "
                   "Withdrawn and pending motions never enter the denominator."),
    ("Recognition class", "Whether immigration authorities honour a granted relief: a vacatur for a legal defect is recognized; "
                          "vehicles with unsettled law are uncertain; a vacatur for rehabilitation or immigration hardship is "
                          "not recognized (Matter of Pickering)."),
    ("8 CFR 1003.55", "A sentence modification is honoured when filed on or before 25 Oct 2019, entered by then with reliance, "
                      "correcting a clerical error, or granted for a procedural or substantive defect."),
    ("Removal avoided", "Counts clients with removal exposure at intake (proceedings, final order, detention or a removal-ground "
                        "conviction). Confirmed: a favourable immigration outcome after immigration-effective relief. Projected: "
                        "every removal-ground conviction cleared, no outcome yet. Administrative closure is its own, weaker "
                        "category. Counted in the period in which the status was reached."),
    ("Removal-avoided statuses", "Each client with removal exposure has one status, the first that applies. Confirmed and "
                                 "projected: as above. Not avoided: after the relief, removal was ordered or the client was "
                                 "removed. Administrative closure: after the relief, the immigration case was "
                                 "administratively closed, which pauses it without ending it; reported on its own, never "
                                 "as avoided. Partial relief: immigration-effective relief was granted and no immigration "
                                 "outcome is recorded yet, but some conviction flagged as a removal ground is not cleared."),
    ("Time to resolution", "Kaplan-Meier median and 75th percentile in days, counting still-open work as censored at the "
                           "as-of date (a median over closed work alone is biased low; it is shown beside for comparison). "
                           "Units whose clock started between the grant's start and the period's end."),
    ("Pro bono value", "Hours x the hourly rate the program sets for donated time. Leverage: value and hours "
                       "donated from the grant's start to the period's end per dollar of the grant amount."),
]


@dataclass
class GrantReport:
    grant: Grant
    period: Period
    version: DataVersion
    threshold: int
    hourly_rate: float | None
    headline: list[tuple[str, str, str]]  # label, value, what it counts
    deliverables: pd.DataFrame  # strings
    deliverable_progress: pd.Series  # percent of target to date, NaN when suppressed
    tables: list[ReportTable] = field(default_factory=list)
    methods: list[tuple[str, str]] = field(default_factory=list)
    report_date: dt.date = field(default_factory=dt.date.today)
    rate_rules: list[RateRule] = field(default_factory=list)  # which rule each rate followed (docs/reports.md)
    # What the report shows as "not available in these exports" and why, one sentence each.
    not_available: list[str] = field(default_factory=list)


# --- publishing -------------------------------------------------------------------------------

def _count_text(table: SuppressedTable, label) -> str:
    return str(table.display.loc[label])


@dataclass
class _Published:
    """Funder-safe figures for one date range, protected as one linked system: the tables,
    and each headline number as value (NaN when hidden) and what it shows."""

    tables: dict[str, SuppressedTable]
    pro_bono_hours: SuppressedTable
    pro_bono_value: SuppressedTable
    values: dict[str, float]
    displays: dict[str, str]

    def __getattr__(self, key: str) -> SuppressedTable:
        try:
            return self.__dict__["tables"][key]
        except KeyError:
            raise AttributeError(key) from None

    # Tables of the system that the report does not show (not available in these exports).
    not_shown: frozenset[str] = frozenset()

    def _shown(self) -> list[SuppressedTable]:
        return [*(t for key, t in self.tables.items() if key not in self.not_shown),
                *([] if "pro_bono" in self.not_shown else [self.pro_bono_hours, self.pro_bono_value])]

    def reasons_present(self) -> set[str]:
        return set().union(*(t.reasons_present() for t in self._shown()))

    def hidden_counts(self, *more_reasons: pd.DataFrame) -> tuple[int, int, int]:
        """(counts under the threshold, other hidden numbers, all numbers) over every table the
        report shows and ``more_reasons`` (the reasons of tables published beside this system)."""
        small = other = total = 0
        for reasons in [*(t.reasons for t in self._shown()), *more_reasons]:
            reasons = np.asarray(reasons).ravel()
            small += int(np.isin(reasons, [SMALL, SMALL_GROUP]).sum())
            other += int(np.isin(reasons, [COMPLEMENT, REVEALS]).sum())
            total += reasons.size
        return small, other, total


def _publish(scoped: Scoped, threshold: int) -> _Published:
    """Every count of the range in one linked system: a headline that is a table's total, a sum
    of totals or a number shown twice is one entry, so nothing hidden in one place can be
    worked out from another."""
    decisions = scoped.decisions()
    statuses = scoped.removal()
    avoided = statuses[list(REMOVAL_AVOIDED)]
    firms, attorneys = scoped.pro_bono()
    linked = LinkedTables(threshold)
    classes = scoped.decision_classes
    linked.add("vacaturs", decisions[list(classes.of("vacaturs"))], headline=True)
    linked.add("beside", decisions[list(classes.of("beside"))])
    linked.add("not_granted", decisions[list(classes.of("not_granted"))])
    linked.add("filed", scoped.filed(), headline=True)
    linked.add("removal", pd.concat([pd.Series({"avoided": int(avoided.sum())}),
                                     statuses[[k for k in REMOVAL_STATUSES if k != "avoided"]]]))
    linked.prefer_shown(("removal", "avoided"))
    linked.add("removal_avoided", avoided)
    linked.same(("removal", "avoided"), ("removal_avoided", TOTAL_LABEL))
    linked.add_sum("motions_granted", [("vacaturs", TOTAL_LABEL, TOTAL_LABEL), ("beside", TOTAL_LABEL, TOTAL_LABEL)])
    linked.add_sum("motions_decided", [("motions_granted", "n"), ("not_granted", TOTAL_LABEL, "denied")])
    linked.add_sum("sentence_modifications_granted", [("beside", TOTAL_LABEL, "sentence_modification_honoured"),
                                                      ("beside", TOTAL_LABEL, "sentence_modification_not_honoured")])
    clients = scoped.clients()
    for key, count in clients.items():
        linked.add(key, pd.Series([int(round(count))], index=["n"]), with_margins=False, headline=True)
    linked.add("pro_bono_cases", firms["cases"].astype("int64"))
    linked.add("attorneys", pd.Series([int(round(attorneys))], index=["n"]), with_margins=False)
    tables = linked.publish()

    cases = tables["pro_bono_cases"]
    hours = suppress_like(firms["hours"].astype(float), cases, unit="cases", kind="hours")
    value = suppress_like(firms["value_usd"].astype(float), cases, unit="cases", kind="usd")
    entries = {  # headline key -> (table, label)
        "clients_screened": ("clients_screened", "n"),
        "clients_represented": ("clients_represented", "n"),
        "cases_referred": ("cases_referred", "n"),
        "motions_filed": ("filed", TOTAL_LABEL),
        "motions_decided": ("motions_decided", "n"),
        "motions_granted": ("motions_granted", "n"),
        "vacaturs_granted": ("vacaturs", (TOTAL_LABEL, TOTAL_LABEL)),
        "vacaturs_recognized": ("vacaturs", (TOTAL_LABEL, "vacatur_recognized")),
        "offense_reductions_granted": ("beside", (TOTAL_LABEL, "offense_reduction")),
        "sentence_modifications_granted": ("sentence_modifications_granted", "n"),
        "clients_removal_avoided": ("removal", "avoided"),
        "clients_removal_avoided_confirmed": ("removal_avoided", "confirmed"),
    }
    values = {key: float(tables[t].numeric.loc[label]) for key, (t, label) in entries.items()}
    displays = {key: _count_text(tables[t], label) for key, (t, label) in entries.items()}
    values["pro_bono_hours"] = float(hours.numeric.loc[TOTAL_LABEL])
    displays["pro_bono_hours"] = str(hours.display.loc[TOTAL_LABEL])
    return _Published(tables, hours, value, values, displays)


def _table(key: str, title: str, note: str, table: SuppressedTable, labels: dict[str, str] | None = None,
           index_name: str = "") -> ReportTable:
    display = table.display if isinstance(table.display, pd.DataFrame) else table.display.to_frame("Count")
    numeric = table.numeric if isinstance(table.numeric, pd.DataFrame) else table.numeric.to_frame("Count")
    if isinstance(table.display, pd.DataFrame):  # vehicles with nothing in this table say nothing
        keep = ~(numeric == 0).all(axis=1) | (numeric.index == TOTAL_LABEL)
        display, numeric = display[keep], numeric[keep]
    if labels:
        display, numeric = display.rename(columns=labels, index=labels), numeric.rename(columns=labels, index=labels)
    display = display.reset_index(names=index_name or "")
    display.columns = [str(c) for c in display.columns]
    return ReportTable(key, title, note, display.astype(str), numeric, codes={v: k for k, v in (labels or {}).items()})


def _not_available_table(table: ReportTable, sentence: str) -> ReportTable:
    """The table as the report shows it when the exports lack a column it needs: one line
    saying so, and the sentence naming the columns, instead of a table of zeros."""
    display = pd.DataFrame({table.display.columns[0] or "": ["All"], "Count": [NOT_AVAILABLE]})
    return ReportTable(table.key, table.title, sentence, display)


def _time_to_resolution(scoped: Scoped, threshold: int, available: Availability = Availability()) -> ReportTable:
    rows = [f"{label} ({unit})" for label, unit in TTR_MEASURES.values()]
    unit_names = [unit for _, unit in TTR_MEASURES.values()]
    exact = scoped.time_to_resolution().reindex(list(TTR_MEASURES)).fillna({"units": 0, "resolved": 0})
    exact = exact.astype({"units": "int64", "resolved": "int64"}).set_axis(rows)
    # Each measure counts a different unit: protected one by one, and a measure with fewer
    # than `threshold` units (or resolved units) shows no statistic, saying why.
    units_shown = suppress(exact["units"].astype("int64"), threshold, with_margins=False)
    resolved_shown = suppress(exact["resolved"].astype("int64"), threshold, with_margins=False)
    hidden = (units_shown.suppressed_mask | resolved_shown.suppressed_mask).to_numpy()
    withheld = [marker(SMALL_GROUP, threshold, f"{'resolved ' if not u_hidden else ''}{unit}")
                for unit, u_hidden in zip(unit_names, units_shown.suppressed_mask.to_numpy())]

    def days(values: pd.Series, counted: pd.Series, when_none_resolved: str) -> list[str]:
        # No unit to measure is "not available"; units none (or too few) of which are resolved
        # yet leave a Kaplan-Meier quantile "not reached".
        return [why if is_hidden else ("not available" if not n else when_none_resolved) if np.isnan(v) else format_count(v)
                for v, n, is_hidden, why in zip(values, counted, hidden, withheld)]

    display = pd.DataFrame({
        "Measure (unit)": rows,
        "Units": units_shown.display.to_numpy(),
        "Resolved": resolved_shown.display.to_numpy(),
        "Median (Kaplan-Meier), days": days(exact.km_median, exact.units, "not reached"),
        "75th percentile (Kaplan-Meier), days": days(exact.km_p75, exact.units, "not reached"),
        "Median of closed only (biased low), days": days(exact.closed_median, exact.resolved, "not available"),
    })
    # A clock whose dates the exports do not carry measures nothing: said so, not "no unit".
    lacking = [(row, measure) for row, measure in zip(rows, TTR_MEASURES) if not available.has(measure)]
    for row, _ in lacking:
        display.loc[display["Measure (unit)"] == row, display.columns[1:]] = NOT_AVAILABLE
    return ReportTable("time_to_resolution", "Time to resolution",
                       "Kaplan-Meier estimates: the days until half (or three quarters) of the units are resolved, "
                       "counting work still open at the as-of date as unresolved so far (censored) instead of leaving "
                       "it out, which would make the times look shorter. "
                       f"Units whose clock started from {scoped.grant.start} to the period's end. "
                       "'Not reached': fewer than half (a quarter) of the units are resolved yet. "
                       "'Not available': no unit to measure." + "".join(f" {s}" for s in available.sentences(lacking)),
                       display)


@dataclass(frozen=True)
class RateRule:
    """Which rule a rate of the report followed: ``what`` the rate is ("the grant rate", "% of
    target: Motions filed"), ``shown`` (None: not available in the exports), and what was hidden."""
    what: str
    shown: bool | None
    hidden: str = ""  # the numbers the rate would reveal, when withheld


def _rate(label: str, numerator: tuple[float, str], denominator: tuple[float, str], threshold: int,
          percent: bool = True, empty: str = "–", decimals: int = 1) -> tuple[str, float, RateRule]:
    """A rate shown under the written rule (docs/reports.md): shown exactly when its numerator
    and denominator are; the rule that applied is returned for the methods page."""
    rate = ratio(numerator[0], denominator[0], threshold=threshold, percent=percent, undefined=empty, decimals=decimals)
    shown, value = str(rate.display.iloc[0]), float(rate.numeric.iloc[0])
    if rate.any_suppressed:
        return shown, value, RateRule(label, False, " and ".join(name for (v, name) in (numerator, denominator) if np.isnan(v)))
    return shown, value, RateRule(label, True)


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _as_in_sentence(name: str) -> str:
    """A deliverable's name inside a sentence: "Motions filed" -> "motions filed"; "DACA clients" stays."""
    return name[:1].lower() + name[1:] if name[1:2].islower() else name


def rates_text(rules: list[RateRule]) -> str:
    """The methods entry on rates: the rule once, then which rates it showed, withheld or could not give."""
    def named(group: list[RateRule]) -> list[str]:
        targets = [_as_in_sentence(r.what.removeprefix(TARGET_SHARE)) for r in group if r.what.startswith(TARGET_SHARE)]
        others = ["the " + r.what[:1].lower() + r.what[1:] for r in group if not r.what.startswith(TARGET_SHARE)]
        return others[:1] + ([f"the share of the target reached for {_listed(targets)}"] if targets else []) + others[1:]

    text = ["A rate is shown only when both numbers it divides are shown: otherwise it would give away the hidden one."]
    if shown := named([r for r in rules if r.shown]):
        text.append(f"Shown here: {'; '.join(shown)}.")
    for rule in (r for r in rules if r.shown is False):
        text.append(f"Withheld: {named([rule])[0]}, because {rule.hidden} is hidden and the rate would reveal it.")
    if missing := named([r for r in rules if r.shown is None]):
        text.append(f"Not available in these exports: {'; '.join(missing)}.")
    return " ".join(text)


TARGET_SHARE = "% of target: "


def build_report(grant: Grant, period: Period, version: DataVersion, threshold: int) -> GrantReport:
    scope = Scope(Role.PROGRAM_MANAGER, "pcr report")  # exact counts; disclosure control is applied here
    access = DataAccess(scope, version.db)
    in_period = Scoped(access, grant, period.start, period.end)
    to_date = Scoped(access, grant, grant.start, period.end)
    now = _publish(in_period, threshold)
    cumulative = _publish(to_date, threshold)
    available = availability.read(version.db)
    now.not_shown = frozenset(key for key, metric in LINKED_NEEDS.items() if not available.has(metric))
    shown_not_available: list[tuple[str, str]] = []  # (what, metric) the report says it cannot give
    rate = access.query("SELECT any_value(hourly_rate_usd) FROM {mart_pro_bono}").iloc[0, 0]
    hourly_rate = float(rate) if rate is not None and not pd.isna(rate) else None

    grant_rate, _, grant_rate_rule = _rate(
        "Grant rate", (now.values["motions_granted"], "motions granted"), (now.values["motions_decided"], "motions decided"),
        threshold, empty="no decisions")
    if not available.has("grant_rate"):
        grant_rate, grant_rate_rule = NOT_AVAILABLE, RateRule("Grant rate", None)
    rate_rules = [grant_rate_rule]
    headline = [
        ("Clients represented", now.displays["clients_represented"], "distinct clients"),
        ("Clients screened", now.displays["clients_screened"], "distinct clients, intake in the period"),
        ("Motions filed", now.displays["motions_filed"], "motions"),
        ("Motions decided", now.displays["motions_decided"], "motions granted, granted in part or denied"),
        ("Grant rate", grant_rate, "granted / decided"),
        ("Vacaturs granted", now.displays["vacaturs_granted"], "motions, all recognition classes"),
        ("Removal avoided", now.displays["clients_removal_avoided"], "clients, confirmed + projected"),
        ("Pro bono hours", now.displays["pro_bono_hours"], "hours"),
        ("Value of donated time", str(now.pro_bono_value.display.loc[TOTAL_LABEL]),
         f"at ${hourly_rate:,.0f} an hour" if hourly_rate else "US dollars"),
    ]
    shown_not_available += [(label, HEADLINE_NEEDS[label]) for label, _, _ in headline
                            if not available.has(HEADLINE_NEEDS[label])]
    headline = [(label, value if available.has(HEADLINE_NEEDS[label]) else NOT_AVAILABLE, unit)
                for label, value, unit in headline]

    progress, rows = {}, []
    for d in grant.deliverables:
        metric = METRICS[d.metric]
        if not available.has(d.metric):
            shown_not_available.append((f"deliverable {d.name}", d.metric))
            rate_rules.append(RateRule(TARGET_SHARE + d.name, None))
            progress[d.name] = float("nan")
            rows.append({"Deliverable": d.name, "Unit": metric.unit, "This period": NOT_AVAILABLE,
                         "Grant to date": NOT_AVAILABLE, "Target": format_count(d.target), "% of target": NOT_AVAILABLE})
            continue
        shown, value, rule = _rate(TARGET_SHARE + d.name, (cumulative.values[d.metric], f"{_as_in_sentence(d.name)} to date"),
                                   (d.target, "the target"), threshold)
        rate_rules.append(rule)
        progress[d.name] = value
        rows.append({"Deliverable": d.name, "Unit": metric.unit, "This period": now.displays[d.metric],
                     "Grant to date": cumulative.displays[d.metric], "Target": format_count(d.target), "% of target": shown})
    deliverables = pd.DataFrame(rows, columns=["Deliverable", "Unit", "This period", "Grant to date", "Target", "% of target"])

    tables = [
        _table("vacaturs", "Vacaturs granted by vehicle and recognition class",
               "Motions granted in the period, by decision date, that vacate a conviction. Reductions and sentence "
               "modifications are in the next table, never added into vacaturs.",
               now.vacaturs, in_period.decision_classes.labels, "Vehicle"),
        _table("beside_vacaturs", "Offense reductions, sentence modifications and rehabilitative relief (beside vacaturs)",
               "Motions granted in the period whose relief does not vacate a conviction.",
               now.beside, in_period.decision_classes.labels, "Vehicle"),
        _table("not_granted", "Motions denied or withdrawn in the period, by vehicle",
               "By decision (withdrawal) date. Withdrawn motions are not decided and stay out of the grant rate.",
               now.not_granted, in_period.decision_classes.labels, "Vehicle"),
        _table("motions_filed", "Motions filed in the period, by vehicle", "By filing date.", now.filed, index_name="Vehicle"),
        _table("removal_avoided", "Removal avoided (clients)",
               "Clients with removal exposure at intake, by the status reached in the period.", now.removal,
               REMOVAL_STATUSES, "Status"),
        _table("removal_avoided_split", "Removal avoided: confirmed and projected (clients)",
               "The first row of the table above, split.", now.removal_avoided, REMOVAL_AVOIDED, "Status"),
        _time_to_resolution(in_period, threshold, available),
        _pro_bono_table(now, grant, cumulative, hourly_rate, threshold, rate_rules),
    ]
    for i, table in enumerate(tables):
        if (metric := TABLE_NEEDS.get(table.key)) and not available.has(metric):
            tables[i] = _not_available_table(table, available.sentence(table.title, metric))
            shown_not_available.append((table.title, metric))
    shown_not_available += [(f"time to resolution, {label[0].lower()}{label[1:]}", measure)
                            for measure, (label, _) in TTR_MEASURES.items() if not available.has(measure)]
    removal_lacking = available.sentence(demographics.REMOVAL_AVOIDED, "clients_removal_avoided")
    breakdowns = demographics.report_tables(in_period, grant.demographics, threshold, now.values, removal_lacking)
    tables += breakdowns
    if breakdowns and removal_lacking:
        shown_not_available.append(("removal avoided in the demographic tables", "clients_removal_avoided"))
    methods = [(m.label, f"{m.definition} Counts {m.unit}.") for m in METRICS.values()] + GLOSSARY
    not_available = available.sentences(shown_not_available)
    if not_available:
        methods.append((NOT_AVAILABLE[0].upper() + NOT_AVAILABLE[1:],
                        "A number that needs a column no export carries is not counted as 0. " + " ".join(not_available)))
    methods.append(("Small-cell suppression",
                    _suppression_text(threshold, now, [t.reasons for t in breakdowns if t.reasons is not None])))
    methods.append(("Rates", rates_text(rate_rules)))
    return GrantReport(grant, period, version, threshold, hourly_rate, headline, deliverables,
                       pd.Series(progress, dtype=float), tables, methods, rate_rules=rate_rules,
                       not_available=not_available)


def _suppression_text(threshold: int, now: _Published, more_reasons: list[pd.DataFrame]) -> str:
    """The methods entry on what the report hides: the rule, what each marker present means,
    and how many of the period's numbers are hidden."""
    if threshold <= 1:
        return "The suppression threshold is 1: no number is hidden."
    small, other, total = now.hidden_counts(*more_reasons)
    present = set().union(now.reasons_present(), *(set(np.asarray(r).ravel()) - {""} for r in more_reasons))
    return (f"Counts of people and cases from 1 to {threshold - 1} are hidden, and further numbers are hidden so "
            "that no total, sum or rate can reveal them by subtraction; zeros are shown. "
            # Each marker quoted: "fewer than 11 cases" starts its sentence in lower case otherwise.
            + " ".join(f'"{line.split(": ", 1)[0]}": {line.split(": ", 1)[1]}' if ": " in line else line
                       for line in legend(threshold, present))
            + f" In this report's period tables, {small + other:,} of {total:,} numbers "
            f"({100 * (small + other) / total if total else 0:.1f}%) are hidden: {small:,} "
            f"{'describes' if small == 1 else 'describe'} fewer than {threshold} people or cases, {other:,} "
            f"{'is' if other == 1 else 'are'} withheld to protect them.")


def _pro_bono_table(now: _Published, grant: Grant, cumulative: _Published, hourly_rate: float | None,
                    threshold: int, rate_rules: list[RateRule]) -> ReportTable:
    display = pd.DataFrame({
        "Partner firm": now.pro_bono_cases.display.index.astype(str),
        "Cases with time": now.pro_bono_cases.display.to_numpy(),
        "Hours": now.pro_bono_hours.display.to_numpy(),
        "Value of donated time": now.pro_bono_value.display.to_numpy(),
    })
    note = f"Attorneys participating in the period: {now.attorneys.display.loc['n']}."
    if grant.amount_usd:
        hours = float(cumulative.pro_bono_hours.numeric.loc[TOTAL_LABEL])
        value = float(cumulative.pro_bono_value.numeric.loc[TOTAL_LABEL])
        per_dollar, _, rule = _rate("Donated time per grant dollar", (value, "the value of donated time to date"),
                                    (grant.amount_usd, "the grant amount"), threshold, percent=False, empty="not available",
                                    decimals=2)
        per_thousand, _, _ = _rate("Hours per $1,000", (1000 * hours, "hours to date"), (grant.amount_usd, "the grant amount"),
                                   threshold, percent=False, empty="not available")
        rate_rules.append(rule)
        dollars = per_dollar if per_dollar == WITHHELD else f"${per_dollar}"
        note += (f" Leverage, grant start to period end, per grant dollar (grant amount {format_measure(grant.amount_usd, 'usd')}): "
                 f"{dollars} of donated time per dollar; {per_thousand} hours per $1,000.")
    return ReportTable("pro_bono", "Pro bono time by partner firm", note, display)
