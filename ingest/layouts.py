"""Export layouts (YAML mapping files: ingest/layouts/ and a program's own folder) and layout
detection.

A layout describes one way programs export their data: a set of file kinds, each recognised
by a header signature and mapped onto contract tables (see docs/data-contract.md)."""
from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ingest.contract import TABLES
from ingest.layout_schema import LayoutError, read_layout

BUNDLED_LAYOUTS_DIR = Path(__file__).resolve().parent / "layouts"
_SOURCE_TREE = Path(__file__).resolve().parent.parent

DEFAULT_TRUE = ("yes", "y", "true", "t", "1", "x")
DEFAULT_FALSE = ("no", "n", "false", "f", "0")
DEFAULT_UNKNOWN = ("unknown", "u", "?")
# Always accepted after the layout's own formats: ISO dates are unambiguous, and XLSX date
# cells arrive as ISO strings whatever the layout.
ISO_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S")


def norm(header: str) -> str:
    return header.strip().lower()


# How many rows above the header a title or notes block may take (XLSX and CSV).
HEADER_SEARCH_ROWS = 30
CLEAN_STEPS = ("case", "strip_prefix", "strip_suffix", "replace")


@dataclass(frozen=True)
class CleanStep:
    """One clean-up of a source value before its vocabulary: ``case`` (upper, lower),
    ``strip_prefix`` / ``strip_suffix`` (a fixed text, any case) or ``replace`` (a regular
    expression and its replacement)."""
    step: str
    text: str = ""
    replacement: str = ""
    written: str = field(default="", compare=False)
    """The step's argument as the file writes it (`strip_suffix: " COUNTY"` keeps its space): what
    a writer of exports in this layout adds back."""


@dataclass(frozen=True)
class Rule:
    """One branch of a ``cases:`` mapping: when every named column holds one of its words, the
    field takes ``then``."""
    when: tuple[tuple[str, tuple[str, ...] | bool], ...]  # header -> accepted words (lower case), or True/False (a yes/no)
    then: str
    written: tuple[tuple[str, tuple[str, ...] | bool], ...] = field(default=(), compare=False)
    """``when`` with its words as the file writes them (a writer of exports in this layout uses those)."""


@dataclass(frozen=True)
class ColumnSpec:
    """Where one contract column's value comes from (docs/data-contract.md, "The mapping file
    format"): ``headers`` read as ``source`` says, cleaned, then ``blank`` where they are blank."""
    source: str  # column | first_of | value | key_from | cases | not_available
    headers: tuple[str, ...] = ()
    value: str | None = None  # the constant of `value`
    blank: str | None = None
    clean: tuple[CleanStep, ...] = ()
    rules: tuple[Rule, ...] = ()
    otherwise: str | None = None  # `cases:` value when no rule holds

    def describe(self) -> str:
        """How a message names where the value came from."""
        names = ", ".join(repr(h) for h in self.headers)
        return {"column": f"column {names}", "first_of": f"first non-blank of columns {names}",
                "value": f"the constant {self.value!r}", "key_from": f"a key made from columns {names}",
                "cases": f"cases over columns {names}", "not_available": "not available"}[self.source]


@dataclass(frozen=True)
class Resolved:
    """A column spec bound to a source header: the spec and the index of each header it reads."""
    spec: ColumnSpec
    indices: tuple[int, ...]


@dataclass(frozen=True)
class TableMap:
    table: str
    columns: dict[str, ColumnSpec] | None  # canonical column -> spec; None = same_names
    when_present: str | None = None

    @property
    def not_available(self) -> tuple[str, ...]:
        return tuple(c for c, spec in (self.columns or {}).items() if spec.source == "not_available")

    def resolve(self, header_index: dict[str, int]) -> tuple[dict[str, Resolved], list[str]]:
        """Canonical column -> where it comes from in this header, and the headers the mapping
        names that the header lacks (a misspelling publishes a column as blank: never silent).
        Under same_names a contract column absent from the header is simply not carried."""
        if self.columns is None:
            return {c.name: Resolved(ColumnSpec("column", (c.name,)), (header_index[c.name],))
                    for c in TABLES[self.table].columns if c.name in header_index}, []
        resolved, absent = {}, []
        for canon, spec in self.columns.items():
            if spec.source == "not_available":
                continue
            missing = [h for h in spec.headers if norm(h) not in header_index]
            if missing:
                absent += [f"{self.table}.{canon} (column {h!r})" for h in missing]
                continue
            resolved[canon] = Resolved(spec, tuple(header_index[norm(h)] for h in spec.headers))
        return resolved, absent


