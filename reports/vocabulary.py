"""The words and colours shown to people, in one place for the dashboards and the reports.

- Decision classes (the recognition classes of a granted motion, denied, withdrawn) and their
  words are the seed reference.decision_classes (seeds/decision_classes.csv), read from the
  published database by ``read``: a program re-words or re-classifies there, nowhere else.
- Every other code a mart holds (outcomes, relief kinds, removal-avoided statuses, case
  statuses, time-to-resolution measures and groups) and every column a page or report shows
  has its words here: ``TERMS`` (codes) and ``COLUMNS`` (column names), each a label and a help
  text that follow docs/glossary.md.
- ``COLOURS``: one colour per outcome, class and status, the same on every page, role and
  report. The Okabe-Ito palette, which readers with any common colour-vision deficiency can
  tell apart: favourable results in greens and blues, adverse ones in vermillion (and nothing
  else is), no effect in greys; administrative closure is reddish purple.
- ``number``: how a number reads (thousands separators, whole hours without ".0", dollars).

``Vocabulary`` (``read(db).vocabulary()``) joins the seed's words to these: ``label``,
``help`` and ``colour`` of a code or a column name. No Streamlit here: ``pcr report`` uses it too."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from access.reader import DataUnavailable, read_published

RELATION = "reference.decision_classes"


@dataclass(frozen=True)
class Term:
    label: str
    help: str = ""
    missing: str = ""  # what an empty cell of this column says (else ``MISSING``)


MISSING = "–"  # an empty cell whose column says nothing more specific
NOT_REACHED = "not reached yet"


# Codes the marts hold, other than the decision classes (whose words are the seed's).
TERMS: dict[str, Term] = {
    # state-court outcomes of a motion (fct_motions.outcome)
    "granted": Term("granted", "The court granted the motion in full."),
    "granted_in_part": Term("granted in part", "The court granted part of the motion; counted as granted in the grant rate."),
    "pending": Term("pending", "Filed and not yet decided; never in a grant rate's denominator."),
    # relief kinds (granted motions), and the relief mart's one sentence-modification class
    "vacatur": Term("vacatur", "A granted motion whose relief vacates a conviction, whatever its recognition class."),
    "sentence_modification": Term("sentence modification",
                                  "A granted change of sentence; honoured for immigration only under one of the "
                                  "conditions of 8 CFR 1003.55. Reported beside vacaturs, never added into them."),
    # removal-avoided statuses (mart_removal_avoided.removal_avoided_status), counting clients
    "avoided": Term("removal avoided (confirmed + projected)",
                    "Clients whose removal was avoided, confirmed by an immigration outcome or projected."),
    "confirmed": Term("confirmed", "After immigration-effective relief, a favourable immigration outcome: proceedings "
                                   "terminated, relief from removal granted, released without a removal order, status kept."),
    "projected": Term("projected", "Every conviction that was a ground of removal is cleared by immigration-effective "
                                   "relief; no immigration outcome recorded yet."),
    "administrative_closure": Term("administrative closure", "The immigration case was administratively closed after the "
                                                             "relief: its own, weaker category, not removal avoided."),
    "partial_relief": Term("partial relief", "Immigration-effective relief, no outcome yet, but some conviction that is a "
                                             "ground of removal is not cleared."),
    # One label per status on every page, download and report; short enough for a table's header.
    "none_yet": Term("no effective relief yet (open)", "No immigration-effective relief yet, while a motion is "
                                                       "pending or a case is open."),
    "no_effective_relief": Term("no effective relief (closed)", "No immigration-effective relief, no motion pending and "
                                                                "no case open."),
    "not_avoided": Term("not avoided", "Removal ordered, or the client removed, after the relief."),
    # case status
    "open": Term("open", "The case is not closed."),
    "closed": Term("closed", "The case is closed."),
    # time-to-resolution measures (mart_time_to_resolution.measure)
    "referral_to_decision": Term("referral → state-court decision",
                                 "Days from the case's referral to a partner firm to the decision of the latest motion of "
                                 "each re-filing chain (one unit per chain)."),
    "intake_to_decision": Term("intake → state-court decision",
                               "Days from the case's intake to the decision of the latest motion of each re-filing chain "
                               "(one unit per chain)."),
    "filing_to_decision": Term("filing → decision", "Days from a motion's filing to its decision (one unit per filed motion)."),
    "decision_to_immigration_outcome": Term("relief → immigration outcome",
                                            "Days from the client's first immigration-effective relief to the immigration "
                                            "outcome that decides the client's status (one unit per client)."),
    # groups of the marts that are not a value of the dimension
    "all": Term("all", "Every unit in the visitor's scope."),
    "(none)": Term("not recorded", "The export recorded no value for this."),
    "none": Term("no date yet", "No relief and no immigration outcome yet, so no date the status was reached."),
    "Total": Term("Total", "The sum of the rows (or columns)."),
    # the six export tables (raw.load_manifest.file_kind)
    "clients": Term("clients"), "cases": Term("cases"), "convictions": Term("convictions"), "motions": Term("motions"),
    "immigration_events": Term("immigration events"), "time_entries": Term("pro bono time entries"),
}

# Why ingest quarantined a row (raw.quarantine.rules, ingest/transform.py), in plain words.
QUARANTINE_RULES: dict[str, Term] = {
    "missing_required": Term("a required value is blank"),
    "bad_date": Term("not a date in the layout's format"),
    "future_date": Term("a date in the future"),
    "date_order": Term("dates out of order", "A later step dated before an earlier one (e.g. a decision before the filing)."),
    "decided_without_date": Term("decided without a decision date"),
    "bad_number": Term("not a number"),
    "bad_hours": Term("hours not between 0 and 24"),
    "bad_boolean": Term("not yes or no"),
    "bad_value": Term("a value the layout's vocabulary does not map"),
    "unknown_vehicle": Term("a vehicle not in the vehicle taxonomy"),
    "bad_a_number": Term("not a valid A-number"),
    "bad_key": Term("not a valid id"),
    "impossible_age": Term("an impossible age at intake"),
    "damaged_cell": Term("a damaged cell (a null character)"),
    "oversized_cell": Term("a cell too long to be a value"),
    "conflicting_duplicate": Term("the same id twice with different values"),
}

# Column names the marts and pages use, as a header says them.
COLUMNS: dict[str, Term] = {
    "vehicle": Term("vehicle", "The statute and subsection the motion was brought under."),
    "county": Term("county", "County of the convicting court."),
    "partner_firm": Term("partner firm", "The firm the case was referred to."),
    "recognition class": Term("recognition class",
                              "How immigration authorities treat a vacatur under this vehicle: recognized (a legal defect, "
                              "honoured, Matter of Pickering), uncertain (unsettled law) or another kind of relief "
                              "(offense reduction, sentence modification, rehabilitative: no immigration effect)."),
    "vehicle_recognition_class": Term("recognition class",
                                      "How immigration authorities treat relief under this vehicle (the vehicle taxonomy)."),
    "effective_recognition_class": Term("class of the granted relief",
                                        "The recognition class of the granted motion: the vehicle's class, corrected by the "
                                        "recorded ground (Pickering rule)."),
    "relief_kind": Term("kind of relief", "Vacatur, offense reduction, sentence modification or rehabilitative."),
    "outcome": Term("outcome", "The state-court outcome of the motion."),
    "removal_avoided_status": Term("status", "The client's removal-avoided status, the first that applies (glossary)."),
    "status": Term("status", "The client's removal-avoided status, the first that applies (glossary)."),
    "case_status": Term("case status", "Open or closed."),
    "clients": Term("clients", "Distinct clients (people: one A-number, one client)."),
    "count": Term("count"),
    "decision_quarter": Term("quarter of decision", "The calendar quarter of the decision date."),
    "status_quarter": Term("quarter the status was reached", "Quarter of the immigration outcome, else of the relief."),
    "outcome_quarter": Term("quarter", "Outcomes in the quarter of the decision, pending motions in the quarter of filing."),
    "granted_total": Term("granted (incl. in part)", "Motions granted or granted in part."),
    "filed": Term("filed", "Motions with a filing date (in the period of the filing date); motions without one are "
                           "planned, not filed."),
    "decided": Term("decided", "Motions granted, granted in part or denied; withdrawn and pending ones are not decided."),
    "grant rate": Term("grant rate", "(granted + granted in part) ÷ (granted + granted in part + denied). Withdrawn and "
                                     "pending motions are never in the denominator."),
    "grant_rate": Term("grant rate", "(granted + granted in part) ÷ (granted + granted in part + denied). Withdrawn and "
                                     "pending motions are never in the denominator."),
    "motions": Term("motions", "Motions counted on this row."),
    "vacaturs (all classes)": Term("vacaturs (all classes)", "Granted vacaturs of every recognition class: recognized, "
                                                             "uncertain and not recognized."),
    "all granted relief": Term("all granted relief", "Every granted motion: vacaturs, offense reductions, sentence "
                                                     "modifications and rehabilitative relief. Not a vacatur count."),
    "change": Term("change", "This year's number minus last year's."),
    "hours": Term("hours", "Pro bono hours partner-firm attorneys logged."),
    "value_usd": Term("value of donated time", "Hours × the hourly rate the program sets for donated time."),
    "cases_with_time": Term("cases with time", "Distinct cases with pro bono time logged."),
    "attorneys_participating": Term("attorneys participating", "Distinct attorneys who logged time."),
    "hours_per_attorney": Term("hours per attorney", "Hours ÷ attorneys who logged time."),
    "hours_per_case": Term("hours per case", "Hours ÷ cases with time logged."),
    "measure": Term("measure", "Which clock: from what event to what decision or outcome."),
    "units": Term("units", "What the measure counts (chains, motions or clients), open ones included."),
    "n": Term("units", "What the measure counts (chains, motions or clients), open ones included."),
    "events": Term("resolved", "Units that reached the end of the clock."),
    "censored": Term("still open", "Units still open at the as-of date (counted as censored, not dropped)."),
    "km_median_days": Term("median",
                           "Kaplan–Meier: the first day at which half of the units are resolved, open ones counted as censored "
                           "(not reached yet: fewer than half are resolved).", NOT_REACHED),
    "km_median_lower_days": Term("95% from", "Lower end of the 95% confidence interval of the Kaplan–Meier median.",
                                 NOT_REACHED),
    "km_median_upper_days": Term("95% to",
                                 "Upper end of the 95% confidence interval of the median (not reached yet: the curve's "
                                 "upper band has not come down to 50%).", NOT_REACHED),
    "km_p75_days": Term("75th percentile",
                        "Kaplan–Meier: the first day at which three quarters of the units are resolved.", NOT_REACHED),
    "closed_only_median_days": Term("closed-only median",
                                    "The median over resolved units only: it ignores open work and is biased low; shown "
                                    "for comparison.", "no closed work"),
    "t_days": Term("days", "Days since the start of the clock."),
    "survival": Term("share still unresolved", "Kaplan–Meier estimate of the share of units not yet resolved."),
    "at_risk": Term("units at risk", "Units neither resolved nor censored before this day."),
    "motion_id": Term("motion", "The motion's id in the export."),
    "case_id": Term("case", "The case's id in the export."),
    "attorney_id": Term("attorney", "The attorney's id in the export.", "not recorded"),
    "filing_date": Term("filing date"),
    "hearing_date": Term("hearing date", "The next or last hearing recorded.", "none recorded"),
    "days_open": Term("days open", "Days from filing to the as-of date of the data."),
    "referral_date": Term("referral date", "The day the case was referred to a partner firm."),
    "intake_date": Term("intake date"),
    "decision_date": Term("decision date"),
    "days_since_referral": Term("days since referral", "Days from referral to the as-of date of the data, with no motion filed."),
    "intake_cohort": Term("intake year", "The calendar year of the case's intake."),
    "dimension_value": Term("group"),
    # data quality
    "run_id": Term("run"),
    "started_at": Term("started (UTC)"),
    "finished_at": Term("finished (UTC)"),
    "files_loaded": Term("files loaded", "Export files loaded by this run."),
    "files_already_loaded": Term("files already loaded", "Export files skipped: the same file (checksum) was loaded before."),
    "rows_loaded": Term("rows loaded"),
    "rows_quarantined": Term("rows quarantined", "Rows set aside with a reason instead of loaded."),
    "expectations": Term("checks run", "Great Expectations checks run on the data."),
    "blocking_failures": Term("blocking failures", "Checks whose failure stops publishing."),
    "warnings": Term("warnings", "Checks that failed without stopping publishing."),
    "suite": Term("check group", "Loaded exports: the exports as loaded, before any metric. Published tables: the "
                                 "tables the pages and reports read. Privacy: nothing in them identifies a client. "
                                 "Numbers collapsed to 0: a number that had values before and has none now."),
    "dataset": Term("table checked"),
    "expectation": Term("check"),
    "description": Term("fails when", "The check, said as what would make it fail."),
    "severity": Term("severity", "Blocking: a failure stops publishing. Warning: it is reported only."),
    "success": Term("met", "Whether the data met the check."),
    "element_count": Term("rows checked"),
    "unexpected_count": Term("rows not meeting it"),
    "error": Term("error", "The check could not be run: why."),
    "export": Term("export", "Which of the six export tables."),
    "latest_file": Term("latest file"),
    "exported_at": Term("exported", "Export date of the latest file."),
    "last_loaded_at": Term("last loaded (UTC)"),
    "days_since_export": Term("days since export"),
    "loads": Term("files loaded"),
    "rule": Term("rule", "Why the row was quarantined."),
    "rows": Term("rows"),
    "load_id": Term("load"),
    "source_file": Term("file"),
    "line": Term("line", "Line of the file (the header is line 1)."),
    "file_kind": Term("export"),
    "reason": Term("reason"),
    "raw_values": Term("values as read", "Names, A-numbers and dates of birth redacted."),
}

# The groups of checks of the publishing gate (expectations/README.md), and words of the checked
# datasets' names that only the project uses.
CHECK_GROUPS = {"staged": "loaded exports", "marts": "published tables", "privacy": "privacy",
                "collapse": "numbers collapsed to 0"}
CHECK_WORDS = {"km": "Kaplan-Meier", "mart": "published table", "vs": "against"}

# One colour per code (Okabe-Ito; greys for no effect and open work). Denied and not avoided
# are the only vermillion; granted in part and sentence modifications are far from it in hue.
OKABE_ITO = {
    "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73", "yellow": "#F0E442",
    "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7", "black": "#000000",
}
_O = OKABE_ITO
COLOURS: dict[str, str] = {
    # outcomes
    "granted": _O["bluish_green"], "granted_in_part": _O["sky_blue"], "denied": _O["vermillion"],
    "withdrawn": "#BBBBBB", "pending": _O["orange"],
    # decision classes and relief kinds
    "vacatur": _O["blue"], "vacatur_recognized": _O["blue"], "uncertain": _O["sky_blue"],
    "not_recognized": _O["reddish_purple"], "offense_reduction": _O["bluish_green"],
    "sentence_modification": _O["yellow"], "sentence_modification_honoured": _O["yellow"],
    "sentence_modification_not_honoured": "#555555", "rehabilitative": "#999999",
    # removal-avoided statuses ("avoided", confirmed + projected, is drawn as its two parts: no colour of its own)
    "confirmed": _O["bluish_green"], "projected": _O["sky_blue"],
    "administrative_closure": _O["reddish_purple"], "partial_relief": _O["yellow"],
    "none_yet": "#BBBBBB", "no_effective_relief": "#777777", "not_avoided": _O["vermillion"],
    # a year against the year before
    "this_year": _O["blue"], "last_year": "#9CC7E4",
    # measures drawn on their own
    "hours": _O["blue"], "value_usd": _O["bluish_green"], "motions": _O["blue"], "clients": _O["blue"],
    "deliverables": _O["blue"],
}
# A series with no meaning of its own (a vehicle, a firm, a group of a curve): drawn in the
# palette's order, never in vermillion (which means adverse).
SERIES_COLOURS = (_O["blue"], _O["orange"], _O["bluish_green"], _O["reddish_purple"], _O["sky_blue"], "#555555",
                  _O["yellow"], _O["black"])
NEUTRAL = "#777777"


def colour(code) -> str:
    return COLOURS.get(str(code), NEUTRAL)


def series_colour(i: int) -> str:
    return SERIES_COLOURS[i % len(SERIES_COLOURS)]


# Past the palette's length a series repeats a colour: its line is then dashed, dotted, ... so no
# two lines of a chart look alike.
SERIES_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def series_dash(i: int) -> str:
    return SERIES_DASHES[(i // len(SERIES_COLOURS)) % len(SERIES_DASHES)]


def number(value, kind: str = "count", *, missing: str = "–") -> str:
    """How a number reads on a page or in a report: counts and days whole with thousands
    separators; hours whole unless fractional (41, 41.5); money in whole dollars ($20,500);
    a share as a percentage with one decimal; ``missing`` for no number (NaN / None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    value = float(value)
    if kind == "percent":
        return f"{value * 100:.1f}%"
    if kind == "money":
        return f"${value:,.0f}"
    if kind in ("hours", "ratio"):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"
    return f"{round(value):,}"


@dataclass(frozen=True)
class DecisionClasses:
    labels: dict[str, str]  # class -> what the report calls it, in report order
    tables: dict[str, tuple[str, ...]]  # report table (vacaturs, beside, not_granted) -> its classes, in order
    short_labels: dict[str, str]  # class -> what a dashboard's column header or chart legend calls it
    descriptions: dict[str, str] = field(default_factory=dict)  # class -> what it holds, in plain words (help text)

    def of(self, table: str) -> tuple[str, ...]:
        return self.tables.get(table, ())

    def vocabulary(self) -> "Vocabulary":
        return Vocabulary(self)


@dataclass(frozen=True)
class Vocabulary:
    """The words of every code and column: the seed's for decision classes, ``TERMS`` and
    ``COLUMNS`` for the rest; a code it does not know (a vehicle, a county, a firm) reads as it is."""
    classes: DecisionClasses

    def label(self, code) -> str:
        key = str(code)
        if key in self.classes.short_labels:
            return self.classes.short_labels[key]
        term = TERMS.get(key) or COLUMNS.get(key)
        return term.label if term else key

    @staticmethod
    def rule(code) -> str:
        """A quarantine rule in words (an unknown one with its underscores as spaces)."""
        term = QUARANTINE_RULES.get(str(code))
        return term.label if term else str(code).replace("_", " ")

    @staticmethod
    def check(expectation) -> str:
        """A Great Expectations check's name or a checked dataset's in words: expect_column_values_to_be_null ->
        column values to be null, km_curves -> Kaplan-Meier curves."""
        words = str(expectation).removeprefix("expect_").split("_")
        return " ".join(CHECK_WORDS.get(word, word) for word in words)

    @staticmethod
    def suite(name) -> str:
        """A group of checks (a Great Expectations suite) as docs/ call what it checks: marts -> published tables."""
        return CHECK_GROUPS.get(str(name), str(name))

    @classmethod
    def validation(cls, suite, dataset) -> str:
        """A validation, which Great Expectations names suite.dataset, in words: published tables: Kaplan-Meier curves."""
        return f"{cls.suite(suite)}: {cls.check(dataset)}"

    def header(self, column) -> str:
        """A column's header: its words as a column, else as a code (a column per outcome)."""
        key = str(column)
        return COLUMNS[key].label if key in COLUMNS else self.label(key)

    def help(self, code) -> str:
        key = str(code)
        if key in self.classes.descriptions:
            return self.classes.descriptions[key]
        term = COLUMNS.get(key) or TERMS.get(key)
        return term.help if term else ""

    @staticmethod
    def missing(column) -> str:
        """What an empty cell of ``column`` says: never a blank that reads as 0, never "None"."""
        term = COLUMNS.get(str(column))
        return term.missing if term and term.missing else MISSING

    def words(self) -> dict[str, str]:
        """code -> label for every code and column name known."""
        return {**{k: t.label for k, t in COLUMNS.items()}, **{k: t.label for k, t in TERMS.items()},
                **self.classes.short_labels}

    @staticmethod
    def colour(code) -> str:
        return colour(code)


def read(db: Path | str) -> DecisionClasses:
    try:
        frame = read_published(Path(db), f"SELECT decision_class, report_table, label, short_label, description FROM {RELATION} "
                                         "ORDER BY sort_order")
    except (duckdb.CatalogException, duckdb.BinderException) as error:  # a database built before the seed (or its column) existed
        raise DataUnavailable(f"{db} has no {RELATION} as this version reads it: rebuild it with `pcr run` ({error})") from None
    tables: dict[str, tuple[str, ...]] = {}
    for code, table in zip(frame["decision_class"], frame["report_table"]):
        tables[table] = (*tables.get(table, ()), code)
    return DecisionClasses(dict(zip(frame["decision_class"], frame["label"])), tables,
                           dict(zip(frame["decision_class"], frame["short_label"])),
                           dict(zip(frame["decision_class"], frame["description"].fillna(""))))
