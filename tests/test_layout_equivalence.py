"""A program's own export, loaded through its YAML layout alone, publishes the same numbers as
the same records in the canonical layout.

One generated world (`pcr samples`' generator) is written in the canonical layout and in
`case_manager` (ingest/layouts/case_manager.yml), as CSV and as XLSX, and each is published by
a real `pcr run` (ingest, dbt build, Great Expectations, publish) in a data directory of its
own, with one HMAC key. The case_manager export has every feature of the mapping language a
real system's export needs: title rows above the header, a blank outcome meaning pending, a
time export without entry ids (keys made from columns), two yes/no columns deciding
grant_ground, no eligibility column (a constant), counties written `LOS ANGELES COUNTY`,
A-numbers dashed, spaced and A-prefixed. The world is the one the case_manager export can
carry (synth.expressible: its eligible cases), written in both layouts."""
from __future__ import annotations

import collections
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from synth import generator as synth
from pcr.cli import main as pcr_main

PROJECT = Path(__file__).resolve().parents[1]
MOTIONS, SEED = 300, 7
RUNS = {
    "canonical csv": ("canonical", "csv"),
    "case_manager csv": ("case_manager", "csv"),
    "case_manager xlsx": ("case_manager", "xlsx"),
}
# Columns that name where a record came from, not what it says: the load a merged client id was
# read in depends on how many files the export has, and a time entry's key in case_manager is
# made from its columns ("k-..."), where the canonical export gives it an id.
PROVENANCE = {("mart_client_links", "client_load_id"), ("mart_client_links", "merged_load_id"),
              ("fct_time_entries", "entry_id")}
