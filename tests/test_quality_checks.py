"""The quality gate checks no less than the list of bench/results/checks-before.txt (every dbt
data test, unit test and GX expectation as they were before the data tests were grouped into one
model_checks test per model and severity), and a grouped test fails where its rule is broken,
naming the column and the rule.

One small dataset (tests/small_dataset.py) is ingested and built once with the real dbt; the
list is generated from that build's manifest and database, then rows of copies of the built
database are broken one rule at a time."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from expectations import inventory
from pcr import cli, dbt
from pcr.settings import PROJECT_ROOT, Settings
from small_dataset import DATASET, write_layout

BEFORE = PROJECT_ROOT / "bench" / "results" / "checks-before.txt"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(database, dbt work directory) of the small dataset, built with every data test."""
    root = tmp_path_factory.mktemp("quality")
    db = root / "small.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PCR_HMAC_KEY_FILE", str(root / "hmac.key"))
        mp.setenv("PCR_DATA_DIR", str(root / "var"))
        exports = write_layout(DATASET, "canonical", root / "exports")
        assert cli.main(["ingest", "--db", str(db), "--exported-at", "2025-01-02", *map(str, exports)]) == 0
        result = dbt.build(db, Settings.from_env(), work_dir=root / "dbt", exclude_resource_types=("unit_test",))
    assert result.success, f"dbt build failed: {result.failed_nodes} {result.error}"
    return db, root / "dbt"


def test_every_check_of_before_is_still_made(built):
    db, work = built
    now = inventory.checks(work / "target" / "manifest.json", db)
    before = BEFORE.read_text(encoding="utf-8").splitlines()
    lost = sorted(set(before) - set(now))
    added = sorted(set(now) - set(before))
    assert not lost, "checks lost:\n" + "\n".join(lost)
    assert not added, "checks not in checks-before.txt (add them there with the change):\n" + "\n".join(added)
    assert len(now) == len(before)  # no check listed twice where it was once


def test_data_tests_are_grouped_one_per_model_and_severity(built):
    _, work = built
    manifest = json.loads((work / "target" / "manifest.json").read_text(encoding="utf-8"))
    grouped = [(n["attached_node"], n["config"]["severity"].lower()) for n in manifest["nodes"].values()
               if n["resource_type"] == "test" and n["test_metadata"]["name"] == inventory.MODEL_CHECKS]
    assert len(grouped) == len(set(grouped))
    models = {n["attached_node"] for n in manifest["nodes"].values()
              if n["resource_type"] == "test" and n["attached_node"].startswith("model.")}
    # Every model's data tests are grouped: no per-rule test on a model is left.
    assert models == {model for model, _ in grouped}


# (table, column, rule, how to break it, severity); each on a model of its own, so one failure
# is not hidden behind another's.
BREAKS = [
    ("marts.fct_time_entries", "entry_id", "not_null", "update marts.fct_time_entries set entry_id = null", "error"),
    ("marts.dim_clients", "client_id", "unique",
     "insert into marts.dim_clients select * from marts.dim_clients limit 1", "error"),
    ("marts.fct_motions", "outcome", "accepted_values", "update marts.fct_motions set outcome = 'dismissed_by_magic'",
     "error"),
    ("marts.fct_cases", "client_id", "relationships", "update marts.fct_cases set client_id = 'C-NOWHERE'", "error"),
    ("marts.mart_column_availability", "loads_with", "non_negative",
     "update marts.mart_column_availability set loads_with = -2", "error"),
    ("marts.mart_funnel", "intake_cohort, step", "unique_combination",
     "insert into marts.mart_funnel select * from marts.mart_funnel limit 1", "error"),
]


def _failing_assertions(db: Path, work: Path) -> dict[str, tuple[str, list[tuple]]]:
    """Per failed or warning test of the last build, by unique id: (status, its rows: column,
    rule, value, rows holding it), the rows read with the test's own compiled query."""
    results = json.loads((work / "target" / "run_results.json").read_text(encoding="utf-8"))["results"]
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        for r in results:
            if r["unique_id"].startswith("test.") and r["status"] in ("fail", "warn"):
                out[r["unique_id"]] = (r["status"], con.execute(r["compiled_code"]).fetchall())
    return out


def test_a_broken_rule_fails_its_model_s_test_naming_column_and_rule(built, tmp_path):
    db, work = built
    broken = tmp_path / "broken.duckdb"
    shutil.copyfile(db, broken)
    with duckdb.connect(str(broken)) as con:
        for table, column, rule, sql, _ in BREAKS:
            # The column exists and the rule holds before it is broken.
            con.execute(f"select {column} from {table} limit 0")
            con.execute(sql)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PCR_DATA_DIR", str(tmp_path / "var"))
        result = dbt.build(broken, Settings.from_env(), select=[f"test_name:{inventory.MODEL_CHECKS}"],
                           work_dir=tmp_path / "dbt")
    assert not result.success
    failing = _failing_assertions(broken, tmp_path / "dbt")
    for table, column, rule, _, severity in BREAKS:
        model = table.split(".")[1]
        ours = {uid: rows for uid, rows in failing.items() if uid.split(".")[2] == f"{model}_checks"}
        assert len(ours) == 1, f"{model}: {sorted(failing)}"
        ((uid, (status, rows)),) = ours.items()
        assert status == ("fail" if severity == "error" else "warn")
        assert uid in result.failed_nodes
        assert (column, rule) in {(c, r) for c, r, _, _ in rows}, rows
        assert all(n >= 1 for *_, n in rows)
    # Nothing else was broken, so nothing else fails.
    assert len(failing) == len(BREAKS), sorted(failing)


def test_a_warning_rule_stays_a_warning(built, tmp_path):
    db, work = built
    broken = tmp_path / "warn.duckdb"
    shutil.copyfile(db, broken)
    with duckdb.connect(str(broken)) as con:
        con.execute("update marts.fct_cases set days_intake_to_decision = -1")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PCR_DATA_DIR", str(tmp_path / "var"))
        result = dbt.build(broken, Settings.from_env(), select=["fct_cases_checks", "fct_cases_checks_warn"],
                           work_dir=tmp_path / "dbt")
    assert result.success, result.failed_nodes
    failing = _failing_assertions(broken, tmp_path / "dbt")
    ((uid, (status, rows)),) = failing.items()
    assert uid.split(".")[2] == "fct_cases_checks_warn"
    assert status == "warn" and {(c, r) for c, r, _, _ in rows} == {("days_intake_to_decision", "non_negative")}
