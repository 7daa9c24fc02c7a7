"""`pcr report --grant ID --period 2026Q1|FY2025-26|grant --format pdf|xlsx|csv [--out DIR]`:
a funder's grant report from the published database, with small cells suppressed, stamped
with the run id and the checksums of the exports it rests on (docs/reports.md). With
`--for EMAIL` the report is made on behalf of a roles-file identity, and refused for a grant
the roles file does not link to that funder. `--partner FIRM`: a partner firm's one-page
impact report instead. `--prepare-only`: only rebuild the data a past period rests on (the
dashboards' Grant reports page runs this as a child process)."""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from pcr.commands import postgres_copy_problem
from pcr.settings import TARGETS, Settings

FORMATS = ("pdf", "xlsx", "csv")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grant", metavar="ID", help="grant id, as in the grants file")
    parser.add_argument("--partner", metavar="FIRM",
                        help="instead of a grant report: a partner firm's one-page impact report (PDF), its own cases only")
    parser.add_argument("--period", required=True, metavar="PERIOD",
                        help="a quarter (2026Q1), a fiscal year (FY2025-26), 'grant' for the whole grant, "
                             "or a year (2026) for a partner report")
    parser.add_argument("--format", dest="formats", default="pdf", metavar="FORMAT",
                        help=f"one or more of {', '.join(FORMATS)}, comma-separated (default: pdf)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: <data dir>/reports)")
    parser.add_argument("--grants", type=Path, default=None,
                        help="grants file (default: $PCR_GRANTS_FILE or config/grants.yml)")
    parser.add_argument("--db", type=Path, default=None,
                        help="published database (default: $PCR_DB or pcr.duckdb in the data directory)")
    parser.add_argument("--target", choices=TARGETS, default=None,
                        help="report from the publish of duckdb (the file) or postgres (a local copy of the "
                             "PostgreSQL publish, renewed first; default: $PCR_TARGET, else duckdb; docs/postgres.md)")
    parser.add_argument("--as-known-now", action="store_true",
                        help="report a closed period with every export loaded so far, said so on the first page, "
                             "instead of as known when its reporting window closed (needed when that state cannot "
                             "be rebuilt, e.g. exports without an export date)")
    parser.add_argument("--for", dest="for_identity", default=None, metavar="EMAIL",
                        help="produce the report on behalf of this roles-file identity: refused unless it is a program "
                             "manager or a funder the roles file links to the grant")
    parser.add_argument("--roles", type=Path, default=None,
                        help="roles file for --for (default: $PCR_ROLES_FILE)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="only make the data the report rests on (a past period rebuilt as known when it closed, "
                             "kept in <data dir>/reports); write no report")


def rebuild_models(settings: Settings):
    """The ``rebuild`` of reports.asof.prepare: dbt's models of a copied database, open work
    censored on a day, without the data tests (they ran when the exports were published)."""
    from pcr import dbt

    def rebuild(db: Path, as_of: dt.date) -> str | None:
        result = dbt.build(db, dbt_vars=f"{{as_of_date: '{as_of.isoformat()}'}}", work_dir=db.parent / "dbt",
                           exclude_resource_types=("test", "unit_test"), quiet=True, settings=settings)
        return None if result.success else (result.error or ", ".join(result.failed_nodes))

    return rebuild


def _on_behalf_of(args: argparse.Namespace, grants, settings: Settings) -> tuple[str | None, int]:
    """Why the identity of ``--for`` may not have this grant's report (None: it may), and the
    suppression threshold it gets (as on the Grant reports page)."""
    from access.scope import Role, load_roles

    if not args.for_identity:
        return "--roles needs --for EMAIL (the identity to produce the report for)", grants.threshold
    roles_file = args.roles or settings.roles_file
    if roles_file is None:
        return "--for needs a roles file: pass --roles FILE or set PCR_ROLES_FILE", grants.threshold
    roles = load_roles(roles_file)
    roles.check_grants(grants.grants, grants.path)
    scope = roles.scope_of(args.for_identity)
    threshold = grants.threshold_for(scope)
    if scope.role is Role.PARTNER:
        return (f"{scope.identity} is partner firm {scope.firm} in {roles.path}: a grant report covers every firm, "
                "so partners get none", threshold)
    if not scope.visible_grants([args.grant]):
        linked = ", ".join(sorted(scope.grants)) or "none"
        return (f"grant {args.grant} is not linked to funder {scope.identity} in {roles.path} "
                f"(grants linked to it: {linked}); no report was written", threshold)
    return None, threshold


def run(args: argparse.Namespace, settings: Settings) -> int:
    formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        print(f"pcr report: unknown format {', '.join(unknown) or '(none)'}; use {', '.join(FORMATS)}", file=sys.stderr)
        return 2
    settings = settings.with_target(args.target)
    if (problem := postgres_copy_problem(settings, args.db or settings.published_db)):
        print(f"pcr report: {problem}", file=sys.stderr)
        return 1
    if bool(args.grant) == bool(args.partner):
        print("pcr report: give --grant ID (a funder's grant report) or --partner FIRM (a firm's impact report)",
              file=sys.stderr)
        return 2
    if args.partner:
        return _partner(args, settings, formats)
    from access.reader import DataUnavailable
    from access.scope import AccessDenied
    from reports import asof, render
    from reports.build import build_report
    from reports.grants import GrantConfigError, load_grants, parse_period

    try:
        grants = load_grants(args.grants or settings.grants_file)
        grant = grants.grants.get(args.grant)
        if grant is None:
            print(f"pcr report: no grant {args.grant!r} in {grants.path}; known: {', '.join(grants.grants) or 'none'}",
                  file=sys.stderr)
            return 2
        threshold = grants.threshold
        if args.for_identity or args.roles:
            refusal, threshold = _on_behalf_of(args, grants, settings)
            if refusal:
                print(f"pcr report: {refusal}", file=sys.stderr)
                return 1
        period = parse_period(args.period, grant)
        version = asof.prepare(period, grant.close_after_days, args.db or settings.published_db,
                               work_dir=settings.data_dir / "reports", rebuild=rebuild_models(settings),
                               as_known_now=args.as_known_now)
        if args.prepare_only:
            print(f"pcr report: the data is ready ({version.db}). {version.basis}")
            return 0
        report = build_report(grant, period, version, threshold)
    except (GrantConfigError, ValueError, asof.ReportDataError, DataUnavailable, AccessDenied) as error:
        print(f"pcr report: {error}", file=sys.stderr)
        return 1
    out_dir = args.out or settings.data_dir / "reports"
    for fmt in formats:
        print(f"pcr report: wrote {render.write(report, fmt, out_dir)}")
    print(f"pcr report: {version.basis} Run {version.run_id or 'not recorded'}.")
    return 0


def _partner(args: argparse.Namespace, settings: Settings, formats: list[str]) -> int:
    """`pcr report --partner FIRM --period P`."""
    from access.reader import DataUnavailable
    from reports import asof
    from reports.grants import DEFAULT_CLOSE_AFTER_DAYS, GrantConfigError, load_grants
    from reports.partner import build_partner_report, check_firm, file_name, to_pdf
    from reports.periods import calendar_period

    if set(formats) != {"pdf"}:
        print("pcr report: a partner report is a one-page PDF: use --format pdf", file=sys.stderr)
        return 2
    try:
        period = calendar_period(args.period)
        db = args.db or settings.published_db
        firm = check_firm(args.partner, db)  # any firm of the exports; a period without its work counts zeros
        version = asof.prepare(period, DEFAULT_CLOSE_AFTER_DAYS, db, work_dir=settings.data_dir / "reports",
                               rebuild=rebuild_models(settings), as_known_now=args.as_known_now)
        if args.prepare_only:
            print(f"pcr report: the data is ready ({version.db}). {version.basis}")
            return 0
        grants_file = args.grants or settings.grants_file
        grantee = load_grants(grants_file).grantee if grants_file.exists() else ""
        report = build_partner_report(firm, period, version, grantee)
        pdf = to_pdf(report)
    except (GrantConfigError, ValueError, asof.ReportDataError, DataUnavailable) as error:
        print(f"pcr report: {error}", file=sys.stderr)
        return 1
    out_dir = args.out or settings.data_dir / "reports"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / file_name(report)
    path.write_bytes(pdf)
    print(f"pcr report: wrote {path}")
    print(f"pcr report: {version.basis} Run {version.run_id or 'not recorded'}.")
    return 0
