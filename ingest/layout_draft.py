"""`pcr layout draft FILE...`: a first mapping YAML from export files' headers and values.

The draft is a proposal for a person to finish: header names close to contract columns are
mapped, vocabularies show the values that can be mapped and those that cannot (with counts),
dates get the formats their values are written in, and every decision left to the user is a
`TODO` comment. It always loads with load_layout; `pcr layout check` then says what the
mapping would do with the files.

Privacy: values of columns that hold or may hold personal data (names, A-numbers, dates of
birth, court case numbers, and every column the draft does not map) are never written into
the draft, only counts; values are shown for vocabularies only."""
from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingest.contract import TABLE_ORDER, TABLES, Column
from ingest.engine import load_vehicles
from ingest.files import SUFFIXES
from ingest.layout_schema import SCHEMA_FILE
from ingest.layouts import (DEFAULT_FALSE, DEFAULT_TRUE, DEFAULT_UNKNOWN, HEADER_SEARCH_ROWS, Layout,
                            load_layout, norm)
from ingest.sources import FileProblem, Source, _cell_text, _first_records, read_csv, read_xlsx, scan_file

# Header phrases (lower case, words only; '#' reads as 'no') that name each contract column,
# beside the column's own name. A phrase names one column only.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "client_id": ("client id", "client no", "client number", "client ref", "client code", "person id", "person ref",
                  "client"),
    "case_id": ("case id", "case no", "case number", "matter id", "matter no", "matter number", "matter ref",
                "matter", "case", "matter case id"),
    "conviction_id": ("conviction id", "conviction no", "conviction ref", "count no", "count id", "count ref",
                      "charge id", "charge no", "charge ref", "conviction", "count"),
    "motion_id": ("motion id", "motion no", "motion ref", "petition no", "petition id", "petition ref", "filing id",
                  "filing no", "motion", "petition"),
    "event_id": ("event id", "event no", "event ref", "immigration event id"),
    "entry_id": ("entry id", "entry no", "time entry id", "time entry no", "time id"),
    "first_name": ("first name", "given name", "client first name"),
    "last_name": ("last name", "surname", "family name", "client last name"),
    "full_name": ("name", "client name", "full name", "client full name"),
    "a_number": ("a number", "a no", "alien no", "alien number", "alien registration number", "anumber", "a",
                 "a file", "a file number", "alien id", "uscis number"),
    "date_of_birth": ("dob", "date of birth", "birth date", "birthdate", "born", "birthday"),
    "intake_date": ("intake", "intake date", "date of intake", "first intake", "opened", "date opened", "open date",
                    "client since", "matter opened"),
    "country_of_birth": ("country of birth", "birth country", "country"),
    "primary_language": ("language", "primary language", "preferred language"),
    "county_of_residence": ("county of residence", "residence county", "home county"),
    "immigration_status": ("immigration status", "status at intake", "status"),
    "in_removal_proceedings": ("in removal proceedings", "removal proceedings", "in proceedings"),
    "final_removal_order": ("final removal order", "final order", "final order of removal"),
    "detained_at_intake": ("detained", "detained at intake", "in detention"),
    "eligibility": ("eligible", "screening result", "screening outcome", "eligibility decision"),
    "eligibility_date": ("screened on", "screening date", "date screened", "eligibility decided"),
    "referral_date": ("referred", "date referred", "referred on", "referral", "assigned", "assigned on",
                      "date assigned"),
    "partner_firm": ("firm", "pro bono firm", "assigned firm", "law firm", "partner", "referred to",
                     "referred to firm", "firm referred to"),
    "attorney_id": ("attorney", "volunteer id", "volunteer", "timekeeper", "timekeeper id", "pro bono attorney id",
                    "atty", "attorney no"),
    "case_status": ("matter status", "case disposition", "case state"),
    "closed_date": ("closed", "date closed", "matter closed", "closed on", "case closed"),
    "county": ("court county", "conviction county", "court", "county of conviction", "county"),
    "court_case_number": ("court case no", "docket", "docket no", "docket number", "court no", "court number"),
    "offense_code": ("offense", "charge", "charge code", "offence", "statute of conviction", "offense statute"),
    "offense_level": ("level", "charge level", "offense class", "degree"),
    "conviction_date": ("convicted on", "date of conviction", "disposition date", "convicted"),
    "removal_ground": ("deportable", "deportable offense", "removal ground flag", "immigration consequence flag"),
    "removal_ground_type": ("ground type", "consequence", "immigration consequence"),
    "vehicle": ("statute", "relief vehicle", "relief sought", "motion type", "petition type"),
    "filing_date": ("filed", "date filed", "filed on", "e filed"),
    "hearing_date": ("hearing", "hearing on"),
    "decision_date": ("decided", "ruled", "ruling date", "date decided", "ruled on", "order date"),
    "outcome": ("result", "ruling", "decision", "motion outcome"),
    "result_type": ("relief obtained", "relief granted"),
    "grant_ground": ("ground", "basis", "basis of ruling", "ground of order"),
    "order_states_ground": ("order states legal ground",),
    "refiled_from_motion_id": ("refiled from", "re filing of", "refiling of", "prior filing id"),
    "disposition_after_vacatur": ("post vacatur disposition", "after vacatur"),
    "event_type": ("event", "immigration event", "event description"),
    "event_date": ("event on", "date of event"),
    "entry_date": ("date worked", "worked on", "date of service", "work date", "service date"),
    "hours": ("hours worked", "time", "hrs", "duration"),
}
# Words of a header that say it is not a client's name even though it holds "name".
NOT_A_CLIENT_NAME = {"firm", "attorney", "atty", "timekeeper", "staff", "court", "judge", "user", "file", "report",
                     "event", "vehicle", "volunteer", "county", "country", "program"}