@dataclass(frozen=True)
class FileKind:
    layout: "Layout"
    kind: str
    signature: tuple[str, ...]
    tables: tuple[TableMap, ...]

    @property
    def label(self) -> str:
        return f"{self.layout.name}/{self.kind}"


@dataclass(frozen=True)
class ExportDatePattern:
    """Where a system puts the export date in its file names (a layout's `export_date`)."""
    file_name: re.Pattern  # searched in the file name; its first group is the date
    format: str  # strftime codes of that group

    def read(self, file_name: str) -> dt.datetime | None:
        """The export date in ``file_name``; None if the pattern is not there. A match that is
        not a date in the format raises ValueError: the name looks dated but says nothing true."""
        match = self.file_name.search(file_name)
        if match is None:
            return None
        try:
            return dt.datetime.strptime(match.group(1), self.format)
        except ValueError:
            raise ValueError(f"{match.group(1)!r} in the file name is not a date in the format {self.format!r}") from None


@dataclass(frozen=True)
class Layout:
    name: str
    path: Path
    description: str
    date_formats: tuple[str, ...]
    true_words: tuple[str, ...]
    false_words: tuple[str, ...]
    values: dict[str, dict[str, str]]  # canonical column -> {lower-cased source value: canonical}
    export_date: ExportDatePattern | None = None
    kinds: list[FileKind] = field(default_factory=list, compare=False, hash=False)
    # The words as the file writes them, for writing exports in this layout (the sample generator):
    spellings: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict, compare=False, hash=False)
    """Column -> (source value, canonical value) pairs of `values:`, in the file's order."""
    booleans_written: dict[bool, tuple[str, ...]] = field(default_factory=dict, compare=False, hash=False)
    """The layout's own `booleans:` words (empty when it lists none)."""

    @property
    def shown_path(self) -> str:
        """The file as messages name it: relative to the project for a bundled layout, in full
        for a program's own."""
        try:
            return str(self.path.resolve().relative_to(_SOURCE_TREE))
        except ValueError:
            return str(self.path)


