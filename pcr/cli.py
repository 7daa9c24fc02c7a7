"""`pcr` command line. Each subcommand lives in its own module of pcr/commands/, which defines
`add_arguments(parser)` and `run(args, settings) -> int`; a module is imported only when its
subcommand runs, so `pcr --help` stays fast. The settings are read from the environment here,
once per command, and handed to the command."""
from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "ingest": "Load case-outcome exports (CSV/XLSX) into the DuckDB raw schema.",
    "layout": "Export layouts: list those in use, draft one from export files, check one on them.",
    "samples": "Generate synthetic exports in every shipped layout.",
    "build": "Build the dbt models (staging, intermediate, marts) and run their tests.",
    "run": "Run the pipeline: ingest, dbt build, Great Expectations, atomic publish.",
    "report": "Write a funder's grant report (PDF, XLSX or CSV) with small cells suppressed.",
    "dashboard": "Start the Streamlit dashboards on the published database (127.0.0.1 unless st.login is configured).",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="pcr", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text)
    # Parse the command name first so only the chosen module is imported.
    known, _ = parser.parse_known_args(argv[:1] if argv and not argv[0].startswith("-") else argv)
    if not known.command:
        parser.print_help()
        return 2
    module = importlib.import_module(f"pcr.commands.{known.command}")
    cmd_parser = argparse.ArgumentParser(prog=f"pcr {known.command}", description=SUBCOMMANDS[known.command])
    module.add_arguments(cmd_parser)
    args = cmd_parser.parse_args(argv[1:])
    from pcr.settings import Settings

    settings = Settings.from_env()
    try:
        return int(module.run(args, settings) or 0)
    except Exception as e:
        import duckdb  # only when a command failed: `pcr --help` and the nothing-new run stay light

        if not isinstance(e, duckdb.OutOfMemoryException):
            raise
        # Not the data's fault, and the same for every command: say which setting to raise.
        print(f"pcr {known.command}: stopped, the database ran out of the memory it may use "
              f"({settings.memory_limit}, the setting PCR_MEMORY_LIMIT). Raise it (for example "
              "PCR_MEMORY_LIMIT=4GB) and run the command again.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
