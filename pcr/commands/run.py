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

from pcr.commands.ingest import add_exported_at_argument, add_layouts_argument, layouts_in_use
from pcr.settings import Settings


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
    add_exported_at_argument(parser)
    add_layouts_argument(parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from pcr.pipeline import Pipeline
    from pcr.publish import RunLock, RunLocked, lock_path

    published = (args.db or settings.published_db).absolute()
    published.parent.mkdir(parents=True, exist_ok=True)
    try:
        with RunLock(lock_path(published)):
            return Pipeline(published, list(args.paths), args.fresh, settings, exported_at=args.exported_at,
                            accept_collapse=args.accept_collapse,
                            layouts=lambda: layouts_in_use(args, settings)).execute()
    except RunLocked as e:
        print(f"pcr run: refused: {e}", file=sys.stderr)
        return 1
