"""Golden test: a hand-made export (tests/fixtures/golden/, canonical layout: 13 clients,
13 cases, 18 convictions, 20 motions, 7 immigration events, 8 time entries) goes through the
real `pcr ingest` and the real `dbt build`; every headline number below was worked out by
hand from the CSVs, with the arithmetic in the comments.

dbt is slow to start, so the export is ingested and built once per session.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from pcr import cli, dbt
from pcr.settings import PROJECT_ROOT, Settings

GOLDEN = Path(__file__).parent / "fixtures" / "golden"


@pytest.fixture(scope="session")
def golden_db(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("golden")
    db = root / "golden.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PCR_HMAC_KEY_FILE", str(root / "hmac.key"))
        mp.setenv("PCR_DATA_DIR", str(root / "var"))
        assert cli.main(["ingest", "--db", str(db), "--strict", "--exported-at", "2025-01-02", str(GOLDEN)]) == 0
        result = dbt.build(db, Settings.from_env(), work_dir=root / "dbt")
    assert result.success, f"dbt build failed: {result.failed_nodes} {result.error}"
    return db


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def one(db: Path, sql: str):
    (row,) = rows(db, sql)
    return row


def test_as_of_date_is_latest_recorded_date_not_a_scheduled_hearing(golden_db):
    # Latest dates: time entry T07 2024-12-31; M10's hearing 2025-01-20 is in the future.
    assert one(golden_db, "select as_of_date from intermediate.int_as_of_date") == (dt.date(2024, 12, 31),)


def test_grant_rates_and_denominators(golden_db):
    # 20 motions: granted M01 M03 M04 M05 M06 M07 M08 M09 M11 M12 M13 M18 (12),
    # granted in part M17 (1), denied M02 M16 M19 M20 (4), withdrawn M14, pending M10 M15.
    # Grant rate = 13 / (12 + 1 + 4) = 13/17; withdrawn and pending stay out.
    got = one(golden_db, """
        select motions_filed, motions_decided, motions_granted, motions_withdrawn, motions_pending, grant_rate
        from marts.mart_motion_activity where period = 'all' and dimension = 'all'""")
    assert got[:5] == (20, 17, 13, 1, 2)
    assert got[5] == pytest.approx(13 / 17)
    by = dict(rows(golden_db, """
        select dimension_value, grant_rate from marts.mart_motion_activity
        where period = 'all' and dimension in ('partner_firm', 'vehicle')"""))
    # Alder (K01 K03 K05 K07 K09 K11): decided M01 M16 M04 M06 M08 M09 M12 M19 = 8, granted 6.
    assert by["Alder LLP"] == pytest.approx(6 / 8)
    # Birch: decided M02 M03 M05 M17 M07 M11 M20 M13 M18 = 9, granted M03 M05 M17 M07 M11 M13 M18 = 7.
    assert by["Birch LLP"] == pytest.approx(7 / 9)
    # PC 1473.7(a)(1): M01 M03 M08 granted, M14 withdrawn, M10 pending -> 3/3, not 3/5.
    assert by["PC 1473.7(a)(1)"] == 1.0
    # PC 1016.5: M02, M20 denied (both re-filed; still denials), M15 pending -> 0/2.
    assert by["PC 1016.5"] == 0.0
    assert by["PC 17(b)"] == pytest.approx(1 / 2)  # M11 granted, M16 denied


def test_outcomes_fall_in_decision_quarter_and_filings_in_filing_quarter(golden_db):
    # 2023-Q4 filings: M11 (12-01), M13 (10-01), M20 (12-15). 2023-Q4 decisions: M08 (10-02),
    # M09 (11-15), M17 (12-01) -> 3 decided, 3 granted.
    got = one(golden_db, """
        select motions_filed, motions_decided, motions_granted from marts.mart_motion_activity
        where period = '2023-Q4' and dimension = 'all'""")
    assert got == (3, 3, 3)


def test_vacaturs_by_vehicle_with_reductions_and_sentence_mods_beside_them(golden_db):
    totals = one(golden_db, """
        select sum(motions_granted), sum(vacaturs_granted), sum(vacaturs_recognized),
               sum(vacaturs_uncertain), sum(vacaturs_not_recognized), sum(offense_reductions_granted),
               sum(sentence_modifications_granted), sum(sentence_modifications_honoured),
               sum(rehabilitative_granted), sum(immigration_effective_granted), sum(orders_at_risk)
        from marts.mart_relief_granted""")
    # Vacaturs: M01, M03 recognized; M09 (PC 236.14) and M13 (PC 1018, ground unknown)
    # uncertain; M08 granted for immigration hardship: not recognized (Pickering) -> 5.
    # Offense reductions M11, M17 (2). Sentence modifications M05 M06 M07 M12 (habeas,
    # sentence only) M18 (5), honoured M05 (c2) M07 (c1) M12 (c4) = 3. Expungement M04 is
    # rehabilitative, not a vacatur. 5 + 2 + 5 + 1 = 13 granted.
    # Effective: M01 M03 M11 M17 M05 M07 M12 = 7. At risk: M03 (no subsection), M12 (no ground).
    assert totals == (13, 5, 2, 2, 1, 2, 5, 3, 1, 7, 2)
    by_vehicle = {v: (g, r, u, n) for v, g, r, u, n in rows(golden_db, """
        select vehicle, sum(vacaturs_granted), sum(vacaturs_recognized), sum(vacaturs_uncertain),
               sum(vacaturs_not_recognized)
        from marts.mart_relief_granted group by vehicle""")}
    assert by_vehicle["PC 1473.7(a)(1)"] == (3, 2, 0, 1)
    assert by_vehicle["PC 236.14"] == (1, 0, 1, 0)
    assert by_vehicle["PC 1018"] == (1, 0, 1, 0)
    assert by_vehicle["PC 1203.4"] == (0, 0, 0, 0)
    assert by_vehicle["PC 1473"] == (0, 0, 0, 0)
    assert one(golden_db, """select bool_and(is_confidential_survivor_vehicle) from marts.mart_relief_granted
                             where vehicle = 'PC 236.14'""") == (True,)


def test_sentence_modification_conditions(golden_db):
    got = dict(rows(golden_db, """select motion_id, sentence_modification_condition from marts.fct_motions
                                  where sentence_modification_condition is not null"""))
    assert got == {
        "M05": "c2_entered_on_or_before_cutoff_with_reliance",  # convicted 2019-10-25, relied
        "M06": "not_honoured",  # convicted 2019-10-26 (day after), relied, ground other
        "M07": "c1_filed_on_or_before_cutoff",  # filed 2019-10-25
        "M12": "c4_procedural_or_substantive_defect",  # habeas, sentence only, legal defect
        "M18": "not_honoured_reliance_unknown",  # convicted 2019-01-01, reliance blank
    }


def test_removal_avoided_counts_by_status(golden_db):
    # Exposed: C01 C02 C04 C05 C06 C07 C08 C09 C11 (C03 C10 C12 C13: no flag, no removal ground).
    # C01 confirmed (M01 2023-08-01, terminated 2023-10-01); C02 projected (chain M02 -> M03
    # granted 2024-01-10; its removal order 2023-05-01 predates the relief); C09 projected
    # (habeas sentence modification M12, c4); C04 not avoided (first effective relief M17
    # 2023-12-01, removal ordered 2024-09-01); C06 administrative closure; C08 partial (M11
    # reduces V13, removal-ground V12 still pending via M20 -> M10); C11 none yet (M19 -> M15
    # pending); C05 (M06 not honoured) and C07 (M08 Pickering, M09 uncertain) no effective relief.
    got = dict(rows(golden_db, """select removal_avoided_status, count(*) from marts.mart_removal_avoided group by 1"""))
    assert got == {"confirmed": 1, "projected": 2, "not_avoided": 1, "administrative_closure": 1,
                   "partial_relief": 1, "none_yet": 1, "no_effective_relief": 2}
    assert one(golden_db, """select deciding_motion_id, deciding_event_id from marts.mart_removal_avoided
                             where client_id = 'C01'""") == ("M01", "E02")
    rollup = one(golden_db, """select clients_with_exposure, clients_confirmed, clients_projected
                               from marts.mart_removal_avoided_rollup where dimension = 'all'""")
    assert rollup == (9, 1, 2)


def test_kaplan_meier_medians(golden_db):
    km = {(m, d): (u, e, c, med, p75, closed) for m, d, u, e, c, med, p75, closed in rows(golden_db, """
        select measure, dimension_value, units, events, censored, km_median_days, km_p75_days, closed_only_median_days
        from marts.mart_time_to_resolution where dimension in ('all', 'vehicle')""")}
    # filing_to_decision, all 20 motions, as of 2024-12-31. Sorted durations (c = censored):
    # 26 30c 35 61 90 92 94 104 122 122 123 129 149 173 181 184 193 213c 214 351c.
    # S(26)=19/20; 30c leaves 18 at risk; then one event per step with n = 18, 17, ..., so
    # S(t) = 0.95 * (remaining)/18: S(104) = .95*12/18 = .633; S(122) (n=12, d=2) = .95*10/18
    # = .528; S(123) = .95*9/18 = .475 <= .5 -> median 123. S(181) = .95*5/18 = .264;
    # S(184) = .95*4/18 = .211 <= .25 -> p75 184. Closed-only median: 9th of 17 events = 122.
    assert km[("filing_to_decision", "all")] == (20, 17, 3, 123, 184, 122)
    # referral_to_decision, 17 re-filing chains (latest motion decides):
    # 89 120c 152 153 153 213 213 215 225 243 245 257 259 274c 338 374 426c.
    # S(89)=16/17; 120c; S(152)=16/17*14/15; S(153)=16/17*12/15; S(213)=16/17*10/15;
    # S(215)=16/17*9/15; S(225)=16/17*8/15=.502 (> .5); S(243)=16/17*7/15=.439 -> median 243.
    # S(259)=16/17*4/15=.251 (> .25); 274c; S(338)=.251*2/3=.167 -> p75 338.
    # Closed-only median of 14 events = (215 + 225) / 2 = 220.
    assert km[("referral_to_decision", "all")] == (17, 14, 3, 243, 338, 220)
    # PC 1473.7(a)(1) filing_to_decision: 30c (M14 withdrawn) 181 184 193 351c (M10 pending):
    # S(181)=3/4, S(184)=3/4*2/3=0.5 exactly -> median 184; S(193)=1/4 -> p75 193.
    assert km[("filing_to_decision", "PC 1473.7(a)(1)")][:5] == (5, 3, 2, 184, 193)


def test_funnel(golden_db):
    got = rows(golden_db, """select step, cases, clients from marts.mart_funnel
                             where intake_cohort = 'all' order by step_order""")
    # 13 cases screened; K12 ineligible; K13 eligible, not referred; K01-K11 filed and decided;
    # K11 has nothing granted; immigration outcome after the case's first grant: K01 (E02),
    # K04 (E03), K06 (E04), K07 (E05), K10 (E08) -- K02's removal order predates its grant.
    assert got == [("screened", 13, 13), ("eligible", 12, 12), ("referred", 11, 11), ("filed", 11, 11),
                   ("decided", 11, 11), ("granted", 10, 10), ("immigration_outcome", 5, 5)]


def test_pro_bono(golden_db):
    got = {firm: r for firm, *r in rows(golden_db, """
        select partner_firm, hours, attorneys_participating, cases_with_time, hours_per_case,
               hours_per_attorney, value_usd
        from marts.mart_pro_bono where period = 'all'""")}
    # Alder: 10 + 4.5 + 3 + 7 + 1 = 25.5 h, attorneys A1 A2 A3, cases K01 K03 K07 K09;
    # 25.5/4 = 6.375 h per case, 25.5/3 = 8.5 per attorney, x 500 USD = 12,750.
    assert got["Alder LLP"] == [25.5, 3, 4, 6.375, 8.5, 12750.0]
    # Birch: 6 + 8 + 2.5 = 16.5 h, B1 B2, K02 K04 -> 8.25, 8.25, 8,250.
    assert got["Birch LLP"] == [16.5, 2, 2, 8.25, 8.25, 8250.0]
    assert got["all"] == [42.0, 5, 6, 7.0, 8.4, 21000.0]


def test_no_identifier_reaches_the_models(golden_db):
    """No name, A-number or date of birth in any built relation; no hash column in marts."""
    with open(GOLDEN / "clients.csv", newline="") as f:
        clients = list(csv.DictReader(f))
    needles = {c[k] for c in clients for k in ("first_name", "last_name", "a_number", "date_of_birth")}
    needles |= {c["a_number"].lstrip("A") for c in clients}
    columns = rows(golden_db, """
        select table_schema, table_name, column_name, data_type from information_schema.columns
        where table_schema in ('staging', 'intermediate', 'marts', 'reference')""")
    mart_columns = [c for s, _, c, _ in columns if s == "marts"]
    assert not [c for c in mart_columns if "hash" in c or "name" in c or "a_number" in c or "birth_date" in c
                or c == "date_of_birth"]
    text_columns: dict[str, list[str]] = {}
    for schema, table, column, dtype in columns:
        if dtype == "VARCHAR":
            text_columns.setdefault(f"{schema}.{table}", []).append(f'"{column}"')
    with duckdb.connect(str(golden_db), read_only=True) as con:
        for relation, cols in text_columns.items():
            values = {v for (v,) in con.execute(f"select distinct unnest([{', '.join(cols)}]) from {relation}").fetchall()}
            assert not values & needles, f"{relation} holds client identifiers"


def test_every_built_column_is_documented(golden_db):
    documented: dict[str, set[str]] = {}
    for yml in (PROJECT_ROOT / "models").rglob("*.yml"):
        for model in yaml.safe_load(yml.read_text()).get("models", []):
            assert model.get("description"), f"{yml.name}: {model['name']} has no description"
            for col in model.get("columns", []):
                assert col.get("description"), f"{model['name']}.{col['name']} has no description"
            documented[model["name"]] = {c["name"] for c in model.get("columns", [])}
    built: dict[str, set[str]] = {}
    for table, column in rows(golden_db, """select table_name, column_name from information_schema.columns
                                           where table_schema in ('staging', 'intermediate', 'marts')"""):
        built.setdefault(table, set()).add(column)
    for table, cols in built.items():
        assert documented.get(table) == cols, f"{table}: built {sorted(cols ^ documented.get(table, set()))} differ from YAML"


def test_build_failure_names_the_failing_nodes(tmp_path, run_pcr):
    # A database without the raw schema: staging cannot build and `pcr build` says which node.
    result = run_pcr("build", "--db", tmp_path / "empty.duckdb", "--select", "stg_clients")
    assert result.code == 1
    assert "model.pcr.stg_clients" in result.err


def test_build_releases_the_database_and_reports_a_locked_one(golden_db, tmp_path):
    # The build holds one connection for its whole run; afterwards the file is free again for
    # a connection with another configuration in this process (as the pipeline's checks open it).
    with duckdb.connect(str(golden_db), read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_motions").fetchone() == (20,)
    # A file another process has open cannot be built in, and the result says which file.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True); sys.stdin.read()",
         str(tmp_path / "locked.duckdb")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        result = dbt.build(tmp_path / "locked.duckdb", Settings.from_env(), work_dir=tmp_path / "dbt")
    finally:
        holder.communicate("")
    assert not result.success
    assert "locked.duckdb" in result.error and "lock" in result.error.lower()


def test_a_build_in_another_data_directory_starts_from_the_saved_parse(tmp_path, monkeypatch):
    # Parsing the whole project costs ~7 s of every build; dbt keeps a saved parse only while
    # the profile is unchanged, and pcr.dbt shares it between data directories.
    cache = tmp_path / "parse-cache"
    monkeypatch.setenv("PCR_DBT_PARSE_CACHE", str(cache))
    # Parses left by one-off builds (other files, other --vars) are pruned, oldest first.
    cache.mkdir()
    for n in range(dbt.SHARED_PARSES_KEPT + 4):
        (cache / f"old{n}.msgpack").write_bytes(b"")
        os.utime(cache / f"old{n}.msgpack", (1_000_000 + n, 1_000_000 + n))
    logs = []
    for directory in ("first", "second"):
        work = tmp_path / directory
        result = dbt.build(work / "pcr.work.duckdb", Settings.from_env(), select=["relief_result_overrides"], work_dir=work / "dbt")
        assert result.success, result.error
        logs.append((work / "dbt" / "logs" / "dbt.log").read_text(encoding="utf-8"))
    assert "Starting full parse" in logs[0]
    assert "Unable to do partial parsing" not in logs[1] and "full parse" not in logs[1]
    kept = sorted(p.name for p in cache.glob("*.msgpack"))
    assert len(kept) == dbt.SHARED_PARSES_KEPT and "old0.msgpack" not in kept
    assert any(name.endswith("-pcr.work.duckdb.msgpack") for name in kept)
