"""dbt in-process on a DuckDB file: `dbt parse` and `dbt build` (seeds, models, tests, unit tests).

Nothing process-wide changes: no working directory, no environment variable. Each build writes
its own profile (the database's absolute path, threads and the memory limit, from the settings)
into a folder of its own and names it with --profiles-dir. dbt's target/ and logs/ go to a work
directory outside the source tree (default <data dir>/dbt), never into the repository.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import duckdb
import yaml

from pcr.settings import Settings

FAILED_STATUSES = {"error", "fail", "runtime error"}
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
PROFILE_NAME = "pcr"  # dbt_project.yml's profile
SHARED_PARSES_KEPT = 16  # ~1 MB each; one per database file name and --vars, most are one-offs


@dataclass
class BuildResult:
    success: bool
    failed_nodes: list[str] = field(default_factory=list)
    skipped_nodes: int = 0
    error: str | None = None


def parse(db: Path, settings: Settings, dbt_vars: str | None = None, work_dir: Path | None = None,
          target: str = "default"):
    """`dbt parse` of the project for a build on `db`: the manifest to hand to build(). It never
    opens the database, so it can run while something else writes to it. Raises DbtFailed when
    dbt cannot parse the project.

    dbt re-does a parse whole (~7 s) when the profile differs from the one of its saved parse,
    and the database's path is part of it: the parse's profile names the database by its file
    name alone (the database's name in SQL; the parse never opens it), so a parse saved for one
    data directory serves a build in any other. The build then runs on this manifest with the
    profile holding the absolute path."""
    from dbt.cli.main import dbtRunner  # slow import: only when dbt actually runs

    db, work_dir = Path(db).resolve(), work_dir or settings.data_dir / "dbt"
    saved_as = db if target == "default" else db.with_name(f"{db.name}.{target}")  # a parse per target
    with _saved_parse(saved_as, dbt_vars, work_dir / "target", settings), \
            _profiles_dir(Path(db.name), work_dir, settings) as profiles:
        outcome = dbtRunner().invoke(["parse", *_common_args(work_dir, profiles, dbt_vars, settings), "--quiet",
                                      "--target", target])
    if not outcome.success:
        raise DbtFailed(f"dbt could not parse the project: {outcome.exception or 'see ' + str(work_dir / 'logs')}")
    return outcome.result


class DbtFailed(Exception):
    """dbt could not run at all (not a failed node): the message says why."""


def build(
    db: Path,
    settings: Settings,
    select: list[str] | None = None,
    dbt_vars: str | None = None,
    work_dir: Path | None = None,
    manifest=None,
    exclude_resource_types: tuple[str, ...] = (),
    quiet: bool = False,
    log_level_file: str | None = None,
    on_node_done: Callable[[int, int], None] | None = None,
    target: str = "default",
) -> BuildResult:
    """Run `dbt build` against `db` and say which nodes failed. `manifest`: from parse() with the
    same arguments (else parsed here first).
    `exclude_resource_types`, `quiet` and `log_level_file` are dbt's flags of those names.
    `on_node_done(done, total)` hears of each node dbt finishes (from dbt's worker threads);
    `total` counts the project's nodes of the types built, all of them without `select`.
    `target`: "default" (DuckDB, `db`) or POSTGRES_TARGET (settings.postgres; `db` only names
    the saved parse)."""
    from dbt.cli.main import dbtRunner  # slow import: only when a build actually runs

    work_dir = work_dir or settings.data_dir / "dbt"
    db = Path(db).resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    if manifest is None:
        try:
            manifest = parse(db, settings, dbt_vars, work_dir, target)
        except DbtFailed as e:
            return BuildResult(False, error=str(e))
    # dbt-duckdb (keep_open: false, so the file is released after the build) closes the database
    # whenever no node holds a connection: each close is a checkpoint and each open a cold buffer
    # cache (bench/findings.md). DuckDB's client hands every connect to an open file the same
    # database instance, so holding one connection for the whole build keeps that instance open
    # in between; closing it afterwards releases it.
    try:
        held = None if target == POSTGRES_TARGET else duckdb.connect(str(db))
    except duckdb.Error as e:  # e.g. locked by another process: say so, as dbt would have
        return BuildResult(False, error=f"cannot open {db}: {e}")
    try:
        with _profiles_dir(db, work_dir, settings) as profiles:
            args = ["build", *_common_args(work_dir, profiles, dbt_vars, settings), "--target", target]
            if select:
                args += ["--select", *select]
            args += [flag for kind in exclude_resource_types for flag in ("--exclude-resource-type", kind)]
            args += ["--quiet"] if quiet else []
            args += ["--log-level-file", log_level_file] if log_level_file else []
            callbacks = [] if on_node_done is None else [_node_counter(manifest, exclude_resource_types, on_node_done)]
            outcome = dbtRunner(manifest=manifest, callbacks=callbacks).invoke(args)
    finally:
        if held is not None:
            held.close()
    results = getattr(outcome.result, "results", None) or []
    failed = [r.node.unique_id for r in results if str(r.status).lower() in FAILED_STATUSES]
    skipped = sum(1 for r in results if str(r.status).lower() == "skipped")
    error = str(outcome.exception) if outcome.exception else None
    return BuildResult(outcome.success and not failed, failed, skipped, error)


def compile_inline(db: Path, settings: Settings, jinja: str, work_dir: Path) -> str:
    """The SQL dbt renders from `jinja` (e.g. a macro's call) for a build on the DuckDB file
    `db`. Raises DbtFailed when it cannot."""
    from dbt.cli.main import dbtRunner  # slow import: only when dbt actually runs

    db = Path(db).resolve()
    with _saved_parse(db, None, work_dir / "target", settings), _profiles_dir(db, work_dir, settings) as profiles:
        outcome = dbtRunner().invoke(["compile", "--inline", jinja, *_common_args(work_dir, profiles, None, settings),
                                      "--quiet"])
    if not outcome.success:
        raise DbtFailed(f"dbt could not compile {jinja}: {outcome.exception or 'see ' + str(work_dir / 'logs')}")
    return outcome.result.results[0].node.compiled_code


def _node_counter(manifest, excluded: tuple[str, ...], on_node_done: Callable[[int, int], None]):
    built = {"model", "seed", "snapshot", "test", "unit_test"} - set(excluded)
    total = sum(1 for node in manifest.nodes.values() if str(node.resource_type) in built) \
        + (len(getattr(manifest, "unit_tests", {})) if "unit_test" in built else 0)
    done = 0
    lock = threading.Lock()

    def on_event(event) -> None:
        nonlocal done
        if event.info.name == "NodeFinished" and event.data.node_info.resource_type in built:
            with lock:
                done += 1
                on_node_done(done, total)
    return on_event


def _common_args(work_dir: Path, profiles_dir: Path, dbt_vars: str | None, settings: Settings) -> list[str]:
    args = [
        "--project-dir", str(settings.project_root),
        "--profiles-dir", str(profiles_dir),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
        "--no-send-anonymous-usage-stats",
        "--no-version-check",
    ]
    return args + (["--vars", dbt_vars] if dbt_vars else [])


def profile(db: Path, settings: Settings) -> dict:
    """dbt-duckdb's profile for `db` (absolute for a build, see parse()), the rest from the settings."""
    return {PROFILE_NAME: {"target": "default", "outputs": {"default": {
        "type": "duckdb",
        "path": str(db),
        # Release the file after each run: dbtRunner runs in-process and would otherwise keep
        # the database locked against the next step (and against the dashboards).
        "keep_open": False,
        "threads": settings.dbt_threads,
        # Above the limit DuckDB spills to <database>.tmp beside the file instead of taking
        # most of the machine's memory.
        "settings": {"memory_limit": settings.memory_limit},
    }, **_postgres_output(settings)}}}


POSTGRES_TARGET = "postgres"


def _postgres_output(settings: Settings) -> dict:
    """dbt-postgres's output, when the settings name a PostgreSQL database (docs/postgres.md).
    The password is rendered by dbt from PGPASSWORD when it connects (or libpq reads
    ~/.pgpass), so the profile written to disk never holds it."""
    pg = settings.postgres
    if pg is None:
        return {}
    return {POSTGRES_TARGET: {
        "type": "postgres", "host": pg.host, "port": pg.port, "user": pg.user, "dbname": pg.dbname,
        "password": "{{ env_var('PGPASSWORD', '') }}", "schema": "public", "threads": settings.dbt_threads,
    }}


@contextmanager
def _profiles_dir(db: Path, work_dir: Path, settings: Settings) -> Iterator[Path]:
    """A folder of this build's own holding its profiles.yml: builds running at the same time
    (the pipeline, a report's as-of rebuild) each read their own, and no process-wide state
    tells dbt where the database is."""
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="profile-", dir=work_dir) as folder:
        (Path(folder) / "profiles.yml").write_text(yaml.safe_dump(profile(db, settings)), encoding="utf-8")
        yield Path(folder)


@contextmanager
def _saved_parse(db: Path, dbt_vars: str | None, target: Path, settings: Settings) -> Iterator[None]:
    """Start from the shared saved parse when it is newer than the one in `target` (or `target`
    has none); share the one dbt leaves when dbt wrote a new one."""
    saved, shared = target / PARTIAL_PARSE_FILE, _shared_parse_file(db, dbt_vars, settings)
    _copy_if_newer(shared, saved)
    yield
    if _copy_if_newer(saved, shared):
        _prune_shared_parses(settings.dbt_parse_cache)


def _shared_parse_file(db: Path, dbt_vars: str | None, settings: Settings) -> Path:
    """The saved parse shared between data directories: one per checkout of the project (it holds
    the project's absolute paths), database file name (which names the database in SQL) and
    --vars (a parse made with other vars is re-done whole)."""
    key = hashlib.sha256(f"{settings.project_root}\0{dbt_vars or ''}".encode()).hexdigest()[:16]
    return settings.dbt_parse_cache / f"{key}-{db.name}.msgpack"


def _prune_shared_parses(cache: Path) -> None:
    """Keep the most recently written shared parses: a build into a one-off file (the grant
    report's as-of builds) or with other --vars leaves one that nothing will use again."""
    try:
        kept = sorted(cache.glob("*.msgpack"), key=_mtime, reverse=True)
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
