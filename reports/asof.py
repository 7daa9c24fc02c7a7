"""Which data a report rests on: "as known at the end of the period".

A report for a period counts only the exports dated on or before the period's last day plus
the grant's ``close_after_days`` (programs export after a quarter closes; the export date is
the ISO date in the file name, else the ``--exported-at``/load time; see docs/data-contract.md,
"Versions and supersession"). The raw schema keeps every version of
every record, so that state can be rebuilt at any time: copy the published database, drop
the versions exported after the period, mark the latest remaining version of each key current,
and run the dbt models on the copy with ``as_of_date`` = the period's last day (open work is
censored there). Later exports — new cases, corrected outcomes — therefore never change a
closed period's report. A period that has not ended yet is reported "as known now".

The rebuilt database is cached per (published run, period end) under <data dir>/reports/.
When nothing was exported after the period and the published build already used that as-of
date, the published database is read directly.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.contract import TABLE_ORDER, TABLES
from pcr import paths
from reports.grants import Period


class ReportDataError(RuntimeError):
    """The data a report needs is not there (no published database, or the rebuild failed)."""


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


def _published_facts(published: Path, cutoff: dt.datetime) -> dict:
    if not published.exists():
        raise ReportDataError(f"No published database at {published}: run `pcr run EXPORTS...` first.")
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
        later = sum(con.execute(f"SELECT count(*) FROM raw.{t} WHERE _exported_at >= $cutoff", {"cutoff": cutoff}).fetchone()[0]
                    for t in TABLE_ORDER)
        manifest = con.execute("SELECT string_agg(load_id || ':' || sha256, ',' ORDER BY load_id) FROM raw.load_manifest").fetchone()[0]
        as_of = con.execute("SELECT as_of_date FROM intermediate.int_as_of_date").fetchone()[0]
    finally:
        con.close()
    return {"run": run, "inputs": tuple(InputFile(*row) for row in inputs), "later_versions": later,
            "manifest_digest": hashlib.sha256((manifest or "").encode()).hexdigest()[:12], "published_as_of": as_of}


def _rewind(db: Path, cutoff: dt.datetime) -> None:
    """Make the raw schema of ``db`` what it was with only the exports dated before ``cutoff``."""
    with duckdb.connect(str(db)) as con:
        for name in TABLE_ORDER:
            key = TABLES[name].key
            con.execute(
                f"CREATE OR REPLACE TABLE raw.{name} AS SELECT * REPLACE ("
                f"row_number() OVER (PARTITION BY {key} ORDER BY _exported_at DESC, _load_id DESC) = 1 AS _is_current) "
                f"FROM raw.{name} WHERE _exported_at < $cutoff", {"cutoff": cutoff})
        con.execute("DELETE FROM raw.load_manifest WHERE exported_at >= $cutoff", {"cutoff": cutoff})
        con.execute("CHECKPOINT")


def _rebuild(published: Path, target: Path, cutoff: dt.datetime, as_of: dt.date) -> None:
    from pcr import dbt

    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f"{target.stem}.{os.getpid()}.building")
    shutil.copyfile(published, building)
    try:
        _rewind(building, cutoff)
        # Data tests ran when the export was published; here only the models are rebuilt.
        previous = {k: os.environ.get(k) for k in ("DBT_EXCLUDE_RESOURCE_TYPES", "DBT_QUIET")}
        os.environ.update(DBT_EXCLUDE_RESOURCE_TYPES="test unit_test", DBT_QUIET="true")
        try:
            result = dbt.build(building, dbt_vars=f"{{as_of_date: '{as_of.isoformat()}'}}", work_dir=target.parent / "dbt")
        finally:
            for k, v in previous.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        if not result.success:
            raise ReportDataError(f"rebuilding the data as known on {cutoff.date() - dt.timedelta(days=1)} failed: "
                                  f"{result.error or ', '.join(result.failed_nodes)}")
        os.replace(building, target)
    finally:
        building.unlink(missing_ok=True)


def prepare(period: Period, close_after_days: int = 0, published: Path | None = None,
            today: dt.date | None = None, work_dir: Path | None = None) -> DataVersion:
    """The database and data version for a report on ``period``: exports dated up to
    ``close_after_days`` after its end count (programs export after a quarter closes)."""
    published = Path(published or paths.published_db()).absolute()
    today = today or dt.date.today()
    known_at = period.end + dt.timedelta(days=close_after_days)
    closed = known_at < today
    cutoff = dt.datetime.combine(known_at + dt.timedelta(days=1), dt.time())
    facts = _published_facts(published, cutoff)
    run_id, finished = facts["run"] or (None, None)
    if closed:
        as_of = period.end
        basis = (f"As known on {known_at}: only exports dated on or before {known_at} ({close_after_days} days after "
                 f"the period's end) are counted, and work still open on {period.end} is counted as open. "
                 "Later exports do not change these numbers.")
        if not facts["inputs"]:
            basis += f" No export dated on or before {known_at} has been loaded: there is nothing to count yet."
    else:
        as_of = facts["published_as_of"]
        basis = (f"As known now: the period's reporting window has not closed ({known_at}); every export loaded so far "
                 "is counted, and these numbers will change as new exports arrive.")
    if facts["later_versions"] == 0 and as_of == facts["published_as_of"]:
        db, rebuilt = published, False
    else:
        # The manifest digest too: `pcr ingest` + `pcr build` change the data without a new run.
        version_key = f"{run_id or 'unrecorded'}-{facts['manifest_digest']}"
        db = (work_dir or paths.data_dir() / "reports") / f"{version_key}-known-{known_at}-asof-{as_of}.duckdb"
        if not db.exists():
            _rebuild(published, db, cutoff, as_of)
        rebuilt = True
    return DataVersion(run_id, finished, basis, known_at, as_of, facts["inputs"], db, rebuilt)
