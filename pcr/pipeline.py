"""The run's stages: ingest -> dbt build -> Great Expectations -> record -> atomic publish
(`pcr run`, pcr/commands/run.py).

Everything is built in a working copy (var/pcr.work.duckdb) of the published database
(var/pcr.duckdb). The published file is replaced, in one rename, only when ingest loaded every
file, every dbt test passed and no blocking expectation failed; otherwise it is left byte for
byte as it was and the working file stays behind for inspection (the next run deletes it).
"""
from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import duckdb

from pcr.freshness import Fingerprint
from pcr.groundwork import Groundwork, GroundworkFailed, Validated
from pcr.freshness import record as record_fingerprint
from pcr.publish import kill_point, publish, remove_db_files, start_working_copy, working_path
from pcr.settings import Settings

STAGES = ("prepare", "ingest", "build", "validate", "publish")
# Unit tests check SQL logic on fixed fixtures, not the data: they run with the test suite and
# `pcr build`, and would only add seconds to every run. Quiet: dbt still prints errors and
# failing tests; the counts come from its run_results.json. Its log file keeps every node's
# start, result and errors, not each statement: the debug log is a cost measured in
# bench/findings.md (`pcr build` keeps it).
DBT_RUN_FLAGS = {"exclude_resource_types": ("unit_test",), "quiet": True, "log_level_file": "info"}
DATA_DOCS_KEPT = 10
# Above this many bytes of data (the exports given plus the published database the run starts
# from), the validation helper starts only when the build has ended. Such a build takes DuckDB
# to its memory limit (PCR_MEMORY_LIMIT): at 1,000,000 motions (808 MB of exports) the dbt
# helper peaked at 1,163 MB, and the validation helper waiting beside it with Great
# Expectations imported added 195 MB, the largest sum of the run (bench/findings.md, item 22).
# The import then costs a few seconds after the build instead of none; below the threshold
# (100,000 motions: about 80 MB, 774 MB summed at the peak) it runs beside ingest or the build.
LARGE_RUN_BYTES = 256 * 2**20
# The run's own process, the dbt helper and the validation helper each keep a core busy while
# the run ingests: with fewer cores the validation helper imports while dbt builds instead.
CORES_FOR_THREE = 3
EXAMPLES_PRINTED = 3

RECORD_DDL = """
CREATE SCHEMA IF NOT EXISTS pipeline;
CREATE TABLE IF NOT EXISTS pipeline.runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,      -- UTC
    finished_at TIMESTAMP NOT NULL,     -- UTC, when the record was written (just before publish)
    status VARCHAR NOT NULL,            -- published | failed (failed runs live only in the kept working file)
    failed_stage VARCHAR,
    fresh BOOLEAN NOT NULL,
    files_given INTEGER NOT NULL,
    files_loaded INTEGER NOT NULL,
    files_already_loaded INTEGER NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    expectations INTEGER NOT NULL,
    blocking_failures INTEGER NOT NULL,
    warnings INTEGER NOT NULL,
    data_docs VARCHAR,
    python_version VARCHAR NOT NULL,
    duckdb_version VARCHAR NOT NULL,
    dbt_core_version VARCHAR NOT NULL,
    dbt_duckdb_version VARCHAR NOT NULL,
    great_expectations_version VARCHAR NOT NULL,
    pcr_version VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS pipeline.run_inputs (
    run_id VARCHAR NOT NULL,
    source_path VARCHAR NOT NULL,       -- as given to `pcr run`
    sha256 VARCHAR,
    load_id INTEGER,
    -- loaded | skipped (given again, same sha256 already loaded) | failed
    -- | previously_loaded (loaded by an earlier run, not given this time: the data still rests on it)
    status VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS pipeline.run_stages (
    run_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,      -- UTC
    seconds DOUBLE NOT NULL,
    detail VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS pipeline.validation_results (
    run_id VARCHAR NOT NULL,
    suite VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    expectation VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    columns VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,          -- blocking | warning
    success BOOLEAN NOT NULL,
    element_count BIGINT,
    unexpected_count BIGINT,
    examples JSON NOT NULL,             -- a few failing rows: ids and the checked columns only
    error VARCHAR
);
"""