ID_COLUMNS = {t.key for t in TABLES.values()} | {"client_id", "case_id", "conviction_id", "refiled_from_motion_id"}
DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%y", "%d/%m/%Y", "%Y-%m-%d", "%m-%d-%Y", "%Y/%m/%d", "%d.%m.%Y", "%d-%b-%Y",
                "%b %d, %Y", "%B %d, %Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%Y-%m-%d %H:%M:%S")
TRUE_LIKE = ("checked", "on", "si", "sí", "true", "yes", "y", "x")
FALSE_LIKE = ("unchecked", "off", "false", "no", "n")
NEGATIONS = {"not", "no", "non", "un", "never"}
VOCABULARY_MAX = 60  # more distinct values than this is not a vocabulary: no value is shown
A_NUMBER = re.compile(r"[Aa]?[\s#.\-]*(\d[\s.\-]?){7,8}\d")  # the spellings ingest.privacy normalises


def phrase(text: str) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", str(text).lower().replace("#", " no ")).split()
    out = " ".join(words)
    return re.sub(r"\bid (no|number)\b", "id", out)


@dataclass
class Profile:
    """What the draft knows of one source column."""
    index: int
    header: str
    filled: int
    blank: int
    top: list[tuple[str, int]]  # most frequent values first (at most 500)
    distinct: int

    def values(self) -> Counter:
        return Counter(dict(self.top))


@dataclass
class DraftSource:
    file: Path
    sheet: str | None
    header: list[str]
    above: int  # rows above the header (titles, notes) that ingest skips
    rows: int
    columns: list[Profile]

    @property
    def label(self) -> str:
        return f"{self.file.name} [sheet {self.sheet!r}]" if self.sheet else self.file.name


# -- reading -------------------------------------------------------------------------------
def _cells(row: list) -> list[str]:
    return [str(c).strip() for c in row if c is not None and str(c).strip()]


def _looks_like_data(cell: str) -> bool:
    return bool(re.fullmatch(r"[\d\s.,:/\-$%()]+", cell)) or any(_parses(cell, f) for f in DATE_FORMATS[:4])


def guess_header(rows: list[list]) -> tuple[str, ...]:
    """The header among the first rows of a file whose layout is not known yet: the first wide
    row (at least 60% as wide as the widest) of distinct names, no numbers or dates; title and
    notes rows above it are narrower."""
    widths = [len(_cells(r)) for r in rows]
    enough = max(2, math.ceil(0.6 * max(widths, default=0)))
    for row, width in zip(rows, widths):
        cells = _cells(row)
        if width >= enough and len({c.lower() for c in cells}) == len(cells) and not any(map(_looks_like_data, cells)):
            return tuple(cells)
    return tuple(next((_cells(r) for r, w in zip(rows, widths) if w >= enough), _cells(rows[0]) if rows else []))


def _profile(con: duckdb.DuckDBPyConnection, source: Source) -> list[Profile]:
    profiles = []
    for i, header in enumerate(source.header):
        if not header.strip():
            continue
        (filled, blank, distinct), = con.execute(
            f"SELECT count(c{i}), count(*) - count(c{i}), count(DISTINCT c{i}) FROM {source.relation}").fetchall()
        top = con.execute(f"SELECT c{i}, count(*) AS n FROM {source.relation} WHERE c{i} IS NOT NULL "
                          "GROUP BY 1 ORDER BY n DESC, 1 LIMIT 500").fetchall()
        profiles.append(Profile(i, header.strip(), filled, blank, top, distinct))
    return profiles


