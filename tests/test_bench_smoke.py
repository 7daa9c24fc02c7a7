"""Smoke run of the benchmark harness (bench/) at a tiny size: generation, both floors, one
real `pcr run`, the reference-against-marts check and the report. The real benchmark
(`python -m bench`) is not part of the test suite."""
from __future__ import annotations

import json
import subprocess
import sys

from pcr.settings import PROJECT_ROOT


def test_bench_runs_end_to_end_and_its_reference_agrees_with_the_marts(tmp_path):
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--sizes", "300", "--runs", "1", "--skip-startup", "--no-profile",
         "--out", str(out)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "results.json").read_text())
    size = report["sizes"]["300"]
    # The hand-written floor computes exactly the numbers the pipeline published.
    assert size["reference_disagreements"] == dict.fromkeys(size["reference_disagreements"], 0)
    assert len(size["reference_disagreements"]) == 5
    stats = size["stats"]
    for key in ("reference.seconds", "read_csv.seconds", "ingest_alone.seconds", "pcr_run.wall", "pcr_run.ingest", "pcr_run.build",
                "pcr_run.validate", "pcr_run.peak_mb"):
        assert stats[key]["median"] > 0, key
    assert stats["pcr_run.publish"]["median"] is not None  # printed to 0.1 s: may read 0.0
    assert stats["pcr_run.wall"]["median"] > stats["pcr_run.build"]["median"]
    assert {n["node"].split()[0] for n in size["dbt_slowest_nodes"]} <= {"model", "seed", "test"}
    assert size["dbt_slowest_nodes"][0]["seconds"] >= size["dbt_slowest_nodes"][-1]["seconds"] > 0
    readme = (out / "README.md").read_text()
    assert "| 300 |" in readme and "## Targets" in readme
    assert (out / "bench.png").read_bytes().startswith(b"\x89PNG")
