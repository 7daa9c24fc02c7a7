"""`pcr build`: run `dbt build` (seeds, models, tests, unit tests) in-process on a DuckDB file.

dbt's target/ and logs/ go to a work directory outside the source tree (default
<data dir>/dbt, see pcr.paths), never into the repository.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import duckdb

from pcr import paths

FAILED_STATUSES = {"error", "fail", "runtime error"}
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
SHARED_PARSES_KEPT = 16  # ~1 MB each; one per database file name and --vars, most are one-offs


@dataclass
class BuildResult:
    success: bool
    failed_nodes: list[str] = field(default_factory=list)
    skipped_nodes: int = 0
    error: str | None = None


def parse(db: Path, dbt_vars: str | None = None, work_dir: Path | None = None):
    """`dbt parse` of the project for a build on `db`: the manifest to hand to build(), or None
    if dbt could not parse (build() then parses again and reports why). It never opens the
    database, so it can run while something else writes to it."""
    from dbt.cli.main import dbtRunner  # slow import: only when dbt actually runs

    db, work_dir = Path(db).resolve(), work_dir or paths.data_dir() / "dbt"
    with _saved_parse(db, dbt_vars, work_dir / "target"), _profile_database(db):
        outcome = dbtRunner().invoke(["parse", *_common_args(work_dir, dbt_vars)])
    return outcome.result if outcome.success else None


def build(
    db: Path,
    select: list[str] | None = None,
    dbt_vars: str | None = None,
    work_dir: Path | None = None,
    manifest=None,
    exclude_resource_types: tuple[str, ...] = (),
    quiet: bool = False,
) -> BuildResult:
    """Run `dbt build` against `db` and say which nodes failed. `manifest`: from parse() with the
    same arguments, which then is not done again (~2 s even from dbt's saved parse)."""
    from dbt.cli.main import dbtRunner  # slow import: only when a build actually runs

    work_dir = work_dir or paths.data_dir() / "dbt"
    db = Path(db).resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    args = ["build", *_common_args(work_dir, dbt_vars)]
    if select:
        args += ["--select", *select]
    args += [flag for kind in exclude_resource_types for flag in ("--exclude-resource-type", kind)] + (["--quiet"] if quiet else [])
    # dbt-duckdb (keep_open: false, so the file is released after the build) closes the database
    # whenever no node holds a connection: at 1M motions it was opened and closed 39 times per
    # build, each close a checkpoint and each open a cold buffer cache (~5 s). DuckDB's client
    # hands every connect to an open file the same database instance (relative paths included),
    # so holding one connection for the whole build keeps that instance open in between; closing
    # it afterwards releases it.
    try:
        held = duckdb.connect(str(db))
    except duckdb.Error as e:  # e.g. locked by another process: say so, as dbt would have
        return BuildResult(False, error=f"cannot open {db}: {e}")
    cwd = os.getcwd()
    try:
        with _saved_parse(db, dbt_vars, work_dir / "target"), _profile_database(db):
            os.chdir(db.parent)  # the profile's path is relative to it
            outcome = dbtRunner(manifest=manifest).invoke(args)
    finally:
        os.chdir(cwd)
        held.close()
    results = getattr(outcome.result, "results", None) or []
    failed = [r.node.unique_id for r in results if str(r.status).lower() in FAILED_STATUSES]
    skipped = sum(1 for r in results if str(r.status).lower() == "skipped")
    error = str(outcome.exception) if outcome.exception else None
    return BuildResult(outcome.success and not failed, failed, skipped, error)


def _common_args(work_dir: Path, dbt_vars: str | None) -> list[str]:
    args = [
        "--project-dir", str(paths.PROJECT_ROOT),
        "--profiles-dir", str(paths.PROJECT_ROOT),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
        "--no-send-anonymous-usage-stats",
        "--no-version-check",
    ]
    return args + (["--vars", dbt_vars] if dbt_vars else [])


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for the duration (dbt reads its settings and the profile's
    database path from there), then put back what was there."""
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _profile_database(db: Path):
    """The profile reads the database path from PCR_DBT_DB (profiles.yml). dbt re-parses the
    whole project (~7 s) when the profile's values differ from those of its saved parse, and the
    path is one of them: given relative to the database's folder, it is the same for every data
    directory, so a build anywhere can start from the parse saved by any other."""
    return environment(PCR_DBT_DB=db.name)


@contextmanager
def _saved_parse(db: Path, dbt_vars: str | None, target: Path) -> Iterator[None]:
    """Start from the shared saved parse when it is newer than the one in `target` (or `target`
    has none); share the one dbt leaves when dbt wrote a new one."""
    saved, shared = target / PARTIAL_PARSE_FILE, _shared_parse_file(db, dbt_vars)
    _copy_if_newer(shared, saved)
    yield
    if _copy_if_newer(saved, shared):
        _prune_shared_parses()


def _shared_parse_file(db: Path, dbt_vars: str | None) -> Path:
    """The saved parse shared between data directories: one per checkout of the project (it holds
    the project's absolute paths), database file name (which names the database in SQL) and
    --vars (a parse made with other vars is re-done whole)."""
    key = hashlib.sha256(f"{paths.PROJECT_ROOT}\0{dbt_vars or ''}".encode()).hexdigest()[:16]
    return paths.dbt_parse_cache() / f"{key}-{db.name}.msgpack"


def _prune_shared_parses() -> None:
    """Keep the most recently written shared parses: a build into a one-off file (the grant
    report's as-of builds) or with other --vars leaves one that nothing will use again."""
    try:
        kept = sorted(paths.dbt_parse_cache().glob("*.msgpack"), key=_mtime, reverse=True)
        for old in kept[SHARED_PARSES_KEPT:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _copy_if_newer(source: Path, destination: Path) -> bool:
    """Copy, with its modification time, when `source` is newer; replaces atomically. The shared
    parse only saves time, so a failure is ignored (dbt checks every file against a saved parse
    and re-parses what changed)."""
    if _mtime(source) <= _mtime(destination):
        return False
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(f".{destination.name}.{os.getpid()}")
        shutil.copy2(source, partial)
        os.replace(partial, destination)
    except OSError:
        return False
    return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None,
                        help="DuckDB file to build in (default: the scratch database $PCR_SCRATCH_DB, as `pcr ingest`; "
                             "only `pcr run` publishes).")
    parser.add_argument("--select", nargs="+", metavar="SELECTOR",
                        help="dbt selectors, e.g. 'marts' or '+fct_motions' (default: everything).")
    parser.add_argument("--vars", dest="dbt_vars", metavar="YAML",
                        help="dbt vars, e.g. \"{as_of_date: '2025-06-30', pro_bono_hourly_rate: 450}\".")


def run(args: argparse.Namespace) -> int:
    db = args.db or paths.scratch_db()
    print(f"pcr build: dbt build on {db}", flush=True)
    result = build(db, select=args.select, dbt_vars=args.dbt_vars)
    if result.success:
        print("pcr build: OK", flush=True)
        return 0
    if result.error:
        print(f"pcr build: dbt could not run: {result.error}", file=sys.stderr)
    if result.failed_nodes:
        print(f"pcr build: {len(result.failed_nodes)} node(s) failed "
              f"({result.skipped_nodes} skipped because of them):", file=sys.stderr)
        for node in result.failed_nodes:
            print(f"  - {node}", file=sys.stderr)
    return 1
