"""Which data a report rests on: "as known at the end of the period".

A report for a period counts only the exports dated on or before the period's last day plus
the grant's ``close_after_days`` (programs export after a quarter closes; how an export's date
is known is recorded per file in raw.load_manifest.exported_at_source, see
docs/data-contract.md, "Export dates"). The raw schema keeps every version of every record, so
that state can be rebuilt at any time: copy the published database, drop the versions exported
after the period, mark the latest remaining version of each key current, and run the dbt models
on the copy with ``as_of_date`` = the period's last day (open work is censored there). Later
exports — new cases, corrected outcomes — therefore never change a closed period's report. A
period that has not ended yet is reported "as known now".

A closed period's state cannot always be rebuilt, and then the report is refused
(ReportDataError) rather than made of the zeros or partial counts a rebuild would give:
- an export dated only by the time it was loaded: whether it was made by the known-at day
  cannot be told;
- no export dated between the period's end and the known-at day: the newest export counted
  was made before the period ended (or there is none), so the period's later work is missing.
``as_known_now=True`` reports such a period with every export loaded so far, and says so.

The rebuilt database is cached per (published run, period end) in the work folder the caller
names (``pcr report``: <data dir>/reports/). When nothing was exported after the period and the
published build already used that as-of date, the published database is read directly.

The models are rebuilt by the ``rebuild`` callable the caller hands in (``pcr report`` passes
its dbt runner), so this package runs no dbt of its own. A caller that must not wait for a
rebuild (the dashboards' request threads) passes none: ``prepare`` then raises
``RebuildNeeded`` naming the file to make, and the caller has a child process make it.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.contract import TABLE_ORDER
from ingest.store import EXPORT_DATE_SOURCE_OF_OLDER_LOADS, has_export_date_source, mark_current
from reports.periods import Period

Rebuild = Callable[[Path, dt.date], str | None]
"""Builds the models of the database file at the path, open work censored on the date (dbt's
``as_of_date``), data tests left out: they ran when the exports were published. Returns None
when the build succeeded, else what failed."""


class ReportDataError(RuntimeError):
    """The data a report needs is not there (no published database, a period whose state as
    known at its close cannot be rebuilt, or the rebuild failed)."""


class RebuildNeeded(Exception):
    """The report needs the data rebuilt as known at ``target``'s date, and no rebuild was
    handed to ``prepare``: run one (``pcr report ... --prepare-only``), then ask again."""

    def __init__(self, target: Path, basis: str):
        super().__init__(f"the data for this report must be rebuilt first ({target.name})")
        self.target, self.basis = target, basis


@dataclass(frozen=True)
class Export:
    """One loaded export file, as raw.load_manifest records it."""
    file_name: str
    exported_at: dt.datetime
    exported_at_source: str  # see ingest.engine.EXPORT_DATE_SOURCES
    loaded_at: dt.datetime


@dataclass(frozen=True)
class InputFile:
    file_name: str
    exported_at: dt.datetime
    sha256: str


@dataclass(frozen=True)
class DataVersion:
    run_id: str | None  # None: the database was not published by `pcr run`
    run_finished_at: dt.datetime | None
    basis: str  # what the numbers describe, said in the report
    known_at: dt.date  # exports dated on or before this day
    as_of: dt.date  # open work is censored at this date
    inputs: tuple[InputFile, ...]
    db: Path  # the database the numbers are read from
    rebuilt: bool


def _published_facts(published: Path, cutoff: dt.datetime | None) -> dict:
    """What the report needs to know about the published database; ``cutoff`` None: every
    export counts."""
    if not published.exists():
        raise ReportDataError(f"No published database at {published}: run `pcr run EXPORTS...` first.")
    cutoff = cutoff or dt.datetime.max
    con = duckdb.connect(":memory:")
    try:
        con.execute("ATTACH $path AS published (READ_ONLY)", {"path": str(published)})
        con.execute("USE published")
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()}
        if "marts" not in schemas or "raw" not in schemas:
            raise ReportDataError(f"{published} has no raw/marts schemas: run `pcr run` (or `pcr ingest` and `pcr build`).")
        run = None
        if "pipeline" in schemas:
            run = con.execute("SELECT run_id, finished_at FROM pipeline.runs WHERE status = 'published' "
                              "ORDER BY finished_at DESC, run_id DESC LIMIT 1").fetchone()
        inputs = con.execute(
            "SELECT DISTINCT file_name, exported_at, sha256 FROM raw.load_manifest WHERE exported_at < $cutoff "
            "ORDER BY exported_at, file_name, sha256", {"cutoff": cutoff}).fetchall()
        # A database published before the source was recorded: told from what was stored.
        source = "exported_at_source" if has_export_date_source(con) else EXPORT_DATE_SOURCE_OF_OLDER_LOADS
        exports = con.execute(
            f"SELECT any_value(file_name), any_value(exported_at), any_value({source}), any_value(started_at) "
            "FROM raw.load_manifest GROUP BY load_id ORDER BY 2, 1").fetchall()
        later = sum(con.execute(f"SELECT count(*) FROM raw.{t} WHERE _exported_at >= $cutoff", {"cutoff": cutoff}).fetchone()[0]
                    for t in TABLE_ORDER)
        manifest = con.execute("SELECT string_agg(load_id || ':' || sha256, ',' ORDER BY load_id) FROM raw.load_manifest").fetchone()[0]
        as_of = con.execute("SELECT as_of_date FROM intermediate.int_as_of_date").fetchone()[0]
    finally:
        con.close()
    return {"run": run, "inputs": tuple(InputFile(*row) for row in inputs), "later_versions": later,
            "exports": tuple(Export(*row) for row in exports),
            "manifest_digest": hashlib.sha256((manifest or "").encode()).hexdigest()[:12], "published_as_of": as_of}


def _listed(exports: list[Export], limit: int = 4) -> str:
    shown = ", ".join(f"{e.file_name} (loaded {e.loaded_at:%Y-%m-%d})" for e in exports[:limit])
    return shown + (f" and {len(exports) - limit} more" if len(exports) > limit else "")


def _why_not_rebuildable(period: Period, known_at: dt.date, exports: tuple[Export, ...]) -> str | None:
    """Why the state of ``period`` as known on ``known_at`` cannot be rebuilt; None if it can."""
    cannot = f"This report ({period.label}, {period.start} to {period.end}) cannot be made as known on {known_at}"
    instead = (" Or report the period with every export loaded so far, said so on its first page: "
               "`pcr report ... --as-known-now`.")
    undated = [e for e in exports if e.exported_at_source == "load_time"]
    if undated:
        return (f"{cannot}: {len(undated)} export file(s) carry no export date, only the time they were loaded: "
                f"{_listed(undated)}. Whether they were made by {known_at} cannot be told. Load the exports again "
                "with their dates: the date in each file name (motions_2026-04-20.csv), or `pcr run --exported-at "
                "DATE` for exports made on that day. A file already loaded is skipped by its checksum, so start "
                "from an empty database: `pcr run --fresh` with the oldest exports, then each later one in turn."
                + instead)
    counted = [e for e in exports if e.exported_at.date() <= known_at]
    if not counted:
        return (f"{cannot}: no export loaded is dated on or before {known_at} (the earliest is dated "
                f"{exports[0].exported_at:%Y-%m-%d}), so as known then there is nothing to count, and a report of "
                f"zeros would read as a real one. Load the exports the program made by {known_at}, with their "
                "dates (the date in each file name, or `pcr run --exported-at DATE`)." + instead)
    newest = max(e.exported_at for e in counted).date()
    if newest < period.end:
        return (f"{cannot}: the newest export dated on or before {known_at} was made on {newest}, before the period "
                f"ended on {period.end}, so the period's work after {newest} is missing. Load an export made between "
                f"{period.end} and {known_at}, with its date, or give the grant a close_after_days that reaches the "
                "program's first export after the period." + instead)
    return None


def _rewind(db: Path, cutoff: dt.datetime) -> None:
    """Make the raw schema of ``db`` what it was with only the exports dated before ``cutoff``."""
    with duckdb.connect(str(db)) as con:
        mark_current(con, known_by=cutoff)
        con.execute("CHECKPOINT")


def _rebuild(published: Path, target: Path, cutoff: dt.datetime | None, as_of: dt.date, rebuild: Rebuild) -> None:
    """``target``: ``published`` as known before ``cutoff`` (None: with every export), its
    models built with open work censored at ``as_of``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f"{target.stem}.{os.getpid()}.building")
    shutil.copyfile(published, building)
    known = f"as known on {cutoff.date() - dt.timedelta(days=1)}" if cutoff else "as known now"
    try:
        if cutoff is not None:
            _rewind(building, cutoff)
        failure = rebuild(building, as_of)
        if failure:
            raise ReportDataError(f"rebuilding the data {known} (open work censored on {as_of}) failed: {failure}")
        os.replace(building, target)
    finally:
        building.unlink(missing_ok=True)


