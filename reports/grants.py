"""Grant configuration (YAML; see config/grants.example.yml and docs/reports.md), a grant's
report periods (reports/periods.py's, fiscal years in the grant's own, or the whole grant,
clipped to the grant) and the suppression threshold of a report."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from access.disclosure import DEFAULT_THRESHOLD
from access.scope import Scope
from reports.dimensions import DIMENSIONS
from reports.metrics import METRICS
from reports.periods import DEFAULT_FISCAL_YEAR_START_MONTH, QUARTER_START_MONTHS, Period, calendar_period

# Client criteria a grant may require, all flags at intake (dim_clients). Unknown counts as no.
# Exports dated up to this many days after a period's end still count toward it.
DEFAULT_CLOSE_AFTER_DAYS = 45
CLIENT_CRITERIA = ("detained_at_intake", "in_removal_proceedings", "final_removal_order", "has_removal_exposure")
# Each criterion as the report's scope line says it, for true and for false.
CRITERION_WORDS = {
    "detained_at_intake": ("detained at intake", "not detained at intake"),
    "in_removal_proceedings": ("in removal proceedings at intake", "not in removal proceedings at intake"),
    "final_removal_order": ("with a final removal order at intake", "without a final removal order at intake"),
    "has_removal_exposure": ("with removal exposure at intake", "without removal exposure at intake"),
}


class GrantConfigError(ValueError):
    """The grants file is wrong; the message names the file and the entry."""


@dataclass(frozen=True)
class Deliverable:
    name: str
    metric: str
    target: float


@dataclass(frozen=True)
class Grant:
    grant_id: str
    funder: str
    title: str
    start: dt.date
    end: dt.date
    counties: tuple[str, ...] = ()
    vehicles: tuple[str, ...] = ()
    client_criteria: tuple[tuple[str, bool], ...] = ()
    deliverables: tuple[Deliverable, ...] = ()
    amount_usd: float | None = None
    fiscal_year_start_month: int = 7
    close_after_days: int = DEFAULT_CLOSE_AFTER_DAYS
    grantee: str = ""  # the program reporting (top-level `grantee:` of the grants file)
    prepared_by: str = ""
    narrative: str = ""  # Markdown: headings (#), paragraphs, bullets (- or *)
    demographics: tuple[str, ...] = ()  # keys of reports.demographics.DIMENSIONS, in report order

    def scope_lines(self) -> list[str]:
        lines = [f"Counties (convicting court): {', '.join(self.counties) if self.counties else 'all'}",
                 f"Vehicles: {', '.join(self.vehicles) if self.vehicles else 'all'}"]
        criteria = [CRITERION_WORDS[name][0 if value else 1] for name, value in self.client_criteria]
        lines.append(f"Clients: {'only those ' + ' and '.join(criteria) if criteria else 'all'}")
        return lines


@dataclass(frozen=True)
class GrantsFile:
    path: Path
    grants: dict[str, Grant]
    threshold: int = DEFAULT_THRESHOLD
    grantee: str = ""
    fiscal_year_start_month: int = DEFAULT_FISCAL_YEAR_START_MONTH
    """The program's fiscal year: the dashboards' fiscal-year periods, and each grant's unless it sets its own."""

    def threshold_for(self, scope: Scope) -> int:
        """The suppression threshold of a report made for ``scope``: the stricter of the grants
        file's and the one the roles file gives the viewer, so neither file can loosen the other."""
        return max(self.threshold, scope.threshold)


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise GrantConfigError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from None


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise GrantConfigError(f"{where}: expected a list of names")
    return tuple(v.strip() for v in value)


