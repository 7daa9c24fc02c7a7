"""`pcr ingest PATH... [--db FILE] [--strict] [--exported-at DATE] [--layouts DIR]`"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections import Counter
from pathlib import Path

from pcr.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="export files or folders (folders are searched for *.csv and *.xlsx)")
    parser.add_argument("--db", type=Path, default=None,
                        help="DuckDB file to load into (default: the scratch database, $PCR_SCRATCH_DB or "
                             "scratch.duckdb in the data directory; only `pcr run` publishes)")
    parser.add_argument("--strict", action="store_true",
                        help="exit non-zero if any row is quarantined, and refuse a file with an unread column "
                             "named like a contract column the mapping leaves out")
    add_exported_at_argument(parser)
    add_layouts_argument(parser)


def add_layouts_argument(parser: argparse.ArgumentParser) -> None:
    """--layouts, shared by the commands that read exports (docs/data-contract.md, "Where layouts live")."""
    parser.add_argument("--layouts", type=Path, default=None, metavar="DIR",
                        help="the program's own layouts folder (default: $PCR_LAYOUTS_DIR, else the data "
                             "directory's layouts/); used beside the bundled ones")


def layouts_in_use(args: argparse.Namespace, settings: Settings):
    """The bundled layouts and the program's own (--layouts, else the settings' folder).
    Raises LayoutError, also for a --layouts folder that does not exist."""
    from ingest.layouts import LayoutError, load_layouts

    if args.layouts is not None and not args.layouts.is_dir():
        raise LayoutError(f"--layouts {args.layouts}: no such folder")
    return load_layouts(args.layouts or settings.program_layouts_dir, settings.bundled_layouts_dir)


def _export_date(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2026-04-20") from None
    if value > dt.datetime.now():
        raise argparse.ArgumentTypeError(f"{text} is in the future: an export cannot have been made then")
    return value


def add_exported_at_argument(parser: argparse.ArgumentParser) -> None:
    """--exported-at, shared by `pcr ingest` and `pcr run` (docs/data-contract.md, "Export dates")."""
    parser.add_argument("--exported-at", type=_export_date, default=None, metavar="DATE",
                        help="the day the given exports were made, for files whose name does not say it "
                             "(default: none stated, and a report on a past period will refuse them)")


def _describe(result) -> str:
    if result.status != "loaded":
        return f"{result.status.upper()}: {result.message}"
    kinds = ", ".join(sorted({f"{s.layout}/{s.file_kind}" for s in result.sources}))
    return (f"{kinds}, {result.export_date.describe()}: {result.total('rows_read'):,} rows, "
            f"{result.total('rows_loaded'):,} loaded, "
            f"{result.total('rows_quarantined'):,} quarantined, {result.total('rows_duplicate'):,} duplicate "
            f"(load {result.load_id}, {result.seconds:.2f} s)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.engine import collect_files
    from ingest.layouts import LayoutError
    from ingest.load import load_files

    db = args.db or settings.scratch_db
    clock = time.perf_counter()
    files, results = collect_files(args.paths)
    for r in results:
        print(f"{r.path}: {r.message}", file=sys.stderr)
    if not files and not results:
        print("no .csv or .xlsx files found", file=sys.stderr)
        return 1
    print(f"Loading {len(files)} file(s) into {db}")
    try:
        layouts = layouts_in_use(args, settings)
    except LayoutError as e:
        print(f"ERROR: bad layout mapping: {e}", file=sys.stderr)
        return 1

    def say_file(result) -> None:
        print(f"  {result.path}: {_describe(result)}", file=sys.stderr if result.status == "failed" else sys.stdout,
              flush=True)

    outcome = load_files(db, files, layouts=layouts, hmac_key_file=settings.hmac_key_file,
                         memory_limit=settings.memory_limit, exported_at=args.exported_at, strict=args.strict,
                         on_note=print, on_file=say_file)
    return _summarise(results + outcome.results, time.perf_counter() - clock, args.strict, outcome.left_behind)


def _summarise(results: list, seconds: float, strict: bool, left_behind: list[str]) -> int:
    from ingest.load import undated_warning

    loaded = [r for r in results if r.status == "loaded"]
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    print("\nSummary")
    print(f"  {'file':<48} {'read':>10} {'loaded':>10} {'quarant.':>9} {'dupl.':>7}")
    for r in loaded:
        print(f"  {r.path.name:<48} {r.total('rows_read'):>10,} {r.total('rows_loaded'):>10,} "
              f"{r.total('rows_quarantined'):>9,} {r.total('rows_duplicate'):>7,}")
    totals = {a: sum(r.total(a) for r in loaded) for a in ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate")}
    print(f"  {'TOTAL':<48} {totals['rows_read']:>10,} {totals['rows_loaded']:>10,} "
          f"{totals['rows_quarantined']:>9,} {totals['rows_duplicate']:>7,}")
    rate = totals["rows_read"] / seconds if seconds > 0 else 0.0
    print(f"  {len(loaded)} loaded, {len(skipped)} skipped (already loaded), {len(failed)} failed; "
          f"{seconds:.2f} s, {rate:,.0f} rows/s")
    if totals["rows_quarantined"]:
        rules: Counter = Counter()
        for r in loaded:
            rules.update(r.quarantine_rules)
        print(f"\nWARNING: {totals['rows_quarantined']:,} row(s) quarantined (see raw.quarantine). By rule:")
        for rule, count in rules.most_common():
            print(f"  {rule}: {count:,}")
        print("Examples:")
        for example in [e for r in loaded for e in r.quarantine_examples][:5]:
            print(f"  {example}")
    if left_behind:
        print("\nWARNING: records whose parent is not loaded (in the database, after this load):")
        for sentence in left_behind:
            print(f"  {sentence}")
    doubts = [w for r in loaded for w in r.warnings]
    if doubts:
        print(f"\nWARNING: {len(doubts)} doubt(s) about the mapping (--strict refuses such files):")
        for doubt in doubts:
            print(f"  {doubt}")
    warning = undated_warning(loaded)
    if warning:
        print(f"\n{warning}")
    if failed:
        print(f"\nERROR: {len(failed)} file(s) not loaded (database unchanged for them):", file=sys.stderr)
        for r in failed:
            print(f"  {r.path}: {r.message}", file=sys.stderr)
        return 1
    if strict and totals["rows_quarantined"]:
        print("ERROR: --strict and rows were quarantined", file=sys.stderr)
        return 1
    return 0