def read_sources(path: Path) -> list[DraftSource]:
    """Each table of the file (a CSV, or every sheet of an XLSX) with its columns profiled, the
    header found as ingest finds it (ingest.sources), title rows above it skipped."""
    if path.suffix.lower() not in SUFFIXES:
        raise FileProblem("not a .csv or .xlsx file")
    con = duckdb.connect()
    try:
        if path.suffix.lower() == ".xlsx":
            from python_calamine import CalamineWorkbook
            try:
                workbook = CalamineWorkbook.from_path(str(path))
                heads = {name: [[_cell_text(v) or "" for v in row]
                                for row in workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
                                if any(v not in (None, "") for v in row)][:HEADER_SEARCH_ROWS]
                         for name in workbook.sheet_names}
            except Exception as e:  # calamine raises several unrelated types for broken files
                raise FileProblem(f"cannot open the XLSX workbook ({type(e).__name__})") from None
            headers = {guess_header(rows) for rows in heads.values() if rows}
            sources = read_xlsx(con, path, "_draft", lambda row: tuple(_cells(row)) in headers)
            above = {name: next((n for n, r in enumerate(rows) if tuple(_cells(r)) in headers), 0)
                     for name, rows in heads.items()}
        else:
            facts = scan_file(path, check_utf8=True)
            records = [r for _, r in _first_records(path, HEADER_SEARCH_ROWS)]
            if not records:
                raise FileProblem("empty file: no header line")
            header = guess_header(records)
            sources = [read_csv(path, facts, "_draft_0", lambda row: tuple(_cells(row)) == header)]
            above = {None: next((n for n, r in enumerate(records) if tuple(_cells(r)) == header), 0)}
        out = []
        for source in sources:
            (rows,), = con.execute(f"SELECT count(*) FROM {source.relation}").fetchall()
            out.append(DraftSource(path, source.sheet, source.header, above.get(source.sheet, 0), rows,
                                   _profile(con, source)))
        return out
    except duckdb.Error as e:
        raise FileProblem(f"not a readable table ({str(e).splitlines()[0][:160]})") from None
    finally:
        con.close()


# -- values --------------------------------------------------------------------------------
def _parses(value: str, fmt: str) -> bool:
    try:
        dt.datetime.strptime(value, fmt)
        return True
    except ValueError:
        return False


def date_formats(values: Counter) -> tuple[list[str], int, bool]:
    """The formats that read the values (fewest first found), how many values none reads, and
    whether month-first and day-first both read them all (03/04/2024)."""
    left = {v for v in values if not _parses(v, "%Y-%m-%d") and not _parses(v, "%Y-%m-%d %H:%M:%S")}
    ambiguous = bool(left) and all(_parses(v, "%m/%d/%Y") == _parses(v, "%d/%m/%Y") for v in left) and \
        all(_parses(v, "%m/%d/%Y") for v in left)
    chosen = []
    while left:
        best = max(DATE_FORMATS, key=lambda f: sum(_parses(v, f) for v in left))
        read = {v for v in left if _parses(v, best)}
        if not read:
            break
        chosen.append(best)
        left -= read
    return chosen, sum(values[v] for v in left), ambiguous