def _words(raw: object, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise LayoutError(f"{where}: expected a list")
    return tuple(str(w).strip().lower() for w in raw)


def _export_date(raw: object, path: Path) -> ExportDatePattern | None:
    if raw is None:
        return None
    where = f"{path}: export_date"
    if not isinstance(raw, dict) or set(raw) != {"file_name", "format"}:
        raise LayoutError(f"{where}: expected 'file_name' (a regular expression whose first group is the date) "
                          "and 'format' (its strftime codes, e.g. '%Y%m%d')")
    try:
        pattern = re.compile(str(raw["file_name"]))
    except re.error as e:
        raise LayoutError(f"{where}.file_name: not a regular expression ({e})") from None
    if pattern.groups < 1:
        raise LayoutError(f"{where}.file_name: needs a group, in parentheses, around the date")
    if "%" not in str(raw["format"]):
        raise LayoutError(f"{where}.format: expected strftime codes such as '%m%d%Y'")
    return ExportDatePattern(pattern, str(raw["format"]))


SPEC_KEYS = {"column", "first_of", "value", "key_from", "cases", "not_available", "blank", "clean", "else"}


def _text(value: object, where: str) -> str:
    if isinstance(value, (dict, list)) or value is None:
        raise LayoutError(f"{where}: expected a single value")
    return str(value).strip()


def _headers(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or any(isinstance(v, (dict, list)) or v is None for v in value):
        raise LayoutError(f"{where}: expected a list of source column names")
    return tuple(str(v) for v in value)


def _clean_steps(raw: object, where: str) -> tuple[CleanStep, ...]:
    steps = []
    for n, item in enumerate(raw if isinstance(raw, list) else [raw]):
        at = f"{where}.clean[{n}]"
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in CLEAN_STEPS:
            raise LayoutError(f"{at}: expected one of {', '.join(f'{s}: ...' for s in CLEAN_STEPS)}")
        (step, arg), = item.items()
        if step == "case":
            if str(arg).lower() not in ("upper", "lower"):
                raise LayoutError(f"{at}: case is upper or lower")
            steps.append(CleanStep(step, str(arg).lower(), written=str(arg)))
        elif step == "replace":
            if not isinstance(arg, dict) or set(arg) != {"pattern", "with"}:
                raise LayoutError(f"{at}: replace needs 'pattern' (a regular expression) and 'with'")
            try:
                re.compile(str(arg["pattern"]))
            except re.error as e:
                raise LayoutError(f"{at}.pattern: not a regular expression ({e})") from None
            steps.append(CleanStep(step, str(arg["pattern"]), "" if arg["with"] is None else str(arg["with"]),
                                   written=str(arg["pattern"])))
        else:
            steps.append(CleanStep(step, _text(arg, f"{at}.{step}"), written=str(arg)))
    return tuple(steps)


def _rules(raw: object, where: str) -> tuple[Rule, ...]:
    if not isinstance(raw, list) or not raw:
        raise LayoutError(f"{where}.cases: expected a list of {{when: {{column: value}}, then: value}}")
    rules = []
    for n, item in enumerate(raw):
        at = f"{where}.cases[{n}]"
        if not isinstance(item, dict) or set(item) != {"when", "then"} or not isinstance(item["when"], dict) or not item["when"]:
            raise LayoutError(f"{at}: expected when: {{column: value, ...}} and then: value")
        when, written = [], []
        for header, accepted in item["when"].items():
            if isinstance(accepted, bool):
                when.append((str(header), accepted))
                written.append((str(header), accepted))
            else:
                words = accepted if isinstance(accepted, list) else [accepted]
                when.append((str(header), tuple(_text(w, f"{at}.when.{header}").lower() for w in words)))
                written.append((str(header), tuple(str(w) for w in words)))
        rules.append(Rule(tuple(when), _text(item["then"], f"{at}.then"), tuple(written)))
    return tuple(rules)


def _column_spec(raw: object, where: str) -> ColumnSpec:
    """A column map entry: a source header, or a mapping saying how to make the value."""
    if isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
        return ColumnSpec("column", (str(raw),))
    if raw == "not_available" or raw is None:
        raise LayoutError(f"{where}: write 'not_available: true' for a column the export does not carry")
    if not isinstance(raw, dict):
        raise LayoutError(f"{where}: expected a source column name or a mapping (column, first_of, value, "
                          "key_from, cases, not_available)")
    unknown = sorted(set(raw) - SPEC_KEYS)
    if unknown:
        raise LayoutError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(SPEC_KEYS))})")
    sources = [k for k in ("column", "first_of", "value", "key_from", "cases", "not_available") if k in raw]
    if len(sources) != 1:
        raise LayoutError(f"{where}: give exactly one of column, first_of, value, key_from, cases, not_available "
                          f"(found {', '.join(sources) or 'none'})")
    source = sources[0]
    blank = None if raw.get("blank") is None else _text(raw["blank"], f"{where}.blank")
    clean = _clean_steps(raw["clean"], where) if "clean" in raw else ()
    if "else" in raw and source != "cases":
        raise LayoutError(f"{where}: 'else' goes with 'cases'")
    if source == "column":
        return ColumnSpec(source, (_text(raw["column"], f"{where}.column"),), blank=blank, clean=clean)
    if source in ("first_of", "key_from"):
        return ColumnSpec(source, _headers(raw[source], f"{where}.{source}"), blank=blank, clean=clean)
    if source == "value":
        return ColumnSpec(source, value=_text(raw["value"], f"{where}.value"))
    if source == "not_available":
        if raw["not_available"] is not True or len(raw) != 1:
            raise LayoutError(f"{where}: write 'not_available: true' alone")
        return ColumnSpec(source)
    rules = _rules(raw["cases"], where)
    headers = tuple(dict.fromkeys(h for rule in rules for h, _ in rule.when))
    otherwise = None if raw.get("else") is None else _text(raw["else"], f"{where}.else")
    return ColumnSpec(source, headers, blank=blank, rules=rules, otherwise=otherwise)


def load_layout(path: Path) -> Layout:
    """The layout file, checked first against the JSON Schema of layout files
    (ingest/layout_schema.py), so that a message names the file, the key and its line."""
    doc, lines = read_layout(path)
    try:
        return _build_layout(path, doc)
    except LayoutError as e:
        raise LayoutError(lines.locate(str(e))) from None