def prepare(period: Period, close_after_days: int, published: Path, *, work_dir: Path, rebuild: Rebuild | None,
            today: dt.date | None = None, as_known_now: bool = False) -> DataVersion:
    """The database and data version for a report on ``period``: exports dated up to
    ``close_after_days`` after its end count (programs export after a quarter closes).
    ``work_dir``: where rebuilt databases are kept. Raises ReportDataError for a closed period
    whose state as known then cannot be rebuilt, unless ``as_known_now``: then every export
    loaded so far counts, and the basis says so. Raises RebuildNeeded when the data must be
    rebuilt and ``rebuild`` is None."""
    published = Path(published).absolute()
    today = today or dt.date.today()
    known_at = period.end + dt.timedelta(days=close_after_days)
    closed = known_at < today
    rewound = closed and not as_known_now
    cutoff = dt.datetime.combine(known_at + dt.timedelta(days=1), dt.time()) if rewound else None
    facts = _published_facts(published, cutoff)
    run_id, finished = facts["run"] or (None, None)
    if not facts["exports"]:
        raise ReportDataError(f"{published} holds no loaded export: there is nothing to report. "
                              "Load the program's exports with `pcr run EXPORTS...`.")
    if rewound:
        problem = _why_not_rebuildable(period, known_at, facts["exports"])
        if problem:
            raise ReportDataError(problem)
        as_of = period.end
        basis = (f"As known on {known_at}: only exports dated on or before {known_at} ({close_after_days} days after "
                 f"the period's end) are counted, and work still open on {period.end} is counted as open. "
                 "Later exports do not change these numbers.")
    elif closed:
        as_of = period.end
        newest = facts["exports"][-1]
        newest_text = (f"the newest loaded on {newest.loaded_at:%Y-%m-%d}, without an export date"
                       if newest.exported_at_source == "load_time" else f"the newest dated {newest.exported_at:%Y-%m-%d}")
        basis = (f"As known now, not as known when the period closed: every export loaded so far is counted "
                 f"({newest_text}), whether or not it was made by {known_at}, when this period's "
                 "reporting window closed. These are not the numbers the program knew then, and they will change as "
                 f"new exports arrive. Work still open on {period.end} is counted as open.")
    else:
        as_of = facts["published_as_of"]
        basis = (f"As known now: the period's reporting window has not closed ({known_at}); every export loaded so far "
                 "is counted, and these numbers will change as new exports arrive.")
    if facts["later_versions"] == 0 and as_of == facts["published_as_of"]:
        db, rebuilt = published, False
    else:
        # The manifest digest too: `pcr ingest` + `pcr build` change the data without a new run.
        version_key = f"{run_id or 'unrecorded'}-{facts['manifest_digest']}"
        known = f"known-{known_at}" if rewound else "known-now"
        db = Path(work_dir).absolute() / f"{version_key}-{known}-asof-{as_of}.duckdb"
        if not db.exists():
            if rebuild is None:
                raise RebuildNeeded(db, basis)
            _rebuild(published, db, cutoff, as_of, rebuild)
        rebuilt = True
    return DataVersion(run_id, finished, basis, known_at, as_of, facts["inputs"], db, rebuilt)
