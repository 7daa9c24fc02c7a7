"""The synthetic export generator (synth/generator.py): determinism, layout headers, integrity of the
clean records, messiness bookkeeping, realism properties."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from python_calamine import CalamineWorkbook

from ingest.contract import CALIFORNIA_COUNTIES, TABLE_ORDER, TABLES
from ingest.layouts import BUNDLED_LAYOUTS_DIR
from pcr.cli import main as pcr_main
from pcr.settings import PROJECT_ROOT
from synth import generator as synth


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[synth.Dataset, Path, dict]:
    out = tmp_path_factory.mktemp("samples")
    ds = synth.generate(400, seed=7)
    manifest = synth.write_samples(ds, out)
    return ds, out, manifest


def _clean(ds: synth.Dataset) -> dict[str, pd.DataFrame]:
    return {t: ds.tables[t][ds.messy[t] == ""] for t in TABLE_ORDER}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, rendered):
    _, first, _ = rendered
    again = tmp_path / "again"
    assert pcr_main(["samples", "--out", str(again), "--motions", "400", "--seed", "7"]) == 0
    assert _digests(again) == _digests(first)
    other = tmp_path / "other"
    synth.write_samples(synth.generate(400, seed=8), other, formats=("csv",))
    changed = [f for f, d in _digests(other).items() if f.endswith(".csv") and d != _digests(first)[f]]
    assert len(changed) == len([f for f in _digests(other) if f.endswith(".csv")])


def test_every_layout_header_has_signature_and_mapped_columns(rendered):
    _, out, manifest = rendered
    for name in synth.LAYOUTS:
        spec = yaml.safe_load((BUNDLED_LAYOUTS_DIR / f"{name}.yml").read_text(encoding="utf-8"))
        book = CalamineWorkbook.from_path(str(out / synth.export_file(name, "xlsx")))
        assert book.sheet_names == list(spec["files"])
        for file_key, file_spec in spec["files"].items():
            mapped = {src for table, mapping in file_spec["tables"].items()
                      for col, src in (mapping.items() if mapping != "same_names"
                                       else ((c.name, c.name) for c in TABLES[table].columns))
                      if col != "when_present"}
            csv_header = pd.read_csv(out / synth.export_file(name, "csv", file_key), nrows=0).columns
            xlsx_header = book.get_sheet_by_name(file_key).to_python(nrows=1)[0]
            for header in (list(csv_header), list(xlsx_header)):
                assert set(file_spec["signature"]) <= set(header), (name, file_key)
                assert set(header) == mapped, (name, file_key)


def test_clean_records_are_referentially_whole_and_dated_in_order():
    ds = synth.generate(3000, seed=11)
    t = _clean(ds)
    for name in TABLE_ORDER:
        table = TABLES[name]
        assert t[name][table.key].is_unique, name
        if table.parent:
            column, parent = table.parent
            assert t[name][column].isin(ds.tables[parent][TABLES[parent].key]).all(), name
    m = t["motions"]
    refiled = m["refiled_from_motion_id"].dropna()
    loadable = ds.tables["motions"][~np.isin(ds.messy["motions"], synth.REJECTING_KINDS + ("duplicate_row",))]
    assert refiled.isin(loadable["motion_id"]).all()
    earlier = loadable.set_index("motion_id").loc[refiled.to_numpy()]
    assert (earlier["outcome"] == "denied").all()  # a re-filing follows a denial
    assert (m.loc[refiled.index, "vehicle"].to_numpy() != earlier["vehicle"].to_numpy()).all()
    assert (m["decision_date"].dropna() >= m.loc[m["decision_date"].notna(), "filing_date"]).all()
    assert (m["hearing_date"].dropna() >= m.loc[m["hearing_date"].notna(), "filing_date"]).all()
    decided = m["outcome"].isin(["granted", "granted_in_part", "denied", "withdrawn"])
    assert m.loc[decided, "decision_date"].notna().all()
    assert m.loc[~decided, "decision_date"].isna().all()
    c = t["cases"]
    for col in ("eligibility_date", "referral_date", "closed_date"):
        assert (c[col].dropna() >= c.loc[c[col].notna(), "intake_date"]).all(), col
    entries = t["time_entries"]
    assert entries["hours"].between(0.1, 8.0).all()
    assert entries["attorney_id"].str.fullmatch(r"ATT-\d{4}").all()
    per_attorney_firms = entries.groupby("attorney_id")["partner_firm"].nunique()
    assert (per_attorney_firms == 1).all()  # an attorney belongs to one firm
    dates = pd.concat([m["filing_date"], m["decision_date"], c["intake_date"]]).dropna()
    assert dates.min() >= pd.Timestamp(synth.PROGRAM_START) and dates.max() <= pd.Timestamp(synth.AS_OF)


def test_messy_false_has_no_messy_rows_and_matches_the_clean_part():
    messy = synth.generate(1500, seed=3)
    clean = synth.generate(1500, seed=3, messy=False)
    for name in TABLE_ORDER:
        assert (clean.messy[name] == "").all()
        untouched = messy.tables[name][messy.messy[name] == ""]
        key = TABLES[name].key
        assert untouched[key].isin(clean.tables[name][key]).all()
        assert len(clean.tables[name]) == len(messy.tables[name]) - (messy.messy[name] == "duplicate_row").sum()
    m = clean.tables["motions"]
    assert m["vehicle"].isin(synth.load_taxonomy()["vehicle"]).all()
    assert m["outcome"].isin(TABLES["motions"].column("outcome").allowed).all()


def test_messy_counts_in_files_match_the_manifest(rendered):
    ds, out, manifest = rendered
    expected = {t: {k: v["count"] for k, v in kinds.items()} for t, kinds in manifest["messy"].items()}
    assert expected["motions"].keys() == set(synth.MESSY_KINDS["motions"])
    for name in TABLE_ORDER:
        assert sum(expected[name].values()) > 0, name
    # The canonical CSV is the latest export: the records as generated.
    motions = pd.read_csv(out / synth.export_file("canonical", "csv", "motions"), dtype=str, keep_default_na=False)
    taxonomy = set(synth.load_taxonomy()["vehicle"])
    assert (~motions["vehicle"].str.strip().isin(taxonomy)).sum() == expected["motions"]["unknown_vehicle"]
    assert (motions["vehicle"] != motions["vehicle"].str.strip()).sum() == expected["motions"]["stray_whitespace"]
    assert motions.duplicated().sum() == expected["motions"]["duplicate_row"]
    bad_outcome = ~motions["outcome"].isin(TABLES["motions"].column("outcome").allowed)
    assert bad_outcome.sum() == expected["motions"]["unmapped_outcome"]
    backwards = (motions["decision_date"] != "") & (motions["decision_date"] < motions["filing_date"])
    assert backwards.sum() == expected["motions"]["decision_before_filing"]
    # Earlier exports: each file's counts are those of the records as exported on its day.
    rel = synth.export_file("cms_report", "csv", "immigration")
    events = pd.read_csv(out / rel, dtype=str, keep_default_na=False)
    earlier = synth.snapshot(ds, synth.EXPORTS[("cms_report", "csv")])
    kinds = pd.Series(earlier.messy["immigration_events"]).value_counts()
    assert (events["Event Date"] == "").sum() == kinds["missing_required_date"] == \
        manifest["files"][rel]["messy_rows"]["missing_required_date"]
    assert events.duplicated().sum() == kinds["duplicate_row"]
    # Per-file counts: the tracker sheet carries the motions' kinds on their rows.
    for fmt, rel in (("csv", synth.export_file("case_tracker", "csv", "tracker")),
                     ("xlsx", synth.export_file("case_tracker", "xlsx") + "#tracker")):
        kinds = pd.Series(synth.snapshot(ds, synth.EXPORTS[("case_tracker", fmt)]).messy["motions"]).value_counts()
        tracker = manifest["files"][rel]["messy_rows"]
        for kind in ("unknown_vehicle", "unmapped_outcome", "duplicate_row", "decision_before_filing"):
            assert tracker[kind] == kinds[kind] > 0, (fmt, kind)
    assert manifest["expected_loaded"] == ds.expected_loaded()


def test_manifest_has_no_names_a_numbers_or_birth_dates(rendered):
    ds, out, _ = rendered
    text = (out / "generator_manifest.json").read_text(encoding="utf-8")
    clients = ds.tables["clients"]
    for value in pd.concat([clients["last_name"], clients["a_number"].dropna()]).head(200):
        assert value not in text
    assert not any(d.strftime("%Y-%m-%d") in text for d in clients["date_of_birth"].head(200))


def test_tracker_rows_cover_cases_without_convictions_and_convictions_without_motions(rendered):
    ds, out, _ = rendered
    tracker = pd.read_csv(out / synth.export_file("case_tracker", "csv", "tracker"), dtype=str, keep_default_na=False)
    exported = synth.snapshot(ds, synth.EXPORTS[("case_tracker", "csv")])
    assert set(tracker["Case #"]) == set(exported.tables["cases"]["case_id"])
    assert set(tracker["Conviction #"]) - {""} == set(exported.tables["convictions"]["conviction_id"])
    assert (tracker["Conviction #"] == "").any() and (tracker["Motion #"] == "").any()
    no_motion = tracker[(tracker["Motion #"] == "") & (tracker["Conviction #"] != "")]
    assert not no_motion["Conviction #"].isin(exported.tables["motions"]["conviction_id"]).any()
    matters = pd.read_csv(out / synth.export_file("cms_report", "csv", "matters"), dtype=str, keep_default_na=False)
    exported = synth.snapshot(ds, synth.EXPORTS[("cms_report", "csv")])
    assert matters["Matter/Case ID#"].is_unique and len(matters) == len(exported.tables["cases"])


def test_source_vocabularies_are_varied_and_mapped(rendered):
    _, out, _ = rendered
    tracker = pd.read_csv(out / synth.export_file("case_tracker", "csv", "tracker"), dtype=str, keep_default_na=False)
    granted = {"Granted", "Motion granted", "GRANTED"}
    assert granted <= set(tracker["Outcome"])
    assert set(tracker["In Removal Proceedings?"]) <= {"Yes", "Y", "No", "N", ""}
    assert tracker.loc[tracker["Outcome"] == "Not yet filed", "Filed"].eq("").all()
    filings = pd.read_csv(out / synth.export_file("cms_report", "csv", "filings"), dtype=str, keep_default_na=False)
    assert filings["Hearing Date"].str.fullmatch(r"\d\d/\d\d/\d{4} 00:00").any()
    assert filings["Order States Legal Ground"].isin(["CHECKED", "UNCHECKED", "Y", "N", ""]).all()
    assert {"CHECKED", "Y"} <= set(filings["Order States Legal Ground"])


def test_every_vehicle_and_county_appears_and_rates_are_plausible():
    ds = synth.generate(20000, seed=2026, messy=False)
    m = ds.tables["motions"]
    counts = m["vehicle"].value_counts()
    taxonomy = synth.load_taxonomy()
    assert set(counts.index) == set(taxonomy["vehicle"])
    assert counts.min() >= 40
    assert counts.idxmax() == "PC 1473.7(a)(1)"
    decided = m[m["outcome"].isin(["granted", "granted_in_part", "denied"])]
    rate = decided["outcome"].ne("denied").groupby(decided["vehicle"]).mean()
    assert 0.6 <= rate["PC 1473.7(a)(1)"] <= 0.78
    assert rate["PC 1473"] < rate["PC 1473.7(a)(1)"]
    kinds = dict(zip(taxonomy["vehicle"], taxonomy["relief_kind"]))
    granted = m[m["result_type"].notna()]
    vac = granted[granted["vehicle"].map(kinds) == "vacatur"]
    habeas_sentence = (vac["vehicle"] == "PC 1473") & (vac["result_type"] == "sentence_modification")
    assert ((vac["result_type"] == "vacatur") | habeas_sentence).all() and habeas_sentence.any()
    expunge = granted["vehicle"].isin(["PC 1203.4", "PC 1203.4a", "PC 1203.41", "PC 1203.42"])
    assert (granted.loc[expunge, "result_type"] == "expungement").all()
    sentence = m[m["vehicle"].map(kinds) == "sentence_modification"]
    rule = pd.Timestamp(synth.SENTENCE_RULE_DATE)
    assert (sentence["filing_date"] <= rule).sum() > 50 and (sentence["filing_date"] > rule).sum() > 50
    days = (m["decision_date"] - m["filing_date"]).dt.days.dropna()
    assert 120 <= days.median() <= 240
    assert 0.01 <= (m["outcome"] == "withdrawn").mean() <= 0.06
    counties = pd.concat([ds.tables["clients"]["county_of_residence"], ds.tables["convictions"]["county"]])
    assert set(counties) == set(CALIFORNIA_COUNTIES)
    share = counties.value_counts(normalize=True)
    assert 0.2 <= share["Los Angeles"] <= 0.3 and share["Alpine"] < 0.002
    events = set(ds.tables["immigration_events"]["event_type"])
    assert {"proceedings_terminated", "removal_ordered", "motion_to_reopen_filed"} <= events
    hours = ds.tables["time_entries"].groupby("case_id")["hours"].sum()
    assert 25 <= hours.median() <= 60
    assert abs(len(m) - 20000) / 20000 < 0.1  # n_motions is approximate


def test_county_weights_follow_population():
    w = dict(zip(CALIFORNIA_COUNTIES, synth.county_weights()))
    assert abs(sum(w.values()) - 1) < 1e-9 and min(w.values()) > 0
    assert 0.2 < w["Los Angeles"] < 0.3
    assert w["Los Angeles"] > w["San Diego"] > w["Fresno"] > w["Alpine"]


def test_bad_arguments_are_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="n_motions"):
        synth.generate(0)
    assert pcr_main(["samples", "--out", str(tmp_path), "--layouts", "nope"]) == 2
    assert "unknown layout" in capsys.readouterr().err


def test_bundled_samples_are_the_documented_command_output(tmp_path):
    bundled = PROJECT_ROOT / "data_samples"
    manifest = json.loads((bundled / "generator_manifest.json").read_text(encoding="utf-8"))
    ds = synth.generate(manifest["n_motions_requested"], manifest["seed"])
    synth.write_samples(ds, tmp_path, formats=("csv",))  # XLSX reproducibility: first test
    csv = {f: d for f, d in _digests(bundled).items() if f.endswith(".csv")}
    assert csv and {f: d for f, d in _digests(tmp_path).items() if f.endswith(".csv")} == csv
    assert manifest["messy"] == json.loads(json.dumps(ds.messy_summary()))


def test_an_earlier_export_carries_only_what_had_happened_by_its_day():
    ds = synth.generate(3000, seed=5)
    assert synth.snapshot(ds, synth.AS_OF) is ds
    days = sorted(set(synth.EXPORTS.values()))
    exports = [synth.snapshot(ds, day) for day in days]
    dated = {"clients": ["intake_date"], "cases": ["intake_date", "eligibility_date", "referral_date", "closed_date"],
             "convictions": [], "motions": ["filing_date", "hearing_date", "decision_date"],
             "immigration_events": ["event_date"], "time_entries": ["entry_date"]}
    for day, export in zip(days, exports):
        clean = _clean(export)
        for name, columns in dated.items():
            for column in columns:
                assert (clean[name][column].dropna() <= pd.Timestamp(day)).all(), (day, name, column)
        m = clean["motions"]
        assert m.loc[m["decision_date"].isna(), "outcome"].eq("pending").all()
        assert m.loc[m["outcome"] == "pending", "result_type"].isna().all()
        assert m["refiled_from_motion_id"].dropna().isin(export.tables["motions"]["motion_id"]).all()
        c = clean["cases"]
        assert c.loc[c["referral_date"].isna(), "partner_firm"].isna().all()
        assert c.loc[c["closed_date"].isna(), "case_status"].eq("open").all()
    # Exports only grow; a record changes only by what happened in between (a pending motion
    # decided, an open case closed), and a row ingest rejects is rejected in every export.
    assert exports[-1] is ds  # the last export is made on the synthetic today
    for earlier, later in zip(exports, exports[1:]):
        for name in TABLE_ORDER:
            key = TABLES[name].key
            assert set(earlier.tables[name][key]) <= set(later.tables[name][key]), name
        before = earlier.tables["motions"].set_index("motion_id")
        after = later.tables["motions"].drop_duplicates("motion_id").set_index("motion_id").loc[before.index.unique()]
        before = before[~before.index.duplicated()]
        decided = (before["outcome"] == "pending") & (after["outcome"] != "pending")
        assert decided.sum() > 10
        assert (before.loc[~decided & before["decision_date"].notna(), "outcome"]
                == after.loc[~decided & before["decision_date"].notna(), "outcome"]).all()
        rejected = earlier.tables["motions"][np.isin(earlier.messy["motions"], synth.REJECTING_KINDS)]
        kept = later.tables["motions"].merge(rejected, how="inner")
        assert len(kept) == len(rejected)
