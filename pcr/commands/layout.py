"""`pcr layout list|draft|check`: the layouts in use, a first draft of a mapping from export
files, and a dry run of a mapping on export files (docs/your-export.md). What each does is in
ingest/layout_tools.py."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pcr.commands.ingest import add_layouts_argument
from pcr.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the layouts in use: bundled ones and the program's own folder",
                                 description="The layouts in use: the bundled ones and the program's own folder, "
                                             "which replaces which, their file kinds and signatures.")
    add_layouts_argument(listing)
    draft = actions.add_parser("draft", help="propose a mapping YAML from export files",
                               description="Propose a mapping YAML from export files' headers and values, with TODO "
                                           "comments where you must decide.")
    draft.add_argument("files", nargs="+", type=Path, metavar="FILE", help="export files (.csv, .xlsx)")
    draft.add_argument("--name", default=None, help="the layout's name (default: the --out file's name, else my_export)")
    draft.add_argument("--out", type=Path, default=None, help="write the draft to this file (default: standard output); "
                                                              "an existing file is never overwritten")
    add_layouts_argument(draft)
    check = actions.add_parser("check", help="dry-run a mapping on export files (no database is written)",
                               description="Dry-run a mapping on export files, in memory: where each contract column "
                                           "comes from, values with no mapping, rows that would be quarantined and "
                                           "records whose parent is missing. Exit 1 if a file would be refused or a "
                                           "row quarantined.")
    check.add_argument("layout", metavar="LAYOUT", help="a layout file (.yml), or the name of a layout in use")
    check.add_argument("files", nargs="+", type=Path, metavar="FILE", help="export files or folders")
    add_layouts_argument(check)


def _program_dir_origin(args: argparse.Namespace, settings: Settings) -> str:
    if args.layouts is not None:
        return "--layouts"
    if settings.program_layouts_dir != settings.data_dir / "layouts":
        return "PCR_LAYOUTS_DIR"
    return "layouts/ in the data directory, PCR_DATA_DIR"


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ingest import layout_tools
    from ingest.layouts import load_layouts

    if args.layouts is not None and not args.layouts.is_dir():
        print(f"ERROR: --layouts {args.layouts}: no such folder", file=sys.stderr)
        return 1
    program_dir = args.layouts or settings.program_layouts_dir

    def layouts_in_use():
        return load_layouts(program_dir, settings.bundled_layouts_dir)

    if args.action == "list":
        return layout_tools.list_layouts(program_dir, _program_dir_origin(args, settings), settings.bundled_layouts_dir)
    if args.action == "draft":
        return layout_tools.draft(args.files, args.name, args.out, layouts_in_use)
    return layout_tools.check(args.layout, args.files, layouts_in_use, hmac_key_file=settings.hmac_key_file,
                              memory_limit=settings.memory_limit)
