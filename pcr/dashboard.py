"""`pcr dashboard`: start the Streamlit dashboards on the published database.

Without authentication (no ``[auth]`` section in .streamlit/secrets.toml) the server binds to
127.0.0.1 only and the local user is a program manager. ``--address`` (e.g. 0.0.0.0) is
accepted only when authentication is configured and a roles file is set (PCR_ROLES_FILE)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from pcr import paths

APP = paths.PROJECT_ROOT / "dashboards" / "app.py"
LOOPBACK = "127.0.0.1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    parser.add_argument("--db", type=Path, default=None, help=f"database to show (default: {paths.published_db()})")
    parser.add_argument("--address", default=LOOPBACK,
                        help="interface to listen on; other than 127.0.0.1 only with st.login configured")


def auth_configured(project_root: Path = paths.PROJECT_ROOT) -> bool:
    secrets = project_root / ".streamlit" / "secrets.toml"
    if not secrets.is_file():
        return False
    try:
        return "auth" in tomllib.loads(secrets.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SystemExit(f"pcr dashboard: {secrets} is not valid TOML: {error}") from None


def command(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", args.address, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]


def run(args: argparse.Namespace) -> int:
    if args.address != LOOPBACK and not (auth_configured() and os.environ.get("PCR_ROLES_FILE")):
        print(
            f"pcr dashboard: --address {args.address} needs authentication: configure st.login ([auth] in "
            ".streamlit/secrets.toml) and a roles file (PCR_ROLES_FILE). Without it the dashboards listen on "
            f"{LOOPBACK} only.",
            file=sys.stderr,
        )
        return 2
    db = args.db or paths.published_db()
    if not db.exists():
        print(f"pcr dashboard: no database at {db}: run `pcr run` first (see the README).", file=sys.stderr)
        return 1
    env = dict(os.environ, PCR_DB=str(db.resolve()))
    print(f"PCR dashboards on http://{args.address}:{args.port} (database {db}); Ctrl-C stops them.")
    try:
        # Run from the project root so Streamlit reads the project's .streamlit/ settings.
        return subprocess.call(command(args), env=env, cwd=paths.PROJECT_ROOT)
    except KeyboardInterrupt:
        return 0
