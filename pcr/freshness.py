"""Is the published database already what `pcr run` would build? It is when every export given
is already loaded (same sha256) and nothing the build rests on changed since the published run:
the dbt project (models, seeds, macros, dbt_project.yml), the checks (expectations/), the
pipeline's own code, the versions of the packages that compute or check, and the day (the
as-of date of open cases is today's date at the latest). Then the run stops before importing
dbt or Great Expectations.

What the published run rested on is kept in the published database (pipeline.run_fingerprints),
so the answer also says what changed when the data is not current.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

# What a build's result rests on, relative to the project root. ingest/ is here although loaded
# files are never read again: a new version of it may upgrade raw tables no new export touches
# (ingest.store.ensure_schema), and only a whole rebuild carries that into the models.
PROJECT_PARTS = ("dbt_project.yml", "models", "seeds", "macros", "expectations", "pcr", "ingest")
PROJECT_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".py", ".json"}
PACKAGES = ("duckdb", "dbt-core", "dbt-duckdb", "great_expectations", "pcr-outcomes")

FINGERPRINT_DDL = """
CREATE SCHEMA IF NOT EXISTS pipeline;
CREATE TABLE IF NOT EXISTS pipeline.run_fingerprints (
    run_id VARCHAR PRIMARY KEY,
    fingerprint JSON NOT NULL      -- {"files": {path: sha256}, "packages": {...}, "day": "YYYY-MM-DD"}
);
"""


@dataclass(frozen=True)
class Fingerprint:
    files: dict[str, str]
    packages: dict[str, str]
    day: str

    def as_json(self) -> str:
        return json.dumps({"files": self.files, "packages": self.packages, "day": self.day}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Fingerprint:
        value = json.loads(text)
        return cls(value["files"], value["packages"], value["day"])

    def changes_since(self, earlier: Fingerprint) -> list[str]:
        """What differs from `earlier`, in words, the most telling first."""
        changed: list[str] = []
        if self.day != earlier.day:
            changed.append(f"the day ({earlier.day} then, {self.day} now: open cases' as-of date)")
        for name in sorted(set(self.packages) | set(earlier.packages)):
            if self.packages.get(name) != earlier.packages.get(name):
                changed.append(f"{name} {earlier.packages.get(name, 'absent')} -> {self.packages.get(name, 'absent')}")
        files = sorted(p for p in set(self.files) | set(earlier.files) if self.files.get(p) != earlier.files.get(p))
        for path in files[:5]:
            state = "added" if path not in earlier.files else "removed" if path not in self.files else "changed"
            changed.append(f"{path} {state}")
        if len(files) > 5:
            changed.append(f"{len(files) - 5} more project file(s)")
        return changed


def current_fingerprint(project_root: Path, today: dt.date | None = None) -> Fingerprint:
    files: dict[str, str] = {}
    for part in PROJECT_PARTS:
        top = project_root / part
        candidates = [top] if top.is_file() else sorted(top.rglob("*")) if top.is_dir() else []
        for path in candidates:
            if path.is_file() and path.suffix in PROJECT_SUFFIXES and "__pycache__" not in path.parts:
                files[path.relative_to(project_root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = "absent"
    return Fingerprint(files, packages, (today or dt.date.today()).isoformat())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Freshness:
    current: bool
    reasons: list[str] = field(default_factory=list)  # why a build is needed (empty when current)
    published_run: str | None = None
    files_given: int = 0
    # Why everything must be built again (no published run, the project or a package changed),
    # or None: then only what the new exports and the day change needs rebuilding.
    rebuild_all: str | None = None
    day_changed: bool = False
    checksums: dict[Path, str] = field(default_factory=dict)  # sha256 of each export given, for ingest


def check(published: Path, exports: list[Path], fingerprint: Fingerprint) -> Freshness:
    """Compare what a run would build on with what the published run was built on. Read only,
    through a short-lived connection, like any reader of the published file."""
    if not published.exists():
        return Freshness(False, ["no published database yet"], rebuild_all="no published database yet")
    try:
        with duckdb.connect(str(published), read_only=True) as con:
            row = con.execute(
                "SELECT r.run_id, s.fingerprint FROM pipeline.runs r JOIN pipeline.run_fingerprints s USING (run_id) "
                "WHERE r.status = 'published' ORDER BY r.started_at DESC LIMIT 1").fetchone()
            loaded = {sha for (sha,) in con.execute("SELECT DISTINCT sha256 FROM raw.load_manifest").fetchall()}
    except duckdb.Error:
        row = None
    if row is None:
        unknown = "the published database does not record what it was built on"
        return Freshness(False, [unknown], rebuild_all=unknown)
    run_id, recorded = row
    earlier = Fingerprint.from_json(recorded)
    reasons = fingerprint.changes_since(earlier)
    checksums = {p: file_sha256(p) for p in exports}
    new_files = [p for p in exports if checksums[p] not in loaded]
    if new_files:
        reasons.insert(0, f"{len(new_files)} new export(s), e.g. {new_files[0]}")
    project_changed = fingerprint.files != earlier.files or fingerprint.packages != earlier.packages
    return Freshness(not reasons, reasons, run_id, len(exports),
                     rebuild_all="the project or a package changed since the published run" if project_changed else None,
                     day_changed=fingerprint.day != earlier.day, checksums=checksums)


def record(con: duckdb.DuckDBPyConnection, run_id: str, fingerprint: Fingerprint) -> None:
    con.execute(FINGERPRINT_DDL)
    con.execute("INSERT INTO pipeline.run_fingerprints VALUES (?, ?)", [run_id, fingerprint.as_json()])
