"""`pcr` command line. Each subcommand lives in its own module, which defines
`add_arguments(parser)` and `run(args) -> int`; modules are imported only when their
subcommand runs, so `pcr --help` stays fast."""
from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "ingest": ("ingest.command", "Load case-outcome exports (CSV/XLSX) into the DuckDB raw schema."),
    "layout": ("ingest.layout_command", "Export layouts: list those in use, draft one from export files, check one on them."),
    "samples": ("pcr.synth", "Generate synthetic exports in every shipped layout."),
    "build": ("pcr.dbt", "Build the dbt models (staging, intermediate, marts) and run their tests."),
    "run": ("pcr.pipeline", "Run the pipeline: ingest, dbt build, Great Expectations, atomic publish."),
    "report": ("pcr.commands.report", "Write a funder's grant report (PDF, XLSX or CSV) with small cells suppressed."),
    "dashboard": ("pcr.dashboard", "Start the Streamlit dashboards on the published database (127.0.0.1 unless st.login is configured)."),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="pcr", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text)
    # Parse the command name first so only the chosen module is imported.
    known, _ = parser.parse_known_args(argv[:1] if argv and not argv[0].startswith("-") else argv)
    if not known.command:
        parser.print_help()
        return 2
    module = importlib.import_module(SUBCOMMANDS[known.command][0])
    cmd_parser = argparse.ArgumentParser(prog=f"pcr {known.command}", description=SUBCOMMANDS[known.command][1])
    module.add_arguments(cmd_parser)
    args = cmd_parser.parse_args(argv[1:])
    if known.command == "report":  # pcr/commands/ modules take the settings, read once here
        from pcr.settings import Settings

        return int(module.run(args, Settings.from_env()) or 0)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