def validation_starts(exports: list[Path], starts_from: Path | None) -> str:
    """When the validation helper starts (pcr.groundwork.Groundwork), decided once per run:
    after the build on large data, else with the run when there is a core for each process,
    else with the build."""
    if data_bytes(exports, starts_from) > LARGE_RUN_BYTES:
        return "after_build"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return "run" if cores >= CORES_FOR_THREE else "build"


def data_bytes(exports: list[Path], starts_from: Path | None) -> int:
    """The size of what a run builds on: the export files under `exports` and the published
    database it starts from (None with --fresh), for LARGE_RUN_BYTES."""
    from ingest.files import export_files

    files, _ = export_files(exports)
    return sum(f.stat().st_size for f in files) + (starts_from.stat().st_size if starts_from and starts_from.exists() else 0)


class StageFailed(Exception):
    """A gate closed: the message says why, the pipeline has already printed the details."""


@dataclass
class StageTiming:
    name: str
    started_at: dt.datetime
    seconds: float = 0.0
    detail: str = ""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _versions() -> dict[str, str]:
    v = importlib.metadata.version
    return {
        "python_version": platform.python_version(),
        "duckdb_version": duckdb.__version__,
        "dbt_core_version": v("dbt-core"),
        "dbt_duckdb_version": v("dbt-duckdb"),
        "great_expectations_version": v("great-expectations"),
        "pcr_version": v("pcr-outcomes"),
    }


def _say(text: str = "") -> None:
    print(text, flush=True)


def sweep_leftovers(published: Path) -> None:
    """What runs that never published (killed, or failed before) left beside `published`: their
    working file and their Data Docs. Called with the run lock held, by every run, also one
    that finds the published data current and builds nothing."""
    remove_db_files(working_path(published))
    docs_root = published.parent / "data_docs"
    if not docs_root.is_dir():
        return
    published_runs: set[str] = set()
    if published.exists():
        try:
            with duckdb.connect(str(published), read_only=True) as con:
                published_runs = {r for (r,) in con.execute("SELECT run_id FROM pipeline.runs").fetchall()}
        except duckdb.Error:
            return  # no run records to tell leftovers by: keep everything
    for old in docs_root.iterdir():
        if old.is_dir() and old.name not in published_runs:
            shutil.rmtree(old, ignore_errors=True)


