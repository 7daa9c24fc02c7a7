"""`pcr dashboard`: start the Streamlit dashboards on the published database.

Without authentication (no ``[auth]`` section in the secrets file) the server binds to
127.0.0.1 only and the local user is a program manager. ``--address`` (e.g. 0.0.0.0) is
accepted only when authentication is configured and a roles file is set (PCR_ROLES_FILE).

The secrets file is ``.streamlit/secrets.toml`` of the project, or the file named by
``PCR_SECRETS_FILE`` (a deployment mounts it, docs/deployment.md); Streamlit is told to read
that file and no other, so what this command checks is what the server uses.

The command owns its server: Streamlit runs as a child process, and SIGTERM, SIGINT (Ctrl-C)
or SIGHUP sent to this command stop it; on Linux the child also stops if this command is
killed outright. A port already taken is refused before anything starts, and the address is
printed only once the server answers on its health endpoint."""
from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

from pcr.commands import postgres_copy_problem
from pcr.settings import TARGETS, Settings

APP = Path(__file__).resolve().parent.parent / "dashboard_app.py"
LOOPBACK = "127.0.0.1"
HEALTH_PATH = "/_stcore/health"  # Streamlit's own health endpoint: "ok" once it serves
START_TIMEOUT_S = 90
STOP_TIMEOUT_S = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    parser.add_argument("--db", type=Path, default=None, help="database to show (default: $PCR_DB, else pcr.duckdb in the data directory)")
    parser.add_argument("--address", default=LOOPBACK,
                        help="interface to listen on; other than 127.0.0.1 only with st.login configured")
    parser.add_argument("--target", choices=TARGETS, default=None,
                        help="show the publish of duckdb (the file) or postgres (a local copy of the PostgreSQL "
                             "publish, kept current; default: $PCR_TARGET, else duckdb; docs/postgres.md)")


def secrets_file(settings: Settings) -> Path:
    return settings.secrets_file or settings.project_root / ".streamlit" / "secrets.toml"


def auth_configured(settings: Settings) -> bool:
    secrets = secrets_file(settings)
    if not secrets.is_file():
        return False
    try:
        return "auth" in tomllib.loads(secrets.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SystemExit(f"pcr dashboard: {secrets} is not valid TOML: {error}") from None


def command(args: argparse.Namespace, settings: Settings) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", args.address, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--secrets.files", str(secrets_file(settings)),
    ]


def port_taken(address: str, port: int) -> str | None:
    """Why ``address:port`` cannot be listened on, or None when it can. Same socket option as
    the server's (SO_REUSEADDR), so a port left in TIME_WAIT by a stopped server counts as free."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def _health_url(address: str, port: int) -> str:
    host = {"0.0.0.0": LOOPBACK, "::": "::1"}.get(address, address)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{HEALTH_PATH}"


def _serving(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    try:
        with opener.open(url, timeout=2) as response:
            return response.read() == b"ok"
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child, before Streamlit starts: Linux sends it SIGTERM when this command dies,
    even by SIGKILL, so no server outlives its command."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.address != LOOPBACK and not (auth_configured(settings) and settings.roles_file):
        print(
            f"pcr dashboard: --address {args.address} needs authentication: configure st.login ([auth] in "
            f"{secrets_file(settings)}) and a roles file (PCR_ROLES_FILE). Without it the dashboards listen on "
            f"{LOOPBACK} only.",
            file=sys.stderr,
        )
        return 2
    settings = settings.with_target(args.target)
    db = args.db or settings.published_db
    if (problem := postgres_copy_problem(settings, db)):  # the server then keeps it current (dashboards/session.py)
        print(f"pcr dashboard: {problem}", file=sys.stderr)
        return 1
    if not db.exists():
        print(f"pcr dashboard: no database at {db}: run `pcr run` first (see the README).", file=sys.stderr)
        return 1
    if (problem := port_taken(args.address, args.port)):
        print(f"pcr dashboard: cannot listen on {args.address} port {args.port}: {problem}. Another program (or "
              f"another `pcr dashboard`) is using it: stop that, or choose another port with --port.", file=sys.stderr)
        return 1
    # The server reads its settings back from these variables (pcr/dashboard_app.py).
    env = dict(os.environ, **settings.replace(published_db=db.resolve()).environment())
    # One BLAS thread: the server's matrices are small (suppression's linear algebra), and
    # OpenBLAS threads spinning for a second core that other work holds made a funder's page's
    # suppression take over 4 times longer on a busy 2-core machine.
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    # Run from the project root so Streamlit reads the project's .streamlit/ settings. Its own
    # process group: a Ctrl-C in the terminal reaches this command only, which stops the server once.
    server = subprocess.Popen(command(args, settings), env=env, cwd=settings.project_root, process_group=0,
                              preexec_fn=_die_with_parent)
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        url, deadline = _health_url(args.address, args.port), time.monotonic() + START_TIMEOUT_S
        while not stopping and server.poll() is None and not _serving(url):
            if time.monotonic() > deadline:
                print(f"pcr dashboard: the server did not answer on {url} within {START_TIMEOUT_S} s; stopping it.",
                      file=sys.stderr)
                stop(None, None)
                break
            time.sleep(0.2)
        else:
            if server.poll() is None and not stopping:
                shown = f"every interface, port {args.port}" if args.address in ("0.0.0.0", "::") else f"http://{args.address}:{args.port}"
                print(f"PCR dashboards on {shown} (database {db}); Ctrl-C stops them.", flush=True)
        stop_sent = None
        while server.poll() is None:
            if stopping and stop_sent is None:
                stop_sent = time.monotonic()
            if stop_sent is not None and time.monotonic() - stop_sent > STOP_TIMEOUT_S:
                server.kill()  # it ignored SIGTERM
            time.sleep(0.2)
        if server.returncode and not stopping:
            print(f"pcr dashboard: the server stopped with exit code {server.returncode}.", file=sys.stderr)
        return 0 if stopping else server.returncode
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if server.poll() is None:  # an error in this command: never leave the server behind
            server.kill()
            server.wait()
