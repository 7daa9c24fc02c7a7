"""`pcr build`: run `dbt build` (seeds, models, tests, unit tests) in-process on a DuckDB file."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pcr import dbt
from pcr.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None,
                        help="DuckDB file to build in (default: the scratch database $PCR_SCRATCH_DB, as `pcr ingest`; "
                             "only `pcr run` publishes).")
    parser.add_argument("--select", nargs="+", metavar="SELECTOR",
                        help="dbt selectors, e.g. 'marts' or '+fct_motions' (default: everything).")
    parser.add_argument("--vars", dest="dbt_vars", metavar="YAML",
                        help="dbt vars, e.g. \"{as_of_date: '2025-06-30', pro_bono_hourly_rate: 450}\".")


def run(args: argparse.Namespace, settings: Settings) -> int:
    db = args.db or settings.scratch_db
    print(f"pcr build: dbt build on {db}", flush=True)
    result = dbt.build(db, select=args.select, dbt_vars=args.dbt_vars, settings=settings)
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
