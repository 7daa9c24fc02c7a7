"""`pcr run` end to end: real ingest, real dbt build, real Great Expectations, real publish.

Full runs cost several seconds each on two cores, so one session-scoped run builds the baseline
published database and each test works on its own copy of it (same HMAC key)."""
from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from small_dataset import DATASET, write_layout
from pcr.publish import KILL_ENV, RunLock, lock_path, wal_path, working_path

STAGES = ("prepare", "ingest", "build", "validate", "publish")


@dataclass
class Env:
    root: Path
    key: Path

    @property
    def published(self) -> Path:
        return self.root / "var" / "pcr.duckdb"

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PCR_DB", KILL_ENV)}
        return {**env, "PCR_DATA_DIR": str(self.root / "var"), "PCR_HMAC_KEY_FILE": str(self.key), **extra}

    def run(self, *args: str | Path, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pcr.cli", "run", *map(str, args)],
                              env=self.environ(**extra), capture_output=True, text=True, timeout=600)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def query(db: Path, sql: str) -> list[tuple]:
    # A fresh process: DuckDB caches databases per process, and we want the file as it is now.
    out = subprocess.run(
        [sys.executable, "-c", "import sys, json, duckdb; print(json.dumps(duckdb.connect(sys.argv[1], "
         "read_only=True).execute(sys.argv[2]).fetchall(), default=str))", str(db), sql],
        capture_output=True, text=True, check=True)
    return [tuple(r) for r in json.loads(out.stdout)]


def exports(root: Path, name: str, change=None) -> Path:
    """The hand-written dataset in the canonical layout, optionally changed. Unchanged tables
    are byte-identical to the baseline's, so ingest skips them by checksum."""
    data = copy.deepcopy(DATASET)
    if change:
        change(data)
    write_layout(data, "canonical", root / name)
    return root / name


