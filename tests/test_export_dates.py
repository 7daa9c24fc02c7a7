"""How an export's date is known (docs/data-contract.md, "Export dates"): a layout's export_date
pattern on the file name, an ISO date in the name, `--exported-at`, or only the load time; what
raw.load_manifest records of it, and what an older export tells about a record loaded after a
newer one. Real files, real DuckDB databases, the real `pcr ingest`."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from small_dataset import DATASET, write_layout

from ingest.layouts import LayoutError, load_layout
from pcr.settings import Settings


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def sources(db: Path) -> dict[str, tuple[str, str]]:
    """file name -> (export date, how it was known)"""
    return {name: (str(at.date()), source) for name, at, source in query(
        db, "SELECT DISTINCT file_name, exported_at, exported_at_source FROM raw.load_manifest")}


def test_each_file_records_how_its_export_date_was_known(tmp_path, run_pcr):
    db = tmp_path / "db.duckdb"
    cms = write_layout(DATASET, "cms_report", tmp_path / "cms", suffix="_04202026")  # the CMS's MMDDYYYY stamp
    canonical = write_layout(DATASET, "canonical", tmp_path / "canonical", suffix="_2026-01-31")
    result = run_pcr("ingest", tmp_path / "cms", tmp_path / "canonical", "--db", db)
    assert result.code == 0, result.err
    assert "matters_04202026.csv: cms_report/matters, exported 2026-04-20 (file name, by its layout's export_date pattern)" \
        in result.out
    assert "exported 2026-01-31 (ISO date in the file name)" in result.out
    assert "without an export date" not in result.out
    recorded = sources(db)
    assert {recorded[p.name] for p in cms} == {("2026-04-20", "layout")}
    assert {recorded[p.name] for p in canonical} == {("2026-01-31", "file_name")}

    # Undated files: --exported-at when given (the name still wins where it has a date) ...
    write_layout(DATASET, "case_tracker", tmp_path / "tracker")
    (tmp_path / "tracker" / "hours.csv").rename(tmp_path / "tracker" / "hours_2026-02-28.csv")
    assert run_pcr("ingest", tmp_path / "tracker", "--db", db, "--exported-at", "2026-03-15").code == 0
    recorded = sources(db)
    assert recorded["tracker.csv"] == ("2026-03-15", "option")
    assert recorded["hours_2026-02-28.csv"] == ("2026-02-28", "file_name")
    # ... else only the load time, which ingest warns about, naming the file.
    write_layout(dict(DATASET, motions=DATASET["motions"][:1]), "canonical", tmp_path / "late")
    loaded_at = dt.date.today().isoformat()
    result = run_pcr("ingest", tmp_path / "late" / "motions.csv", "--db", db)
    assert result.code == 0
    assert f"exported {loaded_at}" in result.out and "(not stated: the load time)" in result.out
    assert ("WARNING: 1 file(s) loaded without an export date (motions.csv): they are dated by the load time, "
            "and a report on a past period will refuse to count them.") in result.out
    assert sources(db)["motions.csv"] == (loaded_at, "load_time")


def test_a_name_that_fails_its_layouts_date_pattern_rejects_the_file(tmp_path, run_pcr):
    db = tmp_path / "db.duckdb"
    (bad,) = [p for p in write_layout(DATASET, "cms_report", tmp_path, suffix="_13452026") if p.name.startswith("matters")]
    result = run_pcr("ingest", bad, "--db", db)
    assert result.code == 1
    assert (f"{bad}: export date: '13452026' in the file name is not a date in the format '%m%d%Y' "
            "(export_date of layout cms_report, cms_report.yml)") in result.err
    assert query(db, "SELECT count(*) FROM raw.load_manifest") == [(0,)]


def test_exported_at_must_be_a_past_date(tmp_path, run_pcr, capsys):
    (path,) = [p for p in write_layout(DATASET, "canonical", tmp_path) if p.name == "motions.csv"]
    for value, problem in (("2999-01-01", "2999-01-01 is in the future"), ("31/03/2026", "'31/03/2026' is not a date")):
        with pytest.raises(SystemExit) as exit_:
            run_pcr("ingest", path, "--db", tmp_path / "db.duckdb", "--exported-at", value)
        assert exit_.value.code == 2 and problem in capsys.readouterr().err


@pytest.mark.parametrize("spec,problem", [
    ("export_date: '%Y%m%d'", "export_date: expected a mapping"),
    ("export_date: {file_name: '_\\d{8}', format: '%Y%m%d'}", "export_date.file_name: needs a group"),
    ("export_date: {file_name: '_(\\d{8}', format: '%Y%m%d'}", "export_date.file_name: not a regular expression"),
    ("export_date: {file_name: '_(\\d{8})', format: 'YYYYMMDD'}", "export_date.format: expected strftime codes"),
])
def test_a_bad_export_date_pattern_is_a_layout_error(tmp_path, spec, problem):
    text = (Settings.from_env().bundled_layouts_dir / "canonical.yml").read_text(encoding="utf-8")
    path = tmp_path / "canonical.yml"
    path.write_text(text.replace("files:", f"{spec}\nfiles:", 1), encoding="utf-8")
    # The line of the entry in the YAML is named too (the spec sits on line 6).
    with pytest.raises(LayoutError, match=f"{path}:6: {problem}".replace("(", r"\(").replace(".", r"\.")):
        load_layout(path)


def test_an_older_export_loaded_after_a_newer_one_still_dates_what_it_carried(tmp_path, run_pcr):
    """The April export (loaded first) and the January one carry the same pending motion: the
    store keeps the January version too, not current, so the state as known in February has it."""
    db = tmp_path / "db.duckdb"
    header = "motion_id,conviction_id,vehicle,filing_date,decision_date,outcome\n"
    (tmp_path / "motions_2026-04-20.csv").write_text(header + "M1,V1,PC 1018,2026-01-05,,pending\n", encoding="utf-8")
    # Spaced differently: a byte-identical file would be skipped as already loaded.
    (tmp_path / "motions_2026-01-20.csv").write_text(header + " M1 ,V1,PC 1018,2026-01-05,,pending\n", encoding="utf-8")
    for name in ("motions_2026-04-20.csv", "motions_2026-01-20.csv"):
        assert run_pcr("ingest", tmp_path / name, "--db", db).code == 0
    assert query(db, "SELECT _exported_at::DATE::VARCHAR, _is_current, _superseded_by_load_id FROM raw.motions "
                     "ORDER BY _load_id") == [("2026-04-20", True, None), ("2026-01-20", False, 1)]
    (records,) = query(db, "SELECT records FROM raw.load_manifest WHERE load_id = 2")[0]
    assert json.loads(records)["motions"] == {"inserted": 1, "unchanged": 0, "superseded": 0, "stale": 1}
    # Loaded in date order, the same record from the later export is unchanged: nothing stored.
    db2 = tmp_path / "in_order.duckdb"
    for name in ("motions_2026-01-20.csv", "motions_2026-04-20.csv"):
        assert run_pcr("ingest", tmp_path / name, "--db", db2).code == 0
    assert query(db2, "SELECT _exported_at::DATE::VARCHAR, _is_current FROM raw.motions") == [("2026-01-20", True)]


def test_a_store_without_export_date_sources_learns_them_exactly(tmp_path, run_pcr):
    db = tmp_path / "db.duckdb"
    write_layout(DATASET, "canonical", tmp_path / "in")
    (tmp_path / "in" / "clients.csv").rename(tmp_path / "in" / "clients_2026-01-31.csv")
    assert run_pcr("ingest", tmp_path / "in" / "clients_2026-01-31.csv", "--db", db).code == 0
    assert run_pcr("ingest", tmp_path / "in" / "cases.csv", "--db", db, "--exported-at", "2026-02-01").code == 0
    assert run_pcr("ingest", tmp_path / "in" / "convictions.csv", "--db", db).code == 0
    before = sources(db)
    assert before == {"clients_2026-01-31.csv": ("2026-01-31", "file_name"), "cases.csv": ("2026-02-01", "option"),
                      "convictions.csv": (dt.date.today().isoformat(), "load_time")}
    with duckdb.connect(str(db)) as con:  # as a store written before the source was recorded
        con.execute("ALTER TABLE raw.load_manifest DROP COLUMN exported_at_source")
    result = run_pcr("ingest", tmp_path / "in" / "motions.csv", "--db", db, "--exported-at", "2026-02-01")
    assert result.code == 0
    assert ("Upgraded the raw store: recorded how each earlier load's export date was known "
            "(raw.load_manifest.exported_at_source)") in result.out
    assert sources(db) == {**before, "motions.csv": ("2026-02-01", "option")}
