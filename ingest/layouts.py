"""Export layouts (ingest/layouts/*.yml) and layout detection.

A layout describes one way programs export their data: a set of file kinds, each recognised
by a header signature and mapped onto contract tables (see docs/data-contract.md)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ingest.contract import TABLES
from pcr import paths

DEFAULT_TRUE = ("yes", "y", "true", "t", "1", "x")
DEFAULT_FALSE = ("no", "n", "false", "f", "0")
DEFAULT_UNKNOWN = ("unknown", "u", "?")
# Always accepted after the layout's own formats: ISO dates are unambiguous, and XLSX date
# cells arrive as ISO strings whatever the layout.
ISO_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S")


class LayoutError(ValueError):
    """A mapping file is wrong (a problem for whoever wrote the YAML)."""


def norm(header: str) -> str:
    return header.strip().lower()


@dataclass(frozen=True)
class TableMap:
    table: str
    columns: dict[str, str] | None  # canonical column -> source header; None = same_names
    when_present: str | None = None

    def resolve(self, header_index: dict[str, int]) -> dict[str, int]:
        """Canonical column -> source column index, for the columns present in the header."""
        if self.columns is None:
            names = {c.name: c.name for c in TABLES[self.table].columns}
        else:
            names = self.columns
        return {canon: header_index[norm(src)] for canon, src in names.items() if norm(src) in header_index}

    def expected_header(self, canon: str) -> str:
        return canon if self.columns is None else self.columns[canon]


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


def load_layout(path: Path) -> Layout:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or "files" not in doc:
        raise LayoutError(f"{path}: a layout needs 'layout' and 'files'")
    name = str(doc.get("layout") or path.stem)
    # PyYAML reads unquoted true/false keys as booleans.
    booleans = {str(k).lower(): v for k, v in (doc.get("booleans") or {}).items()}
    values: dict[str, dict[str, str]] = {}
    for canon, mapping in (doc.get("values") or {}).items():
        if not isinstance(mapping, dict):
            raise LayoutError(f"{path}: values.{canon} must map source values to canonical ones")
        values[canon] = {str(k).strip().lower(): str(v).strip() for k, v in mapping.items()}
    layout = Layout(
        name=name,
        path=path,
        description=str(doc.get("description", "")),
        date_formats=tuple(doc.get("date_formats") or ISO_DATE_FORMATS[:1]),
        true_words=DEFAULT_TRUE + _words(booleans.get("true"), f"{path}: booleans.true"),
        false_words=DEFAULT_FALSE + _words(booleans.get("false"), f"{path}: booleans.false"),
        values=values,
        export_date=_export_date(doc.get("export_date"), path),
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
            maps.append(TableMap(table, {k: str(v) for k, v in cols.items()}, when_present))
        if not maps:
            raise LayoutError(f"{where}: maps no tables")
        layout.kinds.append(FileKind(layout, str(kind), tuple(str(s) for s in spec["signature"]), tuple(maps)))
    return layout


def load_layouts(directory: Path | None = None) -> list[Layout]:
    directory = directory or paths.layouts_dir()
    return [load_layout(p) for p in sorted(directory.glob("*.yml"))]


@dataclass(frozen=True)
class Match:
    kind: FileKind
    columns: dict[str, dict[str, int]]  # table -> canonical column -> source column index


class DetectionError(ValueError):
    pass


def detect(header: list[str], layouts: list[Layout]) -> Match:
    """The file kind whose signature the header contains; the longest signature wins."""
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        index.setdefault(norm(h), i)
    kinds = [k for layout in layouts for k in layout.kinds]
    matching = [k for k in kinds if all(norm(s) in index for s in k.signature)]
    if not matching:
        def missing(k: FileKind) -> list[str]:
            return [s for s in k.signature if norm(s) not in index]
        closest = min(kinds, key=lambda k: (len(missing(k)) / len(k.signature), -len(k.signature)))
        raise DetectionError(
            "unknown layout: the header matches no file kind in ingest/layouts/*.yml; closest is "
            f"{closest.label} ({closest.layout.path.name}), missing column(s) "
            + ", ".join(repr(m) for m in missing(closest))
        )
    best = max(matching, key=lambda k: len(k.signature))
    columns: dict[str, dict[str, int]] = {}
    missing_required: list[str] = []
    for tmap in best.tables:
        resolved = tmap.resolve(index)
        for col in TABLES[tmap.table].columns:
            if col.required and col.name not in resolved:
                missing_required.append(f"{tmap.table}.{col.name} (column {tmap.expected_header(col.name)!r})")
        if tmap.when_present and norm(tmap.when_present) not in index:
            missing_required.append(f"{tmap.table} marker column {tmap.when_present!r}")
        columns[tmap.table] = resolved
    if missing_required:
        raise DetectionError(
            f"looks like {best.label} but required column(s) are missing: " + ", ".join(missing_required)
        )
    return Match(best, columns)
