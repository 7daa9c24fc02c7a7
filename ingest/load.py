"""Loading a set of export files into one database: the loop `pcr ingest` and the ingest stage
of `pcr run` share, each printing the results its own way."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ingest import store
from ingest.engine import FileResult, Ingestor
from ingest.layouts import Layout


@dataclass
class LoadOutcome:
    results: list[FileResult]
    sha256_by_load: dict[int, str] = field(default_factory=dict)
    left_behind: list[str] = field(default_factory=list)
    """Sentences naming records whose parent is not loaded, in the database after the loads."""

    def loaded(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "loaded"]

    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "failed"]


def load_files(db: Path, files: list[Path], *, layouts: list[Layout], hmac_key_file: Path, memory_limit: str,
               exported_at: dt.datetime | None = None, strict: bool = False,
               checksums: dict[Path, str] | None = None,
               on_note: Callable[[str], None] = lambda note: None,
               on_file: Callable[[FileResult], None] = lambda result: None) -> LoadOutcome:
    """Load each file in its own transaction (a failed file leaves the database as it was for
    it); ``on_note`` hears about an upgrade of the raw store, ``on_file`` each file's result as
    soon as it is known. ``checksums``: the sha256 of files already hashed by the caller (each
    file is hashed once per run)."""
    checksums = checksums or {}
    ingestor = Ingestor(db, layouts=layouts, hmac_key_file=hmac_key_file, memory_limit=memory_limit,
                        exported_at=exported_at, strict=strict)
    try:
        if ingestor.upgrade_note:
            on_note(ingestor.upgrade_note)
        results = []
        for path in files:
            result = ingestor.ingest_file(path, checksums.get(path))
            results.append(result)
            on_file(result)
        sha256 = dict(ingestor.con.execute(
            "SELECT load_id, any_value(sha256) FROM raw.load_manifest GROUP BY 1").fetchall())
        left_behind = store.describe_orphans(store.orphans(ingestor.con))
    finally:
        ingestor.close()
    return LoadOutcome(results, sha256, left_behind)


def undated_warning(results: list[FileResult]) -> str | None:
    """A warning naming the files loaded without a stated export date, or None."""
    undated = [r.path.name for r in results if r.export_date is not None and r.export_date.source == "load_time"]
    if not undated:
        return None
    shown = ", ".join(undated[:5]) + (f" and {len(undated) - 5} more" if len(undated) > 5 else "")
    return (f"WARNING: {len(undated)} file(s) loaded without an export date ({shown}): they are dated by the load "
            "time, and a report on a past period will refuse to count them. Put the export date in the file "
            "name (motions_2026-04-20.csv) or pass --exported-at DATE.")
