"""`pcr run [PATH...]`: ingest -> dbt build -> Great Expectations -> atomic publish.

Everything is built in a working copy (var/pcr.work.duckdb) of the published database
(var/pcr.duckdb). The published file is replaced, in one rename, only when ingest loaded every
file, every dbt test passed and no blocking expectation failed; otherwise it is left byte for
byte as it was and the working file stays behind for inspection (the next run deletes it).
The stages are in pcr/pipeline.py.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ingest.files import export_files
from pcr.commands.ingest import add_exported_at_argument, add_layouts_argument, layouts_in_use
from pcr.freshness import check, current_fingerprint
from pcr.settings import TARGETS, Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="export files or folders to ingest; none: rebuild and re-validate what is loaded")
    parser.add_argument("--db", type=Path, default=None,
                        help="the published database (default: $PCR_DB, else pcr.duckdb in the data directory)")
    parser.add_argument("--fresh", action="store_true",
                        help="start from an empty database instead of a copy of the published one "
                             "(the new version keeps no earlier loads, versions or run records)")
    parser.add_argument("--accept-collapse", action="store_true",
                        help="publish although a headline number or a column the metrics need went from values "
                             "to none against the published data, or a funnel step is 0 while the next is not; "
                             "the check then warns. Use it only when that change is true")
    parser.add_argument("--rebuild", action="store_true",
                        help="build and check again even when the published data is current (every export given "
                             "already loaded, the project, package versions and day unchanged since it was published)")
    parser.add_argument("--target", choices=TARGETS, default=None,
                        help="where to build and publish: duckdb or postgres (default: $PCR_TARGET, else duckdb; "
                             "docs/postgres.md)")
    add_exported_at_argument(parser)
    add_layouts_argument(parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from pcr.pipeline import Pipeline, sweep_leftovers
    from pcr.publish import RunLock, RunLocked, lock_path

    if (args.target or settings.target) == "postgres":
        from pcr.postgres_run import run_on_postgres
        return run_on_postgres(args, settings)
    published = (args.db or settings.published_db).absolute()
    published.parent.mkdir(parents=True, exist_ok=True)
    fingerprint = current_fingerprint(settings.project_root)
    try:
        with RunLock(lock_path(published)):
            why: list[str] = []
            # Everything is built again unless the published run's record shows that only new
            # exports and the day changed since (pcr/freshness.py).
            plan = {"rebuild_all": "--fresh" if args.fresh else "--rebuild" if args.rebuild
                    else "an export path does not exist", "day_changed": False, "checksums": {}}
            if not (args.fresh or args.rebuild):
                # Decided before dbt or Great Expectations is imported: a run with nothing new
                # costs reading the published run record and checksumming the exports.
                files, missing = export_files(list(args.paths))
                if not missing:
                    state = check(published, files, fingerprint)
                    if state.current:
                        sweep_leftovers(published)
                        given = f"all {len(files)} export file(s) given are loaded, and " if files else ""
                        print(f"pcr run: the published data is current: {given}the project, the package versions "
                              f"and the day ({fingerprint.day}) are as when run {state.published_run} published "
                              f"{published}. Nothing rebuilt; --rebuild builds and checks again anyway.")
                        return 0
                    why = state.reasons
                    plan = {"rebuild_all": state.rebuild_all, "day_changed": state.day_changed,
                            "checksums": state.checksums}
            return Pipeline(published, list(args.paths), args.fresh, settings, exported_at=args.exported_at,
                            accept_collapse=args.accept_collapse, fingerprint=fingerprint, why=why, **plan,
                            layouts=lambda: layouts_in_use(args, settings)).execute()
    except RunLocked as e:
        print(f"pcr run: refused: {e}", file=sys.stderr)
        return 1
