"""The floors the pipeline is measured against, each run in its own process by bench/run.py:

  python -m bench.floors reference EXPORT_DIR        # bench/reference.sql: the headline marts by hand
  python -m bench.floors read_csv EXPORT_DIR         # DuckDB's own read_csv of the same files, into memory
  python -m bench.floors read_csv_file EXPORT_DIR    # the same into a database file, written to disk

Each prints one JSON line: the seconds DuckDB spent (imports and process start excluded)."""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from bench.common import bench_dir
from pcr.settings import PROJECT_ROOT

REFERENCE_SQL = Path(__file__).with_name("reference.sql")
REFERENCE_TABLES = ("ref_granted_by_vehicle", "ref_grant_rates", "ref_removal_avoided", "ref_km_medians",
                    "ref_pro_bono")


def run_reference(con: duckdb.DuckDBPyConnection, export_dir: Path) -> float:
    """Run bench/reference.sql on `con`; the ref_* tables are left in it."""
    con.execute("SET VARIABLE export_dir = ?", [str(export_dir)])
    con.execute("SET VARIABLE seed_dir = ?", [str(PROJECT_ROOT / "seeds")])
    started = time.perf_counter()
    con.execute(REFERENCE_SQL.read_text(encoding="utf-8"))
    return time.perf_counter() - started


def run_read_csv(con: duckdb.DuckDBPyConnection, export_dir: Path) -> float:
    """Every CSV file into a table with read_csv's defaults (type detection included)."""
    started = time.perf_counter()
    for n, path in enumerate(sorted(export_dir.glob("*.csv"))):
        con.execute(f"CREATE TABLE f{n} AS SELECT * FROM read_csv(?)", [str(path)])
    return time.perf_counter() - started


def run_read_csv_file(export_dir: Path) -> float:
    """read_csv into tables of a new database file, checkpointed: what a load into a file costs
    DuckDB itself (ingest writes a file too). The file sits beside the pipeline's, on the same disk."""
    folder = bench_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        con = duckdb.connect(str(Path(tmp) / "floor.duckdb"))
        con.execute("SET enable_progress_bar = false")
        seconds = run_read_csv(con, export_dir)
        started = time.perf_counter()
        con.execute("CHECKPOINT")
        con.close()
        return seconds + time.perf_counter() - started


def main(argv: list[str]) -> int:
    what, export_dir = argv[0], Path(argv[1])
    if what == "read_csv_file":
        seconds = run_read_csv_file(export_dir)
    else:
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        seconds = {"reference": run_reference, "read_csv": run_read_csv}[what](con, export_dir)
    print(json.dumps({"seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