def _build_layout(path: Path, doc: object) -> Layout:
    if not isinstance(doc, dict) or "files" not in doc:
        raise LayoutError(f"{path}: a layout needs 'layout' and 'files'")
    name = str(doc.get("layout") or path.stem)
    # PyYAML reads unquoted true/false keys as booleans.
    booleans = {str(k).lower(): v for k, v in (doc.get("booleans") or {}).items()}
    values: dict[str, dict[str, str]] = {}
    spellings: dict[str, tuple[tuple[str, str], ...]] = {}
    for canon, mapping in (doc.get("values") or {}).items():
        if not isinstance(mapping, dict):
            raise LayoutError(f"{path}: values.{canon} must map source values to canonical ones")
        values[canon] = {str(k).strip().lower(): str(v).strip() for k, v in mapping.items()}
        spellings[canon] = tuple((str(k), str(v)) for k, v in mapping.items())
    layout = Layout(
        name=name,
        path=path,
        description=str(doc.get("description", "")),
        date_formats=tuple(doc.get("date_formats") or ISO_DATE_FORMATS[:1]),
        true_words=DEFAULT_TRUE + _words(booleans.get("true"), f"{path}: booleans.true"),
        false_words=DEFAULT_FALSE + _words(booleans.get("false"), f"{path}: booleans.false"),
        values=values,
        export_date=_export_date(doc.get("export_date"), path),
        spellings=spellings,
        booleans_written={flag: tuple(str(w) for w in booleans.get(str(flag).lower()) or ())
                          for flag in (True, False)} if booleans else {},
    )
    for kind, spec in doc["files"].items():
        where = f"{path}: files.{kind}"
        if not spec.get("signature"):
            raise LayoutError(f"{where}: needs a signature (header columns that identify the file)")
        maps = []
        for table, cols in (spec.get("tables") or {}).items():
            if table not in TABLES:
                raise LayoutError(f"{where}: unknown table {table!r} (contract tables: {', '.join(TABLES)})")
            if cols == "same_names":
                maps.append(TableMap(table, None))
                continue
            if not isinstance(cols, dict):
                raise LayoutError(f"{where}.tables.{table}: expected same_names or a column map")
            cols = dict(cols)
            when_present = cols.pop("when_present", None)
            known = {c.name for c in TABLES[table].columns}
            unknown = sorted(set(cols) - known)
            if unknown:
                raise LayoutError(f"{where}.tables.{table}: {', '.join(unknown)} not in the contract table {table}")
            specs = {k: _column_spec(v, f"{where}.tables.{table}.{k}") for k, v in cols.items()}
            for k, column_spec in specs.items():
                if column_spec.source == "key_from" and k != TABLES[table].key:
                    raise LayoutError(f"{where}.tables.{table}.{k}: key_from makes a row key: only for {TABLES[table].key}")
                if column_spec.source == "not_available" and TABLES[table].column(k).required:
                    raise LayoutError(f"{where}.tables.{table}.{k}: a required column cannot be not available "
                                      "(give it a value: or map a column)")
            maps.append(TableMap(table, specs, when_present))
        if not maps:
            raise LayoutError(f"{where}: maps no tables")
        layout.kinds.append(FileKind(layout, str(kind), tuple(str(s) for s in spec["signature"]), tuple(maps)))
    return layout


def layout_files(program_dir: Path | None = None, bundled_dir: Path = BUNDLED_LAYOUTS_DIR) -> list[Path]:
    """The layout files in use: the bundled ones, then the program's own (``program_dir``; None:
    the bundled ones only), a program's file replacing a bundled one of the same file name."""
    files = {p.name: p for p in sorted(bundled_dir.glob("*.yml"))}
    if program_dir is not None and program_dir.is_dir():
        files.update({p.name: p for p in sorted([*program_dir.glob("*.yml"), *program_dir.glob("*.yaml")])})
    return list(files.values())


def load_layouts(program_dir: Path | None = None, bundled_dir: Path = BUNDLED_LAYOUTS_DIR) -> list[Layout]:
    """Every layout in use (layout_files); two with one `layout:` name are an error."""
    layouts = [load_layout(p) for p in layout_files(program_dir, bundled_dir)]
    seen: dict[str, Path] = {}
    for layout in layouts:
        if layout.name in seen:
            raise LayoutError(f"{layout.path}: layout name {layout.name!r} is also used by {seen[layout.name]}")
        seen[layout.name] = layout.path
    return layouts