def _words_of(text: str) -> set[str]:
    return set(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def guess_value(value: str, allowed: tuple[str, ...]) -> tuple[str | None, bool]:
    """(canonical value, sure) for a source value of a vocabulary: the same words (sure), or
    every word of one allowed value and no negation (a guess); None if nothing fits."""
    key = "_".join(sorted(_words_of(value)))
    for canonical in allowed:
        if "_".join(sorted(_words_of(canonical.replace("_", " ")))) == key:
            return canonical, True
    words = _words_of(value)
    if words & NEGATIONS:
        return None, False
    fitting = [c for c in allowed if set(c.lower().replace("_", " ").split()) <= words]
    if fitting:
        best = max(fitting, key=lambda c: len(c.split("_")))
        if sum(1 for c in fitting if len(c.split("_")) == len(best.split("_"))) == 1:
            return best, False
    return None, False


def guess_vehicle(value: str, vehicles: tuple[str, ...]) -> str | None:
    def squeeze(text: str) -> str:
        return re.sub(r"[^a-z0-9()]", "", text.lower())
    key = squeeze(value)
    exact = [v for v in vehicles if squeeze(v) == key]
    if exact:
        return exact[0]
    # "Cal. PC 1473.7(a)(1)" ends with a vehicle; "1473.7(a)(1)" is one without its code.
    ends = [v for v in vehicles if key.endswith(squeeze(v)) or squeeze(v).endswith(key) and len(key) >= 4]
    return ends[0] if len(ends) == 1 else None


AFFIXES = ((" county", "strip_suffix", " County"), ("superior court of ", "strip_prefix", "Superior Court of "),
           ("county of ", "strip_prefix", "County of "))


def clean_for(values: Counter, allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    """Clean-up steps that turn more of the values into allowed ones (`LOS ANGELES COUNTY`)."""
    lowered = {a.lower() for a in allowed}
    steps = []
    for probe, step, text in AFFIXES:
        hits = [v for v in values if v.lower() not in lowered and
                ((step == "strip_suffix" and v.lower().endswith(probe) and v.lower()[:-len(probe)].strip() in lowered)
                 or (step == "strip_prefix" and v.lower().startswith(probe) and v.lower()[len(probe):].strip() in lowered))]
        if hits:
            steps.append((step, text))
    return steps


def apply_clean(value: str, steps: list[tuple[str, str]]) -> str:
    for step, text in steps:
        if step == "strip_suffix" and value.lower().endswith(text.lower()):
            value = value[:-len(text)].strip()
        elif step == "strip_prefix" and value.lower().startswith(text.lower()):
            value = value[len(text):].strip()
    return value


def yes_no_words(values: Counter) -> tuple[list[str], list[str], list[str]] | None:
    """(extra true words, extra false words, unknown words) if the values look like a yes/no
    column, else None."""
    words = {v.lower() for v in values}
    known = set(DEFAULT_TRUE) | set(DEFAULT_FALSE) | set(DEFAULT_UNKNOWN)
    truthy = sorted(w for w in words - known if w in TRUE_LIKE)
    falsy = sorted(w for w in words - known if w in FALSE_LIKE)
    unknown = sorted(words - known - set(truthy) - set(falsy))
    if not words or len(words) > 4 or len(unknown) > 1 or not (words & (set(DEFAULT_TRUE) | set(TRUE_LIKE))):
        return None
    return truthy, falsy, unknown


def a_number_spellings(values: Counter) -> tuple[Counter, int]:
    """How many values look like A-numbers, by spelling, and how many do not (never the values)."""
    kinds: Counter = Counter()
    bad = 0
    for value, n in values.items():
        if not A_NUMBER.fullmatch(value.strip()):
            bad += n
        elif "-" in value:
            kinds["dashed"] += n
        elif " " in value.strip():
            kinds["spaced"] += n
        elif value.strip()[:1] in "Aa":
            kinds["A and digits"] += n
        else:
            kinds["digits only"] += n
    return kinds, bad


def _looks_like_person_names(values: Counter) -> bool:
    names = [v for v in values if re.fullmatch(r"[A-Za-z][A-Za-z'\-]+(?:,)?(?: [A-Za-z][A-Za-z'.\-]*)+", v)]
    return len(names) >= max(1, 0.6 * len(values))


# -- matching headers to contract columns --------------------------------------------------
def _contract_column(name: str) -> Column:
    return next(t.column(name) for t in TABLES.values() if name in {c.name for c in t.columns})


def match_headers(columns: list[Profile]) -> tuple[dict[str, list[Profile]], list[tuple[Profile, str]]]:
    """Contract column name -> the source columns that name it (best first); and the source
    columns set aside, with why."""
    names = list(dict.fromkeys(c.name for t in TABLE_ORDER for c in TABLES[t].columns))
    scored: list[tuple[float, int, str, Profile]] = []
    set_aside: list[tuple[Profile, str]] = []
    for profile in columns:
        said = phrase(profile.header)
        words = set(said.split())
        best: tuple[float, str] | None = None
        if "name" in words and not words & NOT_A_CLIENT_NAME:
            target = ("first_name" if words & {"first", "given"} else "last_name" if words & {"last", "surname", "family"}
                      else "full_name")
            best = (1.0, target)
        for name in names:
            if best and best[0] == 1.0:
                break
            candidates = (name.replace("_", " "),) + SYNONYMS.get(name, ())
            if said in candidates:
                best = (1.0, name)
                break
            ratio = max(difflib.SequenceMatcher(None, said, c).ratio() for c in candidates if len(c) > 3) \
                if any(len(c) > 3 for c in candidates) else 0
            if ratio >= 0.86 and (best is None or ratio > best[0]):
                best = (ratio, name)
        if best is None:
            continue
        score, name = best
        values = profile.values()
        if score < 1.0 and _contract_column(name).kind in ("date", "pii_dob") and values and \
                sum(n for v, n in values.items() if any(_parses(v, f) for f in DATE_FORMATS)) < 0.8 * sum(values.values()):
            continue  # named a little like a date column, but it does not hold dates
        if name in ID_COLUMNS and _looks_like_person_names(profile.values()):
            set_aside.append((profile, f"named like {name} but its values look like people's names: never mapped "
                                       "(names are dropped at the door)"))
            continue
        scored.append((score, profile.index, name, profile))
    found: dict[str, list[Profile]] = {}
    for score, _, name, profile in sorted(scored, key=lambda s: (-s[0], s[1])):
        found.setdefault(name, []).append(profile)
    return found, set_aside


@dataclass
class Kind:
    name: str
    source: DraftSource
    found: dict[str, list[Profile]]
    set_aside: list[tuple[Profile, str]]
    tables: list[str] = field(default_factory=list)
    signature: list[str] = field(default_factory=list)


def tables_for(found: dict[str, list[Profile]]) -> list[str]:
    """The contract tables a file makes: those whose key it carries with a column of their own
    or all their required columns, and the child tables it carries without a key (time and
    immigration exports often have none: the draft makes one with key_from)."""
    owners: Counter = Counter(c.name for t in TABLES.values() for c in t.columns)
    tables = []
    for name in TABLE_ORDER:
        table = TABLES[name]
        own = [c.name for c in table.columns if owners[c.name] == 1 and c.name in found and c.name != table.key]
        required = [c.name for c in table.columns if c.required and c.name != table.key]
        if table.key in found and (own or all(r in found for r in required)):
            tables.append(name)
        elif table.key not in found and len(own) >= 1 and sum(r in found for r in required) >= len(required) - 1 \
                and table.parent is not None:
            tables.append(name)
    return tables


# -- writing the YAML ----------------------------------------------------------------------
def q(text: object) -> str:
    return json.dumps(str(text), ensure_ascii=False)


def _kind_name(source: DraftSource, taken: set[str]) -> str:
    base = source.sheet or re.sub(r"[_\-\s]*(\d{4}-\d{2}-\d{2}|\d{6,8})", "", source.file.stem)
    base = re.sub(r"[^a-z0-9]+", "_", base.lower()).strip("_") or "export"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


class Draft:
    def __init__(self, sources: list[DraftSource], name: str, layouts_in_use: list[Layout]):
        self.sources = sources
        self.name = name
        self.layouts_in_use = [layout for layout in layouts_in_use if layout.name != name]
        self.vehicles = load_vehicles()
        self.date_counts: Counter = Counter()  # format -> values read
        self.date_unread = 0
        self.date_ambiguous = False
        self.true_words: set[str] = set()
        self.false_words: set[str] = set()
        self.vocabulary: dict[str, Counter] = {}  # contract column -> cleaned value -> rows
        self.blank_rows: Counter = Counter()  # contract column -> blank rows, for required vocabularies
        self.cleaning: dict[tuple[str, int], list[tuple[str, str]]] = {}
        taken: set[str] = set()
        self.kinds = []
        for source in sources:
            found, set_aside = match_headers(source.columns)
            kind = Kind(_kind_name(source, taken), source, found, set_aside)
            kind.tables = tables_for(found)
            self.kinds.append(kind)
        for kind in self.kinds:
            self._study(kind)
            kind.signature = self._signature(kind)

    # What the values say: dates, yes/no words, vocabularies.
    def _study(self, kind: Kind) -> None:
        for name, profiles in kind.found.items():
            column = _contract_column(name)
            for profile in profiles:
                values = profile.values()
                if column.kind in ("date", "pii_dob"):
                    formats, unread, ambiguous = date_formats(values)
                    for f in formats:
                        self.date_counts[f] += sum(n for v, n in values.items() if _parses(v, f))
                    self.date_unread += unread
                    self.date_ambiguous |= ambiguous
                elif column.kind == "bool":
                    words = yes_no_words(values)
                    if words:
                        self.true_words |= set(words[0])
                        self.false_words |= set(words[1])
                elif column.kind == "enum" or name == "vehicle":
                    allowed = column.allowed if column.kind == "enum" else self.vehicles
                    steps = clean_for(values, allowed) if profile.distinct <= VOCABULARY_MAX else []
                    self.cleaning[(kind.name, profile.index)] = steps
                    if profile.distinct <= VOCABULARY_MAX:
                        counts = self.vocabulary.setdefault(name, Counter())
                        for value, n in values.items():
                            counts[apply_clean(value, steps)] += n
                    if column.required:
                        self.blank_rows[name] += self._blank_where_present(kind, name, profile)
        for profile in kind.source.columns:
            if not any(profile in ps for ps in kind.found.values()):
                words = yes_no_words(profile.values())
                if words:
                    self.true_words |= set(words[0])
                    self.false_words |= set(words[1])

    @staticmethod
    def _blank_where_present(kind: Kind, name: str, profile: Profile) -> int:
        """Blank cells of a column on rows that carry its table's record: in a wide export a row
        without a motion has every motion column blank, and makes no motion (when_present)."""
        table = next((t for t in kind.tables if name in {c.name for c in TABLES[t].columns}), None)
        key = kind.found.get(TABLES[table].key, []) if table else []
        absent = key[0].blank if key and len(kind.tables) > 1 and table != kind.tables[0] else 0
        return max(0, profile.blank - absent)

    def _signature(self, kind: Kind) -> list[str]:
        """Key columns first, then other mapped ones, until no other file kind of this draft or
        of the layouts in use would take the file instead (detection: the longest signature
        whose columns the header holds wins)."""
        mapped = [p.header for name in ([TABLES[t].key for t in kind.tables] + list(kind.found))
                  for p in kind.found.get(name, [])[:1]]
        order = list(dict.fromkeys(mapped + [p.header for p in kind.source.columns]))
        header = {norm(h) for h in kind.source.header if h}
        others = [k.signature for layout in self.layouts_in_use for k in layout.kinds] + \
                 [k.signature for k in self.kinds if k is not kind and k.signature]
        size = min(3, len(order))
        while True:
            signature = order[:size]
            rivals = [s for s in others if all(norm(c) in header for c in s) and len(s) >= len(signature)]
            if not rivals or size >= len(order):
                return signature
            size += 1

    # -- text --------------------------------------------------------------------------------
    def render(self) -> str:
        files = ", ".join(dict.fromkeys(s.file.name for s in self.sources))
        out = [f"# yaml-language-server: $schema={SCHEMA_FILE}",
               f"# A first draft of a layout, by `pcr layout draft` from {files}.",
               "# Read every TODO and decide; remove the # in front of a line you complete. Then run",
               "#   pcr layout check THIS_FILE EXPORT...",
               "# and keep this file in your layouts folder (docs/your-export.md).",
               f"layout: {self.name}",
               f"description: {q('TODO: what exports this layout reads (drafted from ' + files + ')')}"]
        out += self._date_lines() + self._boolean_lines()
        exported = self._export_date_lines()
        out += exported
        out.append("files:")
        for kind in self.kinds:
            out += self._kind_lines(kind)
        out += self._values_lines()
        return "\n".join(out) + "\n"

    def _date_lines(self) -> list[str]:
        formats = [f for f, _ in self.date_counts.most_common()]
        if not formats:
            return ["# date_formats: TODO: no date column was recognised; list the formats of the export's dates",
                    "date_formats: [\"%m/%d/%Y\"]  # TODO: a guess: US dates"]
        read = sum(self.date_counts.values())
        note = f"{read:,} date values read so"
        if self.date_unread:
            note += f"; TODO: {self.date_unread:,} values in date columns match no format and would be quarantined"
        if self.date_ambiguous:
            note += "; TODO: every date would read day-first too (03/04/2024): month first (US) assumed"
        return [f"date_formats: [{', '.join(q(f) for f in formats)}]  # {note}"]

    def _boolean_lines(self) -> list[str]:
        if not self.true_words and not self.false_words:
            return []
        out = ["booleans:  # yes/no words beyond yes/no, y/n, true/false, t/f, 1/0, x"]
        if self.true_words:
            out.append(f"  true: [{', '.join(q(w.upper()) for w in sorted(self.true_words))}]")
        if self.false_words:
            out.append(f"  false: [{', '.join(q(w.upper()) for w in sorted(self.false_words))}]")
        return out

    def _export_date_lines(self) -> list[str]:
        for source in self.sources:
            if re.search(r"\d{4}-\d{2}-\d{2}", source.file.name):
                return []
            found = re.search(r"(?<!\d)(\d{8})(?!\d)", source.file.stem)
            if found:
                fmt = next((f for f in ("%m%d%Y", "%Y%m%d") if _parses(found.group(1), f)), None)
                if fmt:
                    return ["# TODO: the file names seem to carry the export date; if so keep these lines:",
                            "# export_date:",
                            "#   file_name: '_(\\d{8})\\.[A-Za-z]+$'",
                            f"#   format: {q(fmt)}"]
        return []

    def _kind_lines(self, kind: Kind) -> list[str]:
        source = kind.source
        where = f"header on {'row' if source.sheet else 'line'} {source.above + 1}"
        if source.above:
            where += f" ({source.above} title or notes row(s) above it are skipped)"
        out = [f"  {kind.name}:  # {source.label}: {where}, {source.rows:,} rows",
               f"    signature: [{', '.join(q(h) for h in kind.signature)}]"]
        if not kind.tables:
            out += ["    # TODO: no contract table recognised in this file's header: map its columns by hand",
                    "    tables: {}"]
            return out
        out.append("    tables:")
        read: set[int] = set()
        for table in kind.tables:
            out += self._table_lines(kind, table, read)
        unread = [p for p in source.columns if p.index not in read]
        if unread:
            out.append("    # Columns of the file not read (values not shown): TODO: map any that hold a contract column")
            aside = dict((p.index, why) for p, why in kind.set_aside)
            for p in unread:
                out.append(f"    #   {q(p.header)}: {aside.get(p.index) or self._describe_unread(p)}")
        return out

    def _describe_unread(self, profile: Profile) -> str:
        values = profile.values()
        words = yes_no_words(values)
        if words:
            return "yes/no (" + ", ".join(f"{v} {n}" for v, n in values.most_common()) + ")"
        if values and all(any(_parses(v, f) for f in DATE_FORMATS) for v in values):
            return f"dates, {profile.filled:,} filled"
        return f"{profile.distinct:,} distinct value(s), {profile.filled:,} filled, {profile.blank:,} blank"

    def _table_lines(self, kind: Kind, table_name: str, read: set[int]) -> list[str]:
        table = TABLES[table_name]
        out = [f"      {table_name}:"]
        key = kind.found.get(table.key, [])
        many = len(kind.tables) > 1
        if key and many and key[0].blank and table_name != kind.tables[0]:
            out.append(f"        when_present: {q(key[0].header)}  # {key[0].blank:,} row(s) without a {table.key} "
                       f"make no {table_name} record")
            read.add(key[0].index)
        for column in table.columns:
            out += self._column_lines(kind, table_name, column, read)
        if table_name == "motions" and "grant_ground" not in kind.found:
            flags = [p for p in kind.source.columns if p.index not in read and yes_no_words(p.values())]
            if flags:
                out.append("        # TODO: do these yes/no columns decide grant_ground? If so, e.g.:")
                out.append("        # grant_ground:")
                out.append("        #   cases:")
                for p in flags:
                    said = phrase(p.header)
                    then = ("legal_defect" if "defect" in said else "clerical_error" if "clerical" in said
                            else "rehabilitation" if "rehab" in said else "immigration_hardship" if "hardship" in said
                            else "TODO")
                    out.append(f"        #     - {{when: {{{q(p.header)}: yes}}, then: {then}}}")
                out.append("        #   else: unknown")
        return out

    def _column_lines(self, kind: Kind, table_name: str, column: Column, read: set[int]) -> list[str]:
        table = TABLES[table_name]
        profiles = kind.found.get(column.name, [])
        pad = f"        {column.name}:"
        if not profiles:
            if column.name == table.key and table.parent is not None:
                headers = [p.header for c in table.columns if c.name != column.name for p in kind.found.get(c.name, [])[:1]]
                return [f"{pad} {{key_from: [{', '.join(q(h) for h in headers)}]}}  # TODO: the file has no "
                        f"{column.name}: a key made from these columns; are two real entries ever alike in all of "
                        "them? then add a column"]
            if column.required:
                return [f"        # {column.name}: TODO  # required, not found in the header: map the column that "
                        "holds it, or give every row a constant with {value: ...}"]
            if column.kind in ("pii_drop", "pii_dob"):
                return []
            if column.name == "eligibility":
                return [f"{pad} {{not_available: true}}  # TODO: not in the header; if every case of this export passed "
                        "screening, write {value: eligible}"]
            return [f"{pad} {{not_available: true}}  # TODO: not in the header? map its column if it is"]
        first = profiles[0]
        read.update(p.index for p in profiles)
        notes = self._notes(kind, column, first)
        if len(profiles) > 1 and column.kind == "date":
            entry = f"{{first_of: [{', '.join(q(p.header) for p in profiles)}]}}"
            notes.insert(0, "TODO: several columns look like it: the first non-blank is read; keep one if that is wrong")
        else:
            steps = self.cleaning.get((kind.name, first.index)) or []
            if steps:
                clean = ", ".join(f"{{{s}: {q(t)}}}" for s, t in steps)
                entry = f"{{column: {q(first.header)}, clean: [{clean}]}}"
            else:
                entry = q(first.header)
            for other in profiles[1:]:
                read.discard(other.index)
                notes.append(f"TODO: {other.header!r} looks like it too (not read)")
        return [f"{pad} {entry}" + (f"  # {'; '.join(notes)}" if notes else "")]

    def _notes(self, kind: Kind, column: Column, profile: Profile) -> list[str]:
        values = profile.values()
        notes = []
        if column.kind == "pii_hash" and column.name == "a_number":
            spellings, bad = a_number_spellings(values)
            notes.append("PII: stored only as a keyed hash; rows by spelling: " + ", ".join(f"{k} {n:,}" for k, n in spellings.most_common())
                         + (f"; TODO: {bad:,} do not look like A-numbers (8-9 digits) and would be quarantined" if bad else ""))
        elif column.kind == "pii_hash":
            notes.append("PII: stored only as a keyed hash")
        elif column.kind == "pii_drop":
            notes.append("PII: read for nothing, never stored")
        elif column.kind == "pii_dob":
            notes.append("PII: becomes age at intake, never stored")
        elif column.kind == "date":
            formats, unread, _ = date_formats(values)
            if unread or formats[:1] != [f for f, _ in self.date_counts.most_common(1)]:
                notes.append(f"dates: {', '.join(formats) or 'no format found'}"
                             + (f"; TODO: {unread:,} value(s) match no format" if unread else ""))
        elif column.kind == "bool":
            words = yes_no_words(values)
            if words is None and values:
                notes.append("TODO: not yes/no words: check this is the right column")
            elif words and words[2]:
                notes.append(f"TODO: {', '.join(words[2])} is neither yes nor no (add it under booleans:, or it is quarantined)")
        elif column.kind == "number":
            bad = sum(n for v, n in values.items() if not re.fullmatch(r"-?\d+(\.\d+)?", v.replace(",", "")))
            if bad:
                notes.append(f"TODO: {bad:,} value(s) are not numbers")
        elif column.kind == "enum" or column.name == "vehicle":
            if profile.distinct > VOCABULARY_MAX:
                notes.append(f"TODO: {profile.distinct:,} distinct values: not a vocabulary; the right column?")
            blank = self._blank_where_present(kind, column.name, profile)
            if column.required and blank:
                notes.append(f"TODO: {blank:,} row(s) blank: say what a blank means under values: "
                             f"{column.name} (\"\"), or they are quarantined")
        return notes

    def _values_lines(self) -> list[str]:
        blocks = []
        for name, counts in self.vocabulary.items():
            column = _contract_column(name)
            allowed = column.allowed if column.kind == "enum" else self.vehicles
            lowered = {a.lower() for a in allowed}
            active, todo = [], []
            for value, n in counts.most_common():
                if value.lower() in lowered:
                    continue
                guessed, sure = (guess_value(value, allowed) if column.kind == "enum"
                                 else (guess_vehicle(value, allowed), False))
                rows = f"{n:,} row(s)"
                if guessed:
                    active.append(f"    {q(value)}: {q(guessed)}  # {rows}" + ("" if sure else "; TODO: a guess, check it"))
                else:
                    todo.append(f"    # {q(value)}: TODO  # {rows}")
            blank = self.blank_rows.get(name, 0)
            if blank:
                # A blank outcome is most often a motion the court has not ruled on yet.
                meaning = "pending" if name == "outcome" else "TODO"
                todo.append(f"    # \"\": {meaning}  # TODO: {blank:,} blank row(s): say what a blank {name} means, "
                            "or they are quarantined")
            if not active and not todo:
                continue
            hint = ("one of " + ", ".join(allowed) if column.kind == "enum" and len(allowed) <= 12
                    else "a California county" if column.kind == "enum" else "a vehicle of seeds/vehicle_taxonomy.csv")
            lead = f"  {name}:" if active else f"  # {name}:"
            blocks.append([f"{lead}  # {hint}"] + active + todo)
        if not blocks:
            return ["values: {}  # no vocabulary needs mapping: every value is already a canonical one"]
        has_active = any(not b[0].startswith("  #") for b in blocks)
        out = ["values:" if has_active else "# values:  TODO: remove the # of the lines you complete"]
        for block in blocks:
            out += block
        if not has_active:
            out.append("values: {}")
        return out


def draft_layout(files: list[Path], name: str, layouts_in_use: list[Layout]) -> tuple[str, list[str]]:
    """The draft's YAML text, and what it says about each file (for the terminal). The text is
    loaded with load_layout before it is returned: a draft that does not load is a bug."""
    sources = [s for f in files for s in read_sources(f)]
    draft = Draft(sources, name, layouts_in_use)
    text = draft.render()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.yml"
        path.write_text(text, encoding="utf-8")
        load_layout(path)
    summary = [f"{k.source.label}: file kind {k.name}, tables {', '.join(k.tables) or 'none recognised'}"
               for k in draft.kinds]
    return text, summary