class Pipeline:
    def __init__(self, published: Path, exports: list[Path], fresh: bool, settings: Settings, *,
                 layouts: Callable[[], list], fingerprint: Fingerprint, why: list[str] | None = None,
                 exported_at: dt.datetime | None = None, accept_collapse: bool = False,
                 rebuild_all: str | None = "no record of what the published data was built on",
                 day_changed: bool = False, checksums: dict[Path, str] | None = None) -> None:
        self.published = published
        self.working = working_path(published)
        self.exports = exports
        self.fresh = fresh
        self.exported_at = exported_at  # for files whose name does not say when they were exported
        self.accept_collapse = accept_collapse
        self.settings = settings
        self.layouts = layouts  # the layouts in use; raises LayoutError
        self.fingerprint = fingerprint  # what this build rests on, recorded with the run
        self.why = why or []  # why the published data is not current
        self.started_at = _utcnow()
        self.run_id = f"{self.started_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
        self.docs_dir = published.parent / "data_docs" / self.run_id
        self.stages: list[StageTiming] = []
        self.inputs: list[dict] = []
        self.ingest_totals = {"files_loaded": 0, "files_already_loaded": 0, "rows_loaded": 0, "rows_quarantined": 0}
        self.validation: Validated | None = None
        self.dbt_work_dir = published.parent / "dbt"
        self.groundwork: Groundwork | None = None  # started with the run
        # What to build: everything (with the reason), or what the tables this run's loads
        # changed feed, and what reads the clock when the day changed since the published run.
        self.rebuild_all = "--fresh" if fresh else rebuild_all
        self.day_changed = day_changed
        self.checksums = checksums or {}  # sha256 of the exports, as the freshness check computed them
        self.changed_tables: set[str] = set()
        self.build_scope = ""  # what the build rebuilt and why, in words

    @contextmanager
    def stage(self, name: str, doing: str) -> Iterator[StageTiming]:
        timing = StageTiming(name, _utcnow())
        self.stages.append(timing)
        _say(f"[{STAGES.index(name) + 1}/{len(STAGES)}] {name}: {doing}")
        clock = time.perf_counter()
        outcome = "failed"
        try:
            yield timing
            outcome = "done"
        finally:
            timing.seconds = time.perf_counter() - clock
            _say(f"      {name} {outcome} in {timing.seconds:.1f} s" + (f": {timing.detail}" if timing.detail else ""))

    def execute(self) -> int:
        _say(f"pcr run {self.run_id}: building {self.working.name}, publishing {self.published} if every gate passes")
        if self.why:
            _say("  because: " + "; ".join(self.why))
        failed_stage = None
        # dbt's import and parse run in a child process from now on, on another core while this
        # process copies and ingests; Great Expectations' import in another (pcr/groundwork.py).
        self.groundwork = Groundwork(self.working, self.dbt_work_dir, self.settings, say=_say,
                                     validation_starts=validation_starts(
                                         self.exports, None if self.fresh else self.published))
        try:
            self._prepare()
            kill_point("after_prepare", self.settings.kill_at_for_tests)
            self._ingest()
            kill_point("after_ingest", self.settings.kill_at_for_tests)
            self._build()
            kill_point("after_build", self.settings.kill_at_for_tests)
            self._validate()
            kill_point("after_validate", self.settings.kill_at_for_tests)
        except StageFailed as e:
            failed_stage = self.stages[-1].name
            _say(f"\nFAILED at {failed_stage}: {e}")
        finally:
            self.groundwork.stop()  # the record below writes the working file: no child may hold it
        self._record(failed_stage)
        kill_point("after_record", self.settings.kill_at_for_tests)
        if failed_stage is None:
            with self.stage("publish", f"replacing {self.published} atomically") as s:
                publish(self.working, self.published, self.settings.kill_at_for_tests)
                s.detail = f"{self.published} ({self.published.stat().st_size / 1e6:.1f} MB)"
            self._prune_data_docs()
        self._summary(failed_stage)
        return 0 if failed_stage is None else 1

    # -- stages -------------------------------------------------------------------------------

    def _prepare(self) -> None:
        with self.stage("prepare", f"working copy {self.working}") as s:
            sweep_leftovers(self.published)
            if not self.exports and (self.fresh or not self.published.exists()):
                raise StageFailed("no export files given and no published database to rebuild")
            copied = start_working_copy(self.published, self.working, self.fresh)
            if not copied:
                self.rebuild_all = self.rebuild_all or "starting from an empty database"
            s.detail = (f"copied {self.published} ({self.published.stat().st_size / 1e6:.1f} MB)" if copied
                        else "starting from an empty database")

    def _ingest(self) -> None:
        from ingest.engine import collect_files
        from ingest.layouts import LayoutError
        from ingest.load import load_files, undated_warning

        with self.stage("ingest", f"{len(self.exports)} path(s)" if self.exports else "nothing to ingest") as s:
            if not self.exports:
                s.detail = "no exports given: rebuilding from the loaded data"
                return
            files, results = collect_files(self.exports)
            if not files and not results:
                raise StageFailed("no .csv or .xlsx files under the given paths")
            try:
                layouts = self.layouts()
            except LayoutError as e:
                raise StageFailed(f"bad layout mapping: {e}") from None

            def say_file(result) -> None:
                _say(f"      {result.path}: {result.status}"
                     + (f", {result.export_date.describe()}, {result.total('rows_loaded'):,} rows loaded, "
                        f"{result.total('rows_quarantined'):,} quarantined, "
                        f"{result.total('rows_duplicate'):,} duplicates, {result.seconds:.1f} s "
                        f"({result.total('rows_read') / max(result.seconds, 1e-3):,.0f} rows/s)"
                        if result.status == "loaded" else f" ({result.message})"))

            outcome = load_files(self.working, files, layouts=layouts, hmac_key_file=self.settings.hmac_key_file,
                                 memory_limit=self.settings.memory_limit, exported_at=self.exported_at,
                                 checksums=self.checksums, on_note=lambda note: _say(f"      {note}"), on_file=say_file)
            results += outcome.results
            sha, left_behind = outcome.sha256_by_load, outcome.left_behind
            self.inputs = [{"source_path": str(r.path), "sha256": sha.get(r.load_id), "load_id": r.load_id,
                            "status": r.status} for r in results]
            loaded = [r for r in results if r.status == "loaded"]
            # Every load adds to the manifest, its column sources and maybe the quarantine.
            self.changed_tables = {table for r in loaded for source in r.sources for table in source.records} \
                | ({"load_manifest", "load_columns", "quarantine"} if loaded else set())
            rules = sum((r.quarantine_rules for r in loaded), Counter())
            self.ingest_totals = {
                "files_loaded": len(loaded),
                "files_already_loaded": sum(r.status == "skipped" for r in results),
                "rows_loaded": sum(r.total("rows_loaded") for r in loaded),
                "rows_quarantined": sum(r.total("rows_quarantined") for r in loaded),
            }
            t = self.ingest_totals
            s.detail = (f"{t['files_loaded']} file(s) loaded ({t['rows_loaded']:,} rows, "
                        f"{t['rows_quarantined']:,} quarantined), {t['files_already_loaded']} already loaded")
            if rules:
                # Rule names, lines and reasons only: quarantined raw values stay in raw.quarantine.
                _say("      quarantined rows by rule: " + ", ".join(f"{rule} {n:,}" for rule, n in rules.most_common()))
                for r in loaded:
                    for example in r.quarantine_examples[:3]:
                        _say(f"        {example}")
                _say("      every quarantined row: the Data quality page, or the table raw.quarantine")
            for sentence in left_behind:
                _say(f"      {sentence}")
            for r in loaded:
                for doubt in r.warnings:
                    _say(f"      mapping doubt: {doubt}")
            warning = undated_warning(loaded)
            if warning:
                _say(f"      {warning}")
            failed = [r for r in results if r.status == "failed"]
            if failed:
                for r in failed:
                    _say(f"      NOT LOADED {r.path}: {r.message}")
                raise StageFailed(f"{len(failed)} file(s) could not be loaded")

    def _build_selection(self) -> tuple[list[str] | None, str]:
        """dbt selectors (None: everything) and why, in words."""
        if self.rebuild_all:
            return None, self.rebuild_all
        causes = [f"{t} export" for t in sorted(self.changed_tables - {"load_manifest", "load_columns", "quarantine"})]
        causes += ["the day"] if self.day_changed else []
        if not causes:
            return None, "no new export and the same day: nothing to choose a part by"
        # The working copy holds every table of the published run; dbt rebuilds what is
        # downstream of the changed raw tables (and of the models reading the clock).
        return [f"source:raw.{t}+" for t in sorted(self.changed_tables)], " and ".join(causes) + " changed"

    def _build(self) -> None:
        with self.stage("build", "dbt build (seeds, models, data tests)") as s:
            select, why = self._build_selection()
            try:
                result = self.groundwork.build(select, self.day_changed and select is not None, **DBT_RUN_FLAGS)
            except GroundworkFailed as e:
                raise StageFailed(str(e)) from None
            scope = (f"rebuilt all {result.models_total} models ({why})" if select is None else
                     f"{why}: rebuilt {result.models_built} of {result.models_total} models; "
                     f"{result.models_total - result.models_built} unchanged")
            self.build_scope = scope
            s.detail = f"{scope}; {result.counts}"
            if result.error:
                _say(f"      dbt could not run: {result.error}")
            for node in result.failed_nodes:
                _say(f"      FAILED {node}")
            if not result.success:
                raise StageFailed(f"dbt build failed: {len(result.failed_nodes)} node(s) failed, "
                                  f"{result.skipped_nodes} skipped because of them")

    def _validate(self) -> None:
        with self.stage("validate", "Great Expectations suites: staged, marts, privacy, collapse") as s:
            # The published file is read only, through its own short-lived connection: the
            # collapse suite compares this build's numbers with what users see now.
            try:
                self.validation = v = self.groundwork.validate(self.working, self.docs_dir, self.published,
                                                               self.accept_collapse)
            except GroundworkFailed as e:
                raise StageFailed(str(e)) from None
            failed = [r for r in v.results if not r.success]
            s.detail = (f"{len(v.results)} expectations on {v.rows_checked:,} rows: "
                        f"{len(v.blocking_failures)} blocking failure(s), {len(v.warnings)} warning(s); "
                        f"Data Docs {v.data_docs}")
            for r in sorted(failed, key=lambda r: r.severity != "blocking"):
                count = (f"{r.unexpected_count:,} of {r.element_count:,} rows" if r.unexpected_count is not None
                         else r.error or "failed")
                _say(f"      {r.severity.upper():8} {r.suite}.{r.dataset}: {r.description}"
                     + (f" [{r.columns}]" if r.columns else "") + f": {count}")
                for message in r.messages:
                    _say(f"               {message}")
                for example in [] if r.messages else r.examples[:EXAMPLES_PRINTED]:
                    _say("               e.g. " + ", ".join(f"{k}={v}" for k, v in example.items()))
            for note in v.notes:
                _say(f"      note: {note}")
            if v.blocking_failures:
                raise StageFailed(f"{len(v.blocking_failures)} blocking expectation(s) failed")

    # -- records and reporting ----------------------------------------------------------------

    def _record(self, failed_stage: str | None) -> None:
        """Write the run record into the working database, checkpoint and close it."""
        if not self.working.exists():
            return
        v = self.validation
        results = v.results if v else []
        con = duckdb.connect(str(self.working))
        try:
            con.execute(RECORD_DDL)
            con.execute("BEGIN TRANSACTION")
            row = {
                "run_id": self.run_id,
                "started_at": self.started_at,
                "finished_at": _utcnow(),
                "status": "failed" if failed_stage else "published",
                "failed_stage": failed_stage,
                "fresh": self.fresh,
                "files_given": len(self.inputs),
                **self.ingest_totals,
                "expectations": len(results),
                "blocking_failures": len(v.blocking_failures) if v else 0,
                "warnings": len(v.warnings) if v else 0,
                "data_docs": str(v.data_docs) if v else None,
                **_versions(),
            }
            con.execute(f"INSERT INTO pipeline.runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                        list(row.values()))
            rows = {
                "run_inputs": [[self.run_id, i["source_path"], i["sha256"], i["load_id"], i["status"]] for i in self.inputs],
                "run_stages": [[self.run_id, s.name, s.started_at, s.seconds, s.detail] for s in self.stages],
                "validation_results": [
                    [self.run_id, r.suite, r.dataset, r.expectation, r.description, r.columns, r.severity, r.success,
                     r.element_count, r.unexpected_count, json.dumps(r.examples), r.error] for r in results],
            }
            for table, values in rows.items():
                if values:
                    con.executemany(f"INSERT INTO pipeline.{table} VALUES ({', '.join('?' * len(values[0]))})", values)
            if con.execute("SELECT count(*) FROM duckdb_tables() "
                           "WHERE schema_name = 'raw' AND table_name = 'load_manifest'").fetchone()[0]:
                # The data also rests on every earlier load this run did not see again.
                con.execute(
                    "INSERT INTO pipeline.run_inputs SELECT ?, any_value(path), any_value(sha256), load_id, "
                    "'previously_loaded' FROM raw.load_manifest WHERE load_id NOT IN (SELECT load_id FROM "
                    "pipeline.run_inputs WHERE run_id = ? AND load_id IS NOT NULL) GROUP BY load_id",
                    [self.run_id, self.run_id])
            record_fingerprint(con, self.run_id, self.fingerprint)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        finally:
            con.close()

    def _prune_data_docs(self) -> None:
        runs = sorted(p for p in self.docs_dir.parent.iterdir() if p.is_dir())
        for old in runs[:-DATA_DOCS_KEPT]:
            shutil.rmtree(old, ignore_errors=True)

    def _summary(self, failed_stage: str | None) -> None:
        total = sum(s.seconds for s in self.stages)
        _say(f"\nSummary of run {self.run_id}")
        for s in self.stages:
            share = f"{100 * s.seconds / total:3.0f}%" if total else ""
            _say(f"  {s.name:<9} {s.seconds:7.1f} s {share}")
        _say(f"  {'total':<9} {total:7.1f} s")
        if self.build_scope:
            _say(f"Build: {self.build_scope}.")
        if failed_stage is None:
            _say(f"Published {self.published}.")
        else:
            _say(f"NOT published: {self.published} is unchanged.")
            if self.working.exists():
                _say(f"The working database is kept for inspection at {self.working} (the next run replaces it).")
        if self.validation:
            # Said again last: these need the user's decision, not a fix of a row.
            for r in self.validation.results:
                if not r.success and r.messages:
                    _say(f"{r.severity.upper()} {r.suite}.{r.dataset}:" + "".join(f"\n  - {m}" for m in r.messages))
            _say(f"Data Docs: {self.validation.data_docs}")