@dataclass(frozen=True)
class Match:
    kind: FileKind
    columns: dict[str, dict[str, Resolved]]  # table -> canonical column -> where it comes from
    not_available: dict[str, tuple[str, ...]] = field(default_factory=dict)  # table -> columns the export lacks
    near_misses: tuple[str, ...] = ()  # source columns left unread that look like an unmapped contract column


class DetectionError(ValueError):
    pass


def header_index(header: list[str]) -> dict[str, int]:
    """Normalised name -> position. Two columns of one name are an error: which one a mapping
    means cannot be known, and taking either silently loses the other."""
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        name = norm(h)
        if name and name in index:
            raise DetectionError(f"the header names {h.strip()!r} twice (columns {index[name] + 1} and {i + 1}): "
                                 "rename one in the export, or remove it")
        index.setdefault(name, i)
    return index


def signature_matches(header: list[str], layouts: list[Layout]) -> bool:
    """Whether a row holds every column of some file kind's signature (how a header row is
    told from title rows above it)."""
    names = {norm(h) for h in header if h}
    return any(all(norm(s) in names for s in k.signature) for layout in layouts for k in layout.kinds)


def _near_misses(header: list[str], read: set[int], unmapped: dict[str, str]) -> tuple[str, ...]:
    """Unread source columns whose name is close to an unmapped contract column's."""
    found = []
    for i, h in enumerate(header):
        name = norm(h)
        if i in read or not name or name in unmapped:
            continue
        close = difflib.get_close_matches(name.replace(" ", "_"), list(unmapped), n=1, cutoff=0.8)
        if close:
            found.append(f"column {h.strip()!r} is not read; did you mean {unmapped[close[0]]}?")
    return tuple(found)


def detect(header: list[str], layouts: list[Layout]) -> Match:
    """The file kind whose signature the header contains; the longest signature wins."""
    index = header_index(header)
    kinds = [k for layout in layouts for k in layout.kinds]
    matching = [k for k in kinds if all(norm(s) in index for s in k.signature)]
    if not matching:
        def missing(k: FileKind) -> list[str]:
            return [s for s in k.signature if norm(s) not in index]
        closest = min(kinds, key=lambda k: (len(missing(k)) / len(k.signature), -len(k.signature)))
        raise DetectionError(
            "unknown layout: the header matches no file kind of the layouts in use; closest is "
            f"{closest.label} ({closest.layout.path}), missing column(s) "
            + ", ".join(repr(m) for m in missing(closest))
        )
    best = max(matching, key=lambda k: len(k.signature))
    columns: dict[str, dict[str, Resolved]] = {}
    problems: list[str] = []
    for tmap in best.tables:
        resolved, absent = tmap.resolve(index)
        if absent:
            problems.append(f"the header lacks column(s) the mapping reads: {', '.join(absent)} (a misspelling? "
                            "if the export does not carry one, write `not_available: true` for it)")
        for col in TABLES[tmap.table].columns:
            named = tmap.columns is not None and col.name in tmap.columns  # then reported in `absent`
            if col.required and col.name not in resolved and not named:
                problems.append(f"required {tmap.table}.{col.name} is not mapped"
                                + (f" (no column {col.name!r})" if tmap.columns is None else ""))
        if tmap.when_present and norm(tmap.when_present) not in index:
            problems.append(f"{tmap.table} marker column {tmap.when_present!r} is missing")
        columns[tmap.table] = resolved
    if problems:
        read = {norm(header[i]) for cols in columns.values() for r in cols.values() for i in r.indices}
        unread = [name for name in index if name not in read]
        closest = {h: difflib.get_close_matches(norm(h), unread, n=1, cutoff=0.45) for h in
                   re.findall(r"\(column '([^']*)'\)", " ".join(problems))}
        hints = [f"{h!r} -> did you mean {c[0]!r}?" for h, c in closest.items() if c]
        raise DetectionError(f"looks like {best.label} ({best.layout.path.name}) but " + "; ".join(problems)
                             + (f" ({'; '.join(hints)})" if hints else ""))
    read = {i for cols in columns.values() for r in cols.values() for i in r.indices}
    read |= {index[norm(t.when_present)] for t in best.tables if t.when_present}
    read |= {index[norm(s)] for s in best.signature}
    unmapped = {c.name: f"{t.table}.{c.name}" for t in best.tables for c in TABLES[t.table].columns
                if c.name not in columns[t.table] and c.name not in t.not_available}
    return Match(best, columns, {t.table: t.not_available for t in best.tables if t.not_available},
                 _near_misses(header, read, unmapped))