# Marts about how the exports were laid out (which columns each layout gives), not the world.
EXPORT_SHAPE = {"mart_column_availability"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("equivalence")
    ds = synth.generate(MOTIONS, SEED, messy=False)
    carried = synth.expressible(ds, synth.load_layout("case_manager"))
    synth.write_samples(carried, root / "canonical", layouts=("canonical",), formats=("csv",))
    synth.write_samples(carried, root / "case_manager", layouts=("case_manager",))
    return ds, carried, root


@pytest.fixture(scope="module")
def published(world) -> dict[str, Path]:
    _, _, root = world
    key = root / "hmac.key"  # one key: an A-number hashes alike in every run
    dbs = {}
    for run, (layout, fmt) in RUNS.items():
        data = root / run.replace(" ", "_")
        # The dbt parse cache of the test session (conftest) is kept; a program's own layouts are not.
        env = {k: v for k, v in os.environ.items() if k not in ("PCR_DB", "PCR_LAYOUTS_DIR", "PCR_SCRATCH_DB")}
        env.update(PCR_DATA_DIR=str(data), PCR_HMAC_KEY_FILE=str(key))
        exports = root / layout / layout / fmt
        result = subprocess.run([sys.executable, "-m", "pcr.cli", "run", str(exports)], env=env, cwd=PROJECT,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{run}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        dbs[run] = data / "pcr.duckdb"
    return dbs


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_export_has_every_feature_and_the_world_is_what_it_can_carry(world):
    ds, carried, root = world
    export = root / "case_manager" / "case_manager"
    date = synth.EXPORTS[("case_manager", "csv")].isoformat()
    # The layout holds eligible cases only: the world written in both layouts is those.
    cases = ds.tables["cases"]
    assert set(carried.tables["cases"]["case_id"]) == set(cases.loc[cases["eligibility"] == "eligible", "case_id"])
    assert (cases["eligibility"] != "eligible").sum() > 10
    assert len(carried.tables["clients"]) < len(ds.tables["clients"])

    lines = (export / "csv" / f"motions_{date}.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "PCR Motions Report" and lines[1].startswith("Run 10/31/2026")
    motions = pd.read_csv(export / "csv" / f"motions_{date}.csv", skiprows=2, dtype=str, keep_default_na=False)
    sheet = CalamineWorkbook.from_path(str(export / "xlsx" / f"case_manager_{date}.xlsx")).get_sheet_by_name("motions")
    assert [row[0] for row in sheet.to_python()[:2]] == lines[:2]  # the title rows of the XLSX too

    pending = carried.tables["motions"]["outcome"].eq("pending").sum()
    has_motion = motions["Petition Ref"] != ""
    assert pending > 10 and (motions.loc[has_motion, "Ruling"] == "").sum() == pending
    assert "eligibility" not in " ".join(motions.columns).lower()
    assert {"Defect Based", "Clerical Correction"} <= set(motions.columns)
    assert {"Y", "N"} <= set(motions["Defect Based"]) and {"Y", "N"} <= set(motions["Clerical Correction"])
    assert "LOS ANGELES COUNTY" in set(motions["Court"]) and motions["Court"].str.endswith(" COUNTY").all()
    spelled = motions["A-Number"]
    assert spelled.str.fullmatch(r"A?-?\d{3}-\d{3}-\d{3}").any()  # dashed
    assert spelled.str.fullmatch(r"A \d{8,9}").any()  # spaced
    assert spelled.str.fullmatch(r"A\d{9}").any()  # A-prefixed
    time = pd.read_csv(export / "csv" / f"time_{date}.csv", dtype=str, keep_default_na=False)
    assert list(time.columns) == ["Matter Ref", "Firm", "Timekeeper", "Work Date", "Hours"]  # no entry id
    assert len(time) == len(carried.tables["time_entries"])


def test_each_run_read_every_row_and_gave_each_column_as_the_layout_says(published):
    for run, db in published.items():
        assert query(db, "SELECT count(*) FROM raw.quarantine") == [(0,)], run
        assert query(db, "SELECT sum(rows_duplicate) FROM raw.load_manifest") == [(0,)], run
    how = {(t, c): s for t, c, s in query(published["case_manager xlsx"],
                                          "SELECT DISTINCT table_name, column_name, source FROM raw.load_columns")}
    assert how[("cases", "eligibility")] == "value"
    assert how[("time_entries", "entry_id")] == "key_from"
    assert how[("motions", "grant_ground")] == "cases"
    assert how[("motions", "filing_date")] == "first_of"


def _rows(db: Path, table: str, columns: list[str]) -> collections.Counter:
    """The table's rows as a multiset; floats to 9 places (a sum of hours may be added up in
    another order)."""
    listed = ", ".join(f'"{c}"' for c in columns)
    return collections.Counter(tuple(round(v, 9) if isinstance(v, float) else v for v in row)
                               for row in query(db, f"SELECT {listed} FROM marts.{table}"))


def test_the_published_marts_equal_the_canonical_layouts_row_for_row(published, world):
    _, carried, _ = world
    canonical = published["canonical csv"]
    tables = {t: [c for c, in query(canonical, "SELECT column_name FROM information_schema.columns WHERE "
                                                f"table_schema = 'marts' AND table_name = '{t}' ORDER BY ordinal_position")]
              for t, in query(canonical, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'")}
    assert len(tables) > 10
    counts = dict(query(canonical, "SELECT 'motions', count(*) FROM marts.fct_motions UNION ALL "
                                   "SELECT 'time_entries', count(*) FROM marts.fct_time_entries"))
    assert counts == {"motions": len(carried.tables["motions"]), "time_entries": len(carried.tables["time_entries"])}
    sizes = {t: sum(_rows(canonical, t, c).values()) for t, c in tables.items()}
    assert sum(1 for n in sizes.values() if n) >= len(tables) - 1, sizes  # mart_client_links may be empty
    for run in ("case_manager csv", "case_manager xlsx"):
        db = published[run]
        assert {t for t, in query(db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'")} \
            == set(tables), run
        for table, columns in tables.items():
            if table in EXPORT_SHAPE:
                continue
            compared = [c for c in columns if (table, c) not in PROVENANCE]
            expected, got = _rows(canonical, table, compared), _rows(db, table, compared)
            assert sum(expected.values()) == sum(got.values()), (run, table)
            assert got == expected, (run, table, list((expected - got).items())[:3], list((got - expected).items())[:3])


@pytest.mark.parametrize("change,message", [
    (lambda rules: tuple(r for r in rules if r[1] != "other"),
     r"case_manager: motions\.grant_ground 'other': no case gives it and it is not the `else:` value"),
    (lambda rules: (rules[-1],) + rules[:-1],  # "both boxes N: unknown" first shadows the dropdown's cases
     r"case_manager: motions\.grant_ground '(rehabilitation|immigration_hardship|other)': case 0 holds before case [3-5] gives it"),
])
def test_samples_refuse_a_record_the_layout_cannot_carry(change, message):
    layout = synth.load_layout("case_manager")
    motions = layout.files["motions"]["motions"]
    motions["grant_ground"] = dataclasses.replace(motions["grant_ground"], rules=change(motions["grant_ground"].rules))
    ds = synth.generate(MOTIONS, SEED, messy=False)
    with pytest.raises(ValueError, match=message):
        list(synth.render_file(ds, layout, "motions", "csv"))


def test_pcr_samples_writes_the_layout_when_asked_and_only_then(tmp_path):
    assert pcr_main(["samples", "--out", str(tmp_path / "asked"), "--motions", "120", "--seed", "3",
                     "--layouts", "canonical,case_manager", "--formats", "csv"]) == 0
    written = sorted(str(p.relative_to(tmp_path / "asked")) for p in (tmp_path / "asked").rglob("*.csv"))
    date = synth.EXPORTS[("case_manager", "csv")].isoformat()
    assert [f for f in written if f.startswith("case_manager/")] == [
        f"case_manager/csv/{name}_{date}.csv" for name in ("immigration", "motions", "time")]
    manifest = synth.json.loads((tmp_path / "asked" / "generator_manifest.json").read_text(encoding="utf-8"))
    carried = synth.expressible(synth.generate(120, 3), synth.load_layout("case_manager"))
    rows = {e["layout"]: e["rows"] for e in manifest["exports"]}
    assert rows["case_manager"] == {t: len(carried.tables[t]) for t in synth.TABLE_ORDER}
    assert rows["case_manager"]["cases"] < rows["canonical"]["cases"]
    assert pcr_main(["samples", "--out", str(tmp_path / "default"), "--motions", "120", "--formats", "csv"]) == 0
    assert not (tmp_path / "default" / "case_manager").exists()
