"""Working copy, run lock and atomic publish of the DuckDB file dashboards read.

The pipeline never writes the published database. It builds a working file in the same
directory and, only when every gate passed, renames it over the published one with
os.replace(): a rename within one filesystem is atomic, so a reader (or a crash) sees either
the old file or the new one, never a mix. A reader that holds the old file open keeps its
inode and goes on reading the old version until it reconnects.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
from pathlib import Path

# Crash tests set it to one of: after_prepare, after_ingest, after_build, after_validate,
# after_record (pcr/pipeline.py), publish:before_replace, publish:after_wal_removed,
# publish:after_replace (below).
KILL_ENV = "PCR_TEST_KILL_AT"


class RunLocked(RuntimeError):
    pass


def wal_path(db: Path) -> Path:
    return db.with_name(db.name + ".wal")


def working_path(published: Path) -> Path:
    return published.with_name(f"{published.stem}.work{published.suffix}")


def lock_path(published: Path) -> Path:
    return published.with_suffix(".lock")


def kill_point(name: str, kill_at: str | None) -> None:
    """Crash-test hook: SIGKILL this process at the named point when ``kill_at`` (the settings'
    kill_at_for_tests, PCR_TEST_KILL_AT) names it.

    SIGKILL runs no cleanup and no `finally`, like a power cut or the OOM killer."""
    if kill_at == name:
        os.kill(os.getpid(), signal.SIGKILL)


class RunLock:
    """An exclusive, non-blocking flock: a second `pcr run` on the same database is refused.

    The kernel drops the lock when the process dies, so a killed run never leaves a stale lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLocked(
                f"another pipeline run (pid {holder}) holds {self.path}; "
                "wait for it to finish (runs on one database never overlap)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._fd is not None
        os.close(self._fd)  # closing releases the flock
        self._fd = None


def remove_db_files(db: Path) -> None:
    for path in (db, wal_path(db)):
        path.unlink(missing_ok=True)


def start_working_copy(published: Path, working: Path, fresh: bool) -> bool:
    """Make `working` a copy of the published database (or nothing, for a fresh start).

    Returns whether a published database was copied. A WAL beside the published file (left by
    someone who wrote to it outside the pipeline) is copied too, so DuckDB replays it into the
    working file instead of losing it."""
    remove_db_files(working)
    if fresh or not published.exists():
        return False
    shutil.copyfile(published, working)
    if wal_path(published).exists():
        shutil.copyfile(wal_path(published), wal_path(working))
    return True


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(working: Path, published: Path, kill_at: str | None = None) -> None:
    """Atomically replace `published` with the closed, checkpointed `working` file."""
    if wal_path(working).exists():
        # Every change must be in the main file: a WAL does not travel with the rename.
        raise RuntimeError(f"{wal_path(working)} exists: the working database was not checkpointed and closed")
    _fsync_file(working)
    kill_point("publish:before_replace", kill_at)
    # A stale WAL beside the published file would be replayed onto the new file by the next
    # reader. Removing it first is safe: if we die right after, the old file is still a
    # complete, checkpointed database (its WAL held changes already folded into our copy).
    wal_path(published).unlink(missing_ok=True)
    kill_point("publish:after_wal_removed", kill_at)
    os.replace(working, published)
    kill_point("publish:after_replace", kill_at)
    _fsync_dir(published.parent)
