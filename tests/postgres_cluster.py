"""A throwaway PostgreSQL cluster for the tests that need a real server.

Made with Debian's `initdb` in a temporary folder and started with `pg_ctl` on a Unix socket
there (as the postgres user when the tests run as root, since PostgreSQL refuses to run as
root). Without PostgreSQL installed a test using it is skipped, except in CI (CI set), where
.ci/run installs it and a missing server is a failure. Import `postgres_server` into a test
module to use it there.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SUPERUSER = "pcr"


def _postgres_program(name: str) -> str | None:
    """Debian keeps the server's programs out of PATH, in /usr/lib/postgresql/<version>/bin."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[4]))
    return found[-1] if found else shutil.which(name)


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="module")
def postgres_server():
    """A running throwaway cluster: (socket folder, port). Its superuser is `pcr`, trusted on
    the socket, which only this folder holds."""
    initdb, pg_ctl = _postgres_program("initdb"), _postgres_program("pg_ctl")
    if not initdb or not pg_ctl:
        message = "PostgreSQL's initdb/pg_ctl not found (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run the PostgreSQL comparison (.ci/run installs it)")
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="pcr-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, user="postgres")
    port = "5499"  # only in the socket file's name: the server listens on no TCP port
    data = folder / "data"
    subprocess.run(_as_server_user([initdb, "-D", str(data), "-U", SUPERUSER, "--auth=trust",
                                    "--encoding=UTF8", "--locale=C"]),
                   check=True, capture_output=True)
    started = subprocess.run(_as_server_user([
        pg_ctl, "-D", str(data), "-l", str(folder / "server.log"), "-w", "start",
        "-o", f"-k {folder} -p {port} -c listen_addresses='' -c fsync=off"]), capture_output=True, text=True)
    if started.returncode != 0:
        log = (folder / "server.log").read_text() if (folder / "server.log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {started.stderr}{log}")
    try:
        yield str(folder), port
    finally:
        subprocess.run(_as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def connect(server, dbname: str, user: str = SUPERUSER):
    import psycopg2

    host, port = server
    return psycopg2.connect(host=host, port=port, user=user, dbname=dbname)


def create_database(server, name: str) -> None:
    admin = connect(server, "postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"create database {name}")
    admin.close()