@pytest.fixture(scope="session")
def baseline(tmp_path_factory) -> tuple[Env, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("pipeline")
    env = Env(root, root / "hmac.key")
    result = env.run(exports(root, "exports"))
    assert result.returncode == 0, result.stdout + result.stderr
    return env, result


@pytest.fixture
def env(baseline, tmp_path) -> Env:
    """A copy of the baseline's published database, sharing its HMAC key."""
    source, _ = baseline
    (tmp_path / "var").mkdir()
    shutil.copyfile(source.published, tmp_path / "var" / "pcr.duckdb")
    return Env(tmp_path, source.key)


def test_first_run_publishes_and_records_everything(baseline):
    env, result = baseline
    out = result.stdout
    for i, stage in enumerate(STAGES, 1):
        assert f"[{i}/5] {stage}:" in out
        assert any(line.split()[:1] == [stage] and line.rstrip().endswith("%") for line in out.splitlines()
                   if line.startswith("  ")), f"no summary line for {stage}"
    assert "Published" in out
    assert not working_path(env.published).exists() and not wal_path(env.published).exists()

    (run_id, status, blocking, warnings, docs, dbt_version), = query(
        env.published, "select run_id, status, blocking_failures, warnings, data_docs, dbt_core_version "
                       "from pipeline.runs")
    assert (status, blocking, warnings) == ("published", 0, 0)
    assert dbt_version.startswith("1.")
    assert Path(docs).is_file() and Path(docs).name == "index.html"

    inputs = dict(query(env.published, "select source_path, sha256 from pipeline.run_inputs"))
    files = {str(p): sha256(p) for p in (env.root / "exports").iterdir()}
    assert inputs == files
    assert query(env.published, "select distinct status from pipeline.run_inputs") == [("loaded",)]

    stages = [s for (s,) in query(env.published, "select stage from pipeline.run_stages order by started_at")]
    assert stages == list(STAGES[:4])  # publish happens after the record is written

    suites = dict(query(env.published, "select suite, count(*) from pipeline.validation_results "
                                       "where success group by 1"))
    assert set(suites) == {"staged", "marts", "privacy", "collapse"}
    assert query(env.published, "select count(*) from pipeline.validation_results where not success") == [(0,)]


def _event_before_intake(data: dict) -> None:
    data["immigration_events"].append(
        dict(event_id="E3", client_id="C2", event_type="removal_ordered", event_date=dt.date(2019, 1, 1)))


READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
count = "select count(*) from pipeline.runs"
print(con.execute(count).fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute(count).fetchone()[0], flush=True)
"""


def test_warning_publishes_is_recorded_and_a_reader_does_not_block_it(env):
    reader = subprocess.Popen([sys.executable, "-c", READER, str(env.published)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "1"
        result = env.run(exports(env.root, "exports_v2", _event_before_intake))
        assert result.returncode == 0, result.stdout + result.stderr
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "1"  # the reader still sees the version it opened
    finally:
        reader.communicate(timeout=30)
    assert reader.returncode == 0

    assert "WARNING  staged.immigration_events: Immigration event dated before the client's intake" in result.stdout
    assert "event_id=E3" in result.stdout
    assert "1 file(s) loaded" in result.stdout and "5 already loaded" in result.stdout
    runs = query(env.published, "select status, warnings, blocking_failures from pipeline.runs order by started_at")
    assert runs == [("published", 0, 0), ("published", 1, 0)]
    (severity, count, examples), = query(
        env.published, "select severity, unexpected_count, examples from pipeline.validation_results "
                       "where not success")
    assert (severity, count) == ("warning", 1)
    assert json.loads(examples)[0]["event_id"] == "E3"
    assert query(env.published, "select count(*) from staging.stg_immigration_events") == [(3,)]


def _motion_before_conviction(data: dict) -> None:
    data["motions"].append(dict(
        motion_id="M4", conviction_id="V3", vehicle="PC 1203.4", filing_date=dt.date(2017, 6, 1),
        hearing_date=None, decision_date=None, outcome="pending", result_type=None, grant_ground=None,
        order_states_ground=None, order_cites_subsection=None, relied_on_relief=None,
        refiled_from_motion_id=None, disposition_after_vacatur=None))


def test_blocking_failure_leaves_the_published_file_byte_identical(env):
    before = sha256(env.published)
    result = env.run(exports(env.root, "exports_v3", _motion_before_conviction) / "motions.csv")
    assert result.returncode == 1
    assert sha256(env.published) == before
    assert not wal_path(env.published).exists()
    out = result.stdout
    assert "BLOCKING staged.motions: Motion filed before the conviction it attacks" in out
    assert "1 of 4 rows" in out and "motion_id=M4" in out
    assert "FAILED at validate" in out and "NOT published" in out
    # The working database is kept for inspection, with the failed run recorded in it.
    working = working_path(env.published)
    assert query(working, "select status, failed_stage from pipeline.runs where status = 'failed'") \
        == [("failed", "validate")]
    assert query(working, "select i.status, count(*) from pipeline.run_inputs i join pipeline.runs r using (run_id) "
                          "where r.status = 'failed' group by 1 order by 1") \
        == [("loaded", 1), ("previously_loaded", 6)]


def test_unreadable_export_fails_at_ingest_and_publishes_nothing(env):
    before = sha256(env.published)
    bad = env.root / "bad"
    bad.mkdir()
    (bad / "export.csv").write_bytes(b"\xff\xfe\x00garbage\x00\x01")
    result = env.run(bad)
    assert result.returncode == 1
    assert "NOT LOADED" in result.stdout and "export.csv" in result.stdout
    assert "FAILED at ingest" in result.stdout
    assert sha256(env.published) == before


# Only the last point costs a full dbt build; tests/test_publish.py kills publish() itself at
# every step, without dbt.
@pytest.mark.parametrize("point", ["after_prepare", "after_ingest", "publish:after_wal_removed"])
def test_killed_run_leaves_the_previous_version_intact(env, point):
    before = sha256(env.published)
    result = env.run(exports(env.root, "exports_v2", _event_before_intake), **{KILL_ENV: point})
    assert result.returncode == -9, result.stdout + result.stderr
    assert sha256(env.published) == before
    assert query(env.published, "select count(*) from pipeline.runs") == [(1,)]
    assert query(env.published, "select count(*) from marts.fct_motions") == [(3,)]


def test_the_next_run_sweeps_what_a_killed_run_left(env):
    docs = env.root / "var" / "data_docs"
    result = env.run(exports(env.root, "exports_v2", _event_before_intake), **{KILL_ENV: "after_validate"})
    assert result.returncode == -9
    killed = [d.name for d in docs.iterdir()]
    assert len(killed) == 1 and (env.root / "var" / "pcr.work.duckdb").exists()
    result = env.run("--rebuild")  # the next run of any kind: here a rebuild with nothing new
    assert result.returncode == 0, result.stdout
    assert not (docs / killed[0]).exists()
    assert not (env.root / "var" / "pcr.work.duckdb").exists()
    (published_docs,) = [d.name for d in docs.iterdir()]
    assert query(env.published, "select run_id from pipeline.runs order by finished_at desc limit 1") == [(published_docs,)]


def test_a_second_concurrent_run_is_refused(env):
    before = sha256(env.published)
    with RunLock(lock_path(env.published)):
        result = env.run()
    assert result.returncode == 1
    assert "refused" in result.stderr and f"pid {os.getpid()}" in result.stderr
    assert sha256(env.published) == before


# -- the suites catch what they promise, on a real built database with faults injected -------

FAULTS = {
    # suite.dataset: description -> SQL that plants exactly one offending row
    ("staged.motions", "Motion decided before it was filed"):
        "update raw.motions set decision_date = filing_date - 30 where motion_id = 'M1'",
    ("staged.motions", "Decided motion (granted, granted in part, denied) without a decision date"):
        "update raw.motions set decision_date = null where motion_id = 'M2'",
    ("staged.immigration_events", "Immigration event date is in the future"):
        "update raw.immigration_events set event_date = date '2030-01-01' where event_id = 'E2'",
    ("staged.cases", "Case opened before the client's first intake"):
        "update raw.cases set intake_date = date '2020-01-01', eligibility_date = null, referral_date = null "
        "where case_id = 'K2'",
    ("staged.clients", "Age at intake is impossible (below 0 or above 120): date of birth or intake date is wrong"):
        "update raw.clients set age_at_intake = 150 where client_id = 'C3'",
    ("marts.motion_activity_breakdowns", "motions filed by vehicle / county / firm does not add up to the total"):
        "update marts.mart_motion_activity set motions_filed = motions_filed + 1 "
        "where dimension = 'vehicle' and period = 'all' and dimension_value = 'PC 1016.5'",
    ("marts.motion_activity", "Grant rate outside [0, 1]"):
        "update marts.mart_motion_activity set grant_rate = 1.5 where dimension = 'county' and period = 'all' "
        "and dimension_value = 'Fresno'",
    ("marts.relief_granted", "A granted motion is counted under more than one kind of relief"):
        "update marts.mart_relief_granted set offense_reductions_granted = offense_reductions_granted + 1",
    ("privacy.mart_columns", "A published table's column named like a personal identifier (name, A-number, date of birth)"):
        "alter table marts.fct_motions add column client_last_name varchar",
    ("privacy.mart_text_values", "Published tables' text values shaped like an A-number"):
        "update marts.dim_clients set country_of_birth = 'A-123-456-789' where client_id = 'C1'",
    ("privacy.mart_text_values", "Published tables' text values holding full dates (a date of birth could hide there)"):
        "update marts.dim_clients set primary_language = '04/12/1985' where client_id = 'C1'",
}


def test_each_planted_fault_fails_its_expectation_and_nothing_else(baseline, tmp_path):
    from expectations.runner import validate

    env, _ = baseline
    db = tmp_path / "faulty.duckdb"
    shutil.copyfile(env.published, db)
    con = duckdb.connect(str(db))
    for sql in FAULTS.values():
        con.execute(sql)
    con.close()

    v = validate(db, tmp_path / "docs", today=dt.date(2026, 1, 1))
    failed = {(f"{r.suite}.{r.dataset}", r.description): r for r in v.results
              if not r.success and r.severity == "blocking"}
    assert set(failed) == set(FAULTS)
    for r in failed.values():
        assert r.unexpected_count == 1, r
        assert r.examples, r
    # Privacy checks say where, never what: the planted values appear in no result and no page.
    planted = ("A-123-456-789", "04/12/1985")
    hidden = [r for r in v.results if r.suite == "privacy"]
    assert not any(p in json.dumps(r.examples) for r in hidden for p in planted)
    assert {r.examples[0]["location"] for r in hidden if r.dataset == "mart_text_values" and not r.success} \
        == {"marts.dim_clients.country_of_birth", "marts.dim_clients.primary_language"}
    for page in (tmp_path / "docs").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not any(p in text for p in planted), page


def test_groundwork_errors_fail_the_stage_that_needs_the_work_and_leave_the_environment_alone(tmp_path):
    # dbt's parse runs in a child process while ingest works: a project dbt cannot parse (here a
    # folder without dbt_project.yml) fails the build with dbt's reason, said once.
    from pcr.groundwork import Groundwork, GroundworkFailed
    from pcr.settings import Settings

    environment = dict(os.environ)
    (tmp_path / "no-project").mkdir()
    settings = Settings.from_env().replace(project_root=tmp_path / "no-project")
    printed: list[str] = []
    groundwork = Groundwork(tmp_path / "pcr.work.duckdb", tmp_path / "dbt", settings, say=printed.append)
    try:
        with pytest.raises(GroundworkFailed, match="dbt could not parse the project") as failed:
            groundwork.build()
        assert "dbt_project.yml" in str(failed.value)
        assert str(failed.value).count("could not parse") == 1
        groundwork.validation_ready()  # Great Expectations imports: the validate stage goes ahead
    finally:
        groundwork.stop()
    assert dict(os.environ) == environment


def _helpers_running() -> list[str]:
    """The roles of this process's running groundwork children, from /proc."""
    roles = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if b"pcr.groundwork" in argv:
                    roles.append(argv[argv.index(b"pcr.groundwork") + 1].decode())
        except OSError:
            continue  # a process that ended meanwhile
    return sorted(roles)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the children from /proc")
@pytest.mark.parametrize("starts", ["run", "build", "after_build"])
def test_the_validation_helper_starts_when_the_run_says(tmp_path, starts):
    # With the run when each of the run's processes has a core; else Great Expectations' import
    # would compete with ingest and dbt's start-up, and waits for the build; on large data its
    # memory would add to the build's, and it waits for the build's end.
    from pcr.groundwork import Groundwork, GroundworkFailed
    from pcr.settings import Settings

    (tmp_path / "no-project").mkdir()  # dbt's parse fails at once: the build ends quickly
    settings = Settings.from_env().replace(project_root=tmp_path / "no-project")
    groundwork = Groundwork(tmp_path / "pcr.work.duckdb", tmp_path / "dbt", settings, say=lambda line: None,
                            validation_starts=starts)
    try:
        assert _helpers_running() == (["dbt", "validation"] if starts == "run" else ["dbt"])
        with pytest.raises(GroundworkFailed):
            groundwork.build()
        assert _helpers_running() == ([] if starts == "after_build" else ["validation"])
        groundwork.validation_ready()
        assert _helpers_running() == ["validation"]
    finally:
        groundwork.stop()
    assert _helpers_running() == []


def test_large_data_starts_validation_after_the_build(tmp_path):
    from pcr.pipeline import LARGE_RUN_BYTES, data_bytes, validation_starts

    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "notes.txt").write_text("not an export")
    small = folder / "motions_2026-01-01.csv"
    small.write_text("motion_id,case_id\nm1,c1\n")
    published = tmp_path / "pcr.duckdb"
    with published.open("wb") as f:
        f.truncate(LARGE_RUN_BYTES)  # sparse: its size without writing it
    assert data_bytes([folder], None) == small.stat().st_size
    assert data_bytes([folder], tmp_path / "not-published-yet.duckdb") == small.stat().st_size
    assert data_bytes([folder], published) == small.stat().st_size + LARGE_RUN_BYTES
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert validation_starts([folder], None) == ("run" if cores >= 3 else "build")
    assert validation_starts([folder], published) == "after_build"
    with (folder / "time_entries_2026-01-01.csv").open("wb") as f:
        f.truncate(LARGE_RUN_BYTES)
    assert validation_starts([folder], None) == "after_build"
