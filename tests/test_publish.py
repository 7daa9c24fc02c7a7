"""Publishing mechanics on real DuckDB files, without dbt: atomic replace under a reader,
crashes at each point of publish, WAL handling, the run lock."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pcr.publish import (
    KILL_ENV,
    RunLock,
    RunLocked,
    lock_path,
    publish,
    start_working_copy,
    wal_path,
    working_path,
)

READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("select version from t").fetchone()[0], flush=True)
sys.stdin.readline()  # hold the connection until the test says so
print(con.execute("select version from t").fetchone()[0], flush=True)
"""


def make_db(path: Path, version: int) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create or replace table t as select ? as version", [version])
    con.close()
    return path


def read_version(path: Path) -> int:
    # A subprocess: DuckDB caches open databases per process, a fresh process sees the file as it is.
    out = subprocess.run([sys.executable, "-c", "import sys, duckdb; print(duckdb.connect(sys.argv[1], "
                          "read_only=True).execute('select version from t').fetchone()[0])", str(path)],
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_replaces_while_a_reader_holds_the_old_file(tmp_path):
    published = make_db(tmp_path / "pcr.duckdb", 1)
    working = make_db(working_path(published), 2)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(published)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "1"
        publish(working, published)
        assert not working.exists()
        assert read_version(published) == 2
        # The reader keeps reading the version it opened, undisturbed.
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "1"
    finally:
        reader.communicate(timeout=30)
    assert reader.returncode == 0


CRASH = """
import sys
from pathlib import Path
from pcr.publish import publish
from pcr.settings import Settings
publish(Path(sys.argv[1]), Path(sys.argv[2]), kill_at=Settings.from_env().kill_at_for_tests)
"""


@pytest.mark.parametrize("point, survivor", [
    ("publish:before_replace", 1),
    ("publish:after_wal_removed", 1),
    ("publish:after_replace", 2),
])
def test_killed_publish_leaves_one_complete_version(tmp_path, point, survivor):
    published = make_db(tmp_path / "pcr.duckdb", 1)
    before = sha256(published)
    working = make_db(working_path(published), 2)
    proc = subprocess.run([sys.executable, "-c", CRASH, str(working), str(published)],
                          env={**os.environ, KILL_ENV: point}, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    assert read_version(published) == survivor
    if survivor == 1:
        assert sha256(published) == before


def test_publish_refuses_a_working_file_with_a_pending_wal(tmp_path):
    published = make_db(tmp_path / "pcr.duckdb", 1)
    before = sha256(published)
    working = make_db(working_path(published), 2)
    wal_path(working).write_bytes(b"not checkpointed")
    with pytest.raises(RuntimeError, match="not checkpointed"):
        publish(working, published)
    assert sha256(published) == before


def test_publish_removes_a_stale_wal_beside_the_published_file(tmp_path):
    published = make_db(tmp_path / "pcr.duckdb", 1)
    wal_path(published).write_bytes(b"stale")
    publish(make_db(working_path(published), 2), published)
    assert not wal_path(published).exists()
    assert read_version(published) == 2


def test_working_copy_replaces_a_stale_one_and_carries_a_published_wal(tmp_path):
    published = tmp_path / "pcr.duckdb"
    con = duckdb.connect(str(published))
    con.execute("create table t as select 1 as version")
    con.execute("checkpoint")
    con.execute("update t set version = 7")  # only in the WAL
    # Simulate a writer that died: copy its files while the WAL is still there.
    for source in (published, wal_path(published)):
        (tmp_path / ("crashed." + source.name)).write_bytes(source.read_bytes())
    con.close()
    published.unlink()
    (tmp_path / "crashed.pcr.duckdb").rename(published)
    (tmp_path / "crashed.pcr.duckdb.wal").rename(wal_path(published))

    working = working_path(published)
    working.write_bytes(b"left by a killed run")
    assert start_working_copy(published, working, fresh=False)
    assert read_version(working) == 7

    assert not start_working_copy(published, working, fresh=True)
    assert not working.exists()


def test_second_run_lock_is_refused_with_the_holders_pid(tmp_path):
    path = lock_path(tmp_path / "pcr.duckdb")
    with RunLock(path):
        with pytest.raises(RunLocked, match=rf"pid {os.getpid()}"):
            with RunLock(path):
                pass
    with RunLock(path):  # released on exit
        pass