def _text(value: object, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise GrantConfigError(f"{where}: expected text, got {value!r}")
    return value.strip()


def _narrative(entry: dict, path: Path, where: str) -> str:
    """The grant's narrative: `narrative` (text) or `narrative_file` (a Markdown file, relative
    to the grants file), not both."""
    if entry.get("narrative") is not None and entry.get("narrative_file") is not None:
        raise GrantConfigError(f"{where}: give either 'narrative' (text) or 'narrative_file' (a Markdown file), not both")
    if entry.get("narrative_file") is None:
        return _text(entry.get("narrative"), f"{where}: narrative")
    name = _text(entry["narrative_file"], f"{where}: narrative_file")
    file = (path.parent / name) if not Path(name).is_absolute() else Path(name)
    try:
        return file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise GrantConfigError(f"{where}: narrative_file {file} does not exist (paths are relative to {path.parent})") from None
    except UnicodeDecodeError:
        raise GrantConfigError(f"{where}: narrative_file {file} is not UTF-8 text") from None


def load_grants(path: Path | str) -> GrantsFile:
    """Read and check the grants file; errors name the file and the grant."""
    path = Path(path)
    known_metrics = frozenset(METRICS)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise GrantConfigError(
            f"grants file {path} does not exist: copy config/grants.example.yml to config/grants.yml, "
            "or pass --grants / set PCR_GRANTS_FILE") from None
    except yaml.YAMLError as error:
        raise GrantConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("grants"), list):
        raise GrantConfigError(f"{path}: expected a mapping with a 'grants' list")
    threshold = document.get("suppression_threshold", DEFAULT_THRESHOLD)
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        raise GrantConfigError(f"{path}: suppression_threshold must be a positive integer, got {threshold!r}")
    unknown_top = set(document) - {"suppression_threshold", "grantee", "prepared_by", "fiscal_year_start_month", "grants"}
    if unknown_top:
        raise GrantConfigError(f"{path}: unknown top-level key(s) {sorted(unknown_top)}")
    grantee = _text(document.get("grantee"), f"{path}: grantee")
    program_fy_month = _program_fiscal_year_start_month(document, path)
    default_prepared_by = _text(document.get("prepared_by"), f"{path}: prepared_by")
    grants: dict[str, Grant] = {}
    for number, entry in enumerate(document["grants"], start=1):
        where = f"{path}: grants[{number}]"
        if not isinstance(entry, dict):
            raise GrantConfigError(f"{where}: expected a mapping")
        for key in ("id", "funder", "start", "end"):
            if entry.get(key) in (None, ""):
                raise GrantConfigError(f"{where}: '{key}' is required")
        grant_id = str(entry["id"]).strip()
        where = f"{path}: grant {grant_id}"
        unknown = set(entry) - {"id", "funder", "title", "start", "end", "amount_usd", "fiscal_year_start_month",
                                "close_after_days", "scope", "deliverables", "prepared_by", "narrative",
                                "narrative_file", "demographics"}
        if unknown:
            raise GrantConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
        start, end = _date(entry["start"], f"{where}: start"), _date(entry["end"], f"{where}: end")
        if end < start:
            raise GrantConfigError(f"{where}: end {end} is before start {start}")
        amount = entry.get("amount_usd")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount <= 0):
            raise GrantConfigError(f"{where}: amount_usd must be a positive number, got {amount!r}")
        fy_month = entry.get("fiscal_year_start_month", program_fy_month)
        if fy_month not in range(1, 13):
            raise GrantConfigError(f"{where}: fiscal_year_start_month must be 1..12, got {fy_month!r}")
        close_after = entry.get("close_after_days", DEFAULT_CLOSE_AFTER_DAYS)
        if isinstance(close_after, bool) or not isinstance(close_after, int) or close_after < 0:
            raise GrantConfigError(f"{where}: close_after_days must be a whole number of days >= 0, got {close_after!r}")
        scope = entry.get("scope") or {}
        if not isinstance(scope, dict) or set(scope) - {"counties", "vehicles", "clients"}:
            raise GrantConfigError(f"{where}: scope takes counties, vehicles and clients")
        clients = scope.get("clients") or {}
        if not isinstance(clients, dict):
            raise GrantConfigError(f"{where}: scope.clients must be a mapping of criterion: true/false")
        for name, value in clients.items():
            if name not in CLIENT_CRITERIA or not isinstance(value, bool):
                raise GrantConfigError(
                    f"{where}: scope.clients.{name}: use one of {list(CLIENT_CRITERIA)} with true or false")
        deliverables = []
        for d_number, item in enumerate(entry.get("deliverables") or [], start=1):
            d_where = f"{where}: deliverables[{d_number}]"
            if not isinstance(item, dict) or item.get("metric") not in known_metrics:
                raise GrantConfigError(f"{d_where}: 'metric' must be one of {sorted(known_metrics)}")
            target = item.get("target")
            if isinstance(target, bool) or not isinstance(target, (int, float)) or target <= 0:
                raise GrantConfigError(f"{d_where}: 'target' must be a positive number, got {target!r}")
            deliverables.append(Deliverable(str(item.get("name") or item["metric"]), item["metric"], float(target)))
        demographics = _strings(entry.get("demographics"), f"{where}: demographics")
        unknown_dimensions = [d for d in demographics if d not in DIMENSIONS]
        if unknown_dimensions or len(set(demographics)) != len(demographics):
            raise GrantConfigError(f"{where}: demographics: each once, from {list(DIMENSIONS)}; got {list(demographics)}")
        if grant_id in grants:
            raise GrantConfigError(f"{where}: listed twice")
        grants[grant_id] = Grant(
            grant_id=grant_id, funder=str(entry["funder"]).strip(), title=str(entry.get("title") or "").strip(),
            start=start, end=end,
            counties=_strings(scope.get("counties"), f"{where}: scope.counties"),
            vehicles=_strings(scope.get("vehicles"), f"{where}: scope.vehicles"),
            client_criteria=tuple(sorted(clients.items())), deliverables=tuple(deliverables),
            amount_usd=float(amount) if amount is not None else None, fiscal_year_start_month=fy_month,
            close_after_days=close_after, grantee=grantee,
            prepared_by=_text(entry.get("prepared_by"), f"{where}: prepared_by") or default_prepared_by,
            narrative=_narrative(entry, path, where), demographics=demographics,
        )
    return GrantsFile(path, grants, threshold, grantee, program_fy_month)


