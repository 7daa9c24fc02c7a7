"""`pcr report --grant ID --period 2026Q1|FY2025-26|grant --format pdf|xlsx|csv [--out DIR]`:
a funder's grant report from the published database, with small cells suppressed, stamped
with the run id and the checksums of the exports it rests on (docs/reports.md)."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pcr import paths

FORMATS = ("pdf", "xlsx", "csv")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grant", required=True, metavar="ID", help="grant id, as in the grants file")
    parser.add_argument("--period", required=True, metavar="PERIOD",
                        help="a quarter (2026Q1), a fiscal year (FY2025-26) or 'grant' for the whole grant")
    parser.add_argument("--format", dest="formats", default="pdf", metavar="FORMAT",
                        help=f"one or more of {', '.join(FORMATS)}, comma-separated (default: pdf)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <data dir>/reports)")
    parser.add_argument("--grants", type=Path, default=None,
                        help="grants file (default: $PCR_GRANTS_FILE or config/grants.yml)")
    parser.add_argument("--db", type=Path, default=None, help=f"published database (default: {paths.published_db()})")


def _quiet_streamlit() -> None:
    """The access layer caches with st.cache_data; outside a Streamlit server that logs a
    harmless 'No runtime found' warning, which is noise on a command line. A filter, not a
    level: Streamlit resets its loggers' levels when it reads its configuration."""
    logging.getLogger("streamlit.runtime.caching.cache_data_api").addFilter(
        lambda record: "No runtime found" not in record.getMessage())


def run(args: argparse.Namespace) -> int:
    formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        print(f"pcr report: unknown format {', '.join(unknown) or '(none)'}; use {', '.join(FORMATS)}", file=sys.stderr)
        return 2
    _quiet_streamlit()  # before the imports: the access layer's cache is made when it loads
    from dashboards.access import DataUnavailable
    from reports import asof, render
    from reports.build import build_report
    from reports.grants import GrantConfigError, load_grants, parse_period

    try:
        grants = load_grants(args.grants)
        grant = grants.grants.get(args.grant)
        if grant is None:
            print(f"pcr report: no grant {args.grant!r} in {grants.path}; known: {', '.join(grants.grants) or 'none'}",
                  file=sys.stderr)
            return 2
        period = parse_period(args.period, grant)
        version = asof.prepare(period, grant.close_after_days, args.db)
        report = build_report(grant, period, version, grants.threshold)
    except (GrantConfigError, ValueError, asof.ReportDataError, DataUnavailable) as error:
        print(f"pcr report: {error}", file=sys.stderr)
        return 1
    out_dir = args.out or paths.data_dir() / "reports"
    for fmt in formats:
        print(f"pcr report: wrote {render.write(report, fmt, out_dir)}")
    print(f"pcr report: {version.basis} Run {version.run_id or 'not recorded'}.")
    return 0
