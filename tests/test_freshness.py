"""`pcr run` with nothing new publishes nothing and imports neither dbt nor Great Expectations;
a changed export, model, seed or expectation makes it build again (pcr/freshness.py)."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pcr.freshness import PROJECT_PARTS, Fingerprint, check, current_fingerprint
from pcr.settings import PROJECT_ROOT
from ingest.files import export_files
from pcr.publish import KILL_ENV, working_path
from test_pipeline import Env, exports, query, sha256

# Runs `pcr run` in-process and says which heavy packages it imported, and whether it started
# any process (the helpers that import dbt and Great Expectations, pcr/groundwork.py): a child
# that ran and was waited for has used CPU time.
PROBE = ("import json, resource, sys; from pcr import cli; code = cli.main(sys.argv[1:]); "
         "children = resource.getrusage(resource.RUSAGE_CHILDREN); "
         "print(json.dumps({'code': code, 'dbt': 'dbt.cli.main' in sys.modules, "
         "'gx': 'great_expectations' in sys.modules, 'children': children.ru_utime + children.ru_stime > 0}))")
NOTHING_STARTED = {"code": 0, "dbt": False, "gx": False, "children": False}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Env, Path]:
    root = tmp_path_factory.mktemp("freshness")
    env = Env(root, root / "hmac.key")
    given = exports(root, "exports")
    result = env.run(given)
    assert result.returncode == 0, result.stdout + result.stderr
    return env, given


@pytest.fixture
def copy(built, tmp_path) -> Env:
    """A copy of the built published database, sharing its HMAC key."""
    env, _ = built
    (tmp_path / "var").mkdir()
    shutil.copyfile(env.published, tmp_path / "var" / "pcr.duckdb")
    return Env(tmp_path, env.key)


def later_exports(root: Path) -> Path:
    """A later export: one motion's hearing date moved, everything else the same."""
    return exports(root, "later", change=lambda d: d["motions"][0].update(hearing_date=dt.date(2019, 8, 15)))