def _program_fiscal_year_start_month(document: dict, path: Path) -> int:
    """The top-level fiscal_year_start_month: the first month of a quarter, since the dashboards
    count by quarter and a fiscal year must be whole quarters there."""
    month = document.get("fiscal_year_start_month", DEFAULT_FISCAL_YEAR_START_MONTH)
    if month not in QUARTER_START_MONTHS or isinstance(month, bool):
        raise GrantConfigError(f"{path}: fiscal_year_start_month (top level) must be the first month of a quarter "
                               f"(1, 4, 7 or 10), got {month!r}")
    return month


def program_fiscal_year_start_month(path: Path | str) -> int:
    """The program's fiscal-year start month from the grants file at ``path``; the default (July)
    when there is no such file yet. A wrong value raises GrantConfigError naming the file."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return DEFAULT_FISCAL_YEAR_START_MONTH
    except yaml.YAMLError as error:
        raise GrantConfigError(f"{path}: not valid YAML: {error}") from None
    return _program_fiscal_year_start_month(document if isinstance(document, dict) else {}, Path(path))


def parse_period(text: str, grant: Grant) -> Period:
    """A calendar period (``calendar_period``, fiscal years starting in the grant's
    fiscal_year_start_month) or 'grant' (the whole grant), clipped to the grant."""
    if text.strip().lower() == "grant":
        return Period("whole grant", grant.start, grant.end)
    try:
        period = calendar_period(text, grant.fiscal_year_start_month)
    except ValueError as error:
        raise ValueError(f"{error}, or 'grant' for the whole grant") from None
    label, start, end = period.label, period.start, period.end
    if end < grant.start or start > grant.end:
        raise ValueError(f"period {label} ({start}..{end}) lies outside grant {grant.grant_id} ({grant.start}..{grant.end})")
    clipped_start, clipped_end = max(start, grant.start), min(end, grant.end)
    if (clipped_start, clipped_end) != (start, end):
        label += f" (within the grant: {clipped_start}..{clipped_end})"
    return Period(label, clipped_start, clipped_end)