def probe(env: Env, *args: str | Path) -> tuple[dict, str]:
    out = subprocess.run([sys.executable, "-c", PROBE, "run", *map(str, args)], env=env.environ(),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    *printed, flags = out.stdout.strip().splitlines()
    return json.loads(flags), "\n".join(printed)


def test_an_unchanged_rerun_publishes_nothing_and_imports_neither_dbt_nor_gx(built):
    env, given = built
    before = sha256(env.published)
    runs_before = query(env.published, "select count(*) from pipeline.runs")

    flags, printed = probe(env, given)

    assert flags == NOTHING_STARTED
    assert "the published data is current" in printed and "Nothing rebuilt" in printed
    assert sha256(env.published) == before
    assert query(env.published, "select count(*) from pipeline.runs") == runs_before
    # No paths at all means "rebuild what is loaded": with nothing changed, nothing to do either.
    assert probe(env)[0] == NOTHING_STARTED


def test_rebuild_forces_a_build(built, copy, tmp_path):
    _, given = built
    result = copy.run(given, "--rebuild")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[3/5] build:" in result.stdout and "Published" in result.stdout
    assert len(query(copy.published, "select run_id from pipeline.runs")) == 2


def test_a_run_with_nothing_new_still_sweeps_what_a_killed_run_left(built, copy, tmp_path):
    _, given = built
    later = later_exports(tmp_path)
    killed = copy.run(later, **{KILL_ENV: "after_validate"})
    assert killed.returncode == -9
    docs = tmp_path / "var" / "data_docs"
    assert working_path(copy.published).exists() and len(list(docs.iterdir())) == 1

    flags, printed = probe(copy, given)

    assert flags == NOTHING_STARTED and "Nothing rebuilt" in printed
    assert not working_path(copy.published).exists()
    assert list(docs.iterdir()) == []


def test_a_new_export_is_a_reason_to_build_and_is_built(built, copy, tmp_path):
    _, given = built
    changed = later_exports(tmp_path)

    files, _ = export_files([changed])
    state = check(copy.published, files, current_fingerprint(PROJECT_ROOT))
    assert not state.current and "new export" in state.reasons[0]

    result = copy.run(changed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "because: 1 new export" in result.stdout and "Published" in result.stdout


@pytest.mark.parametrize("edit", [
    "models/marts/metrics/mart_funnel.sql",
    "seeds/vehicle_taxonomy.csv",
    "expectations/marts.py",
    "dbt_project.yml",
])
def test_a_changed_model_seed_expectation_or_project_file_is_a_reason_to_build(built, tmp_path, edit):
    env, given = built
    project = tmp_path / "project"
    project.mkdir()
    for part in PROJECT_PARTS:
        source = PROJECT_ROOT / part
        (shutil.copytree if source.is_dir() else shutil.copyfile)(source, project / part)
    files, _ = export_files([given])
    assert check(env.published, files, current_fingerprint(project)).current

    with (project / edit).open("a") as f:
        f.write("\n")
    state = check(env.published, files, current_fingerprint(project))
    assert not state.current
    assert state.reasons == [f"{edit} changed"]


def test_another_day_is_a_reason_to_build(built):
    env, given = built
    recorded = Fingerprint.from_json(query(env.published, "select fingerprint from pipeline.run_fingerprints")[0][0])
    tomorrow = Fingerprint(recorded.files, recorded.packages, "2999-01-01")
    files, _ = export_files([given])
    state = check(env.published, files, tomorrow)
    assert not state.current and state.reasons[0].startswith("the day")


def _descendant_models(manifest: Path, sources: list[str]) -> set[str]:
    """The models downstream of the given raw tables, from the lineage dbt wrote."""
    children = json.loads(manifest.read_text(encoding="utf-8"))["child_map"]
    found: set[str] = set()
    todo = [f"source.pcr.raw.{table}" for table in sources]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {node for node in found if node.startswith("model.")}


def _models_run(dbt_dir: Path) -> set[str]:
    results = json.loads((dbt_dir / "target" / "run_results.json").read_text(encoding="utf-8"))["results"]
    return {r["unique_id"] for r in results if r["unique_id"].startswith("model.")}


def _tables_that_differ(one: Path, other: Path) -> list[str]:
    """Tables of the built schemas whose rows differ (as multisets) between two databases."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{one}' AS one (READ_ONLY)")
    con.execute(f"ATTACH '{other}' AS other (READ_ONLY)")
    tables = con.execute("select distinct schema_name, table_name from duckdb_tables() where database_name in "
                         "('one', 'other') and schema_name in ('staging', 'intermediate', 'marts')").fetchall()
    assert ("marts", "mart_pro_bono") in tables
    differ = []
    for schema, name in sorted(tables):
        a, b = f"one.{schema}.{name}", f"other.{schema}.{name}"
        if con.execute(f"select (select count(*) from (from {a} except all from {b})) "
                       f"+ (select count(*) from (from {b} except all from {a}))").fetchone()[0]:
            differ.append(f"{schema}.{name}")
    con.close()
    return differ


def test_a_new_time_entries_export_rebuilds_only_what_depends_on_it_and_equals_a_full_rebuild(built, tmp_path):
    env, _ = built
    later = exports(tmp_path, "later_hours", change=lambda d: d["time_entries"][0].update(hours=4.25))
    partial, full = Env(tmp_path / "partial", env.key), Env(tmp_path / "full", env.key)
    for copy_ in (partial, full):
        (copy_.root / "var").mkdir(parents=True)
        shutil.copyfile(env.published, copy_.published)

    result = partial.run(later)
    assert result.returncode == 0, result.stdout + result.stderr
    rebuilt = _models_run(partial.root / "var" / "dbt")
    manifest = partial.root / "var" / "dbt" / "target" / "manifest.json"
    every_model = {n for n in json.loads(manifest.read_text(encoding="utf-8"))["nodes"] if n.startswith("model.")}
    # A new load also adds to the manifest, the column sources and the quarantine of loads.
    downstream = _descendant_models(manifest, ["time_entries", "load_manifest", "load_columns", "quarantine"])
    assert rebuilt == downstream
    assert "model.pcr.fct_time_entries" in rebuilt and "model.pcr.fct_motions" not in rebuilt
    said = (f"time_entries export changed: rebuilt {len(rebuilt)} of {len(every_model)} models; "
            f"{len(every_model) - len(rebuilt)} unchanged")
    assert said in result.stdout

    result = full.run(later, "--rebuild")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _models_run(full.root / "var" / "dbt") == every_model
    assert f"rebuilt all {len(every_model)} models (--rebuild)" in result.stdout

    assert _tables_that_differ(partial.published, full.published) == []
    assert _tables_that_differ(partial.published, env.published) != []  # the new export did change something
