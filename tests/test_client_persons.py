"""One person, one client: the same A-number under two client ids is one person in every client
count. Two exports of the same three people from two systems, each with its own ids and its own
spelling of the A-numbers, go through a real `pcr run`; clients served, represented and
screened, removal avoided, the funnel and the demographic tables count each person once, the
links are recorded in marts.mart_client_links, and the data quality page shows them to a
program manager and to no one else.

The people are those of tests/small_dataset.py (DATASET). The second system's export
(``second_system``) holds them under ids prefixed ``N-`` and knows two things the first does not:
person 2's earlier first contact (intake 2020-06-10, before C2's 2020-06-15) and the grant of
the motion still pending in the first export (N-M3, 2021-09-01), followed by the termination of
proceedings (N-E3, 2021-11-01)."""
from __future__ import annotations

import copy
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from small_dataset import DATASET, write_layout
from e2e.support import APP, FUNDER, MANAGER, PARTNER, open_page, write_roles

PROJECT = Path(__file__).resolve().parents[1]
# Each person's A-number as the second system spells it; the first spells them A123456789,
# A-098-765-432 and 87654321 (8 digits, so 087654321).
SECOND_SYSTEM_A_NUMBERS = {"N-C1": "123-456-789", "N-C2": "098 765 432", "N-C3": "A087654321"}
# The person's client id (earliest intake, ties by id) -> the client id merged into it.
LINKS = {("C1", "N-C1"), ("N-C2", "C2"), ("C3", "N-C3")}
GRANTS = """
suppression_threshold: 1
grants:
  - id: G-PERSONS
    funder: Test Foundation
    start: 2019-01-01
    end: 2026-12-31
    demographics: [primary_language, country_of_birth]
    deliverables:
      - {name: Clients represented, metric: clients_represented, target: 2}
      - {name: Removal avoided, metric: clients_removal_avoided, target: 2}
"""


def second_system(data: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The same people, cases and work under the second system's ids and A-number spellings,
    with what only the second system knows."""
    data = copy.deepcopy(data)
    id_columns = {
        "clients": ("client_id",), "cases": ("case_id", "client_id"), "convictions": ("conviction_id", "case_id"),
        "motions": ("motion_id", "conviction_id", "refiled_from_motion_id"),
        "immigration_events": ("event_id", "client_id"), "time_entries": ("entry_id", "case_id"),
    }
    for table, columns in id_columns.items():
        for row in data[table]:
            for column in columns:
                if row[column] is not None:
                    row[column] = f"N-{row[column]}"
    clients = {c["client_id"]: c for c in data["clients"]}
    for client_id, a_number in SECOND_SYSTEM_A_NUMBERS.items():
        clients[client_id]["a_number"] = a_number
    clients["N-C2"]["intake_date"] = dt.date(2020, 6, 10)
    motion = next(m for m in data["motions"] if m["motion_id"] == "N-M3")
    motion.update(outcome="granted", decision_date=dt.date(2021, 9, 1), result_type="vacatur",
                  grant_ground="legal_defect", order_states_ground=True, order_cites_subsection=True)
    data["immigration_events"].append(
        dict(event_id="N-E3", client_id="N-C2", event_type="proceedings_terminated", event_date=dt.date(2021, 11, 1)))
    return data


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("persons")
    write_layout(copy.deepcopy(DATASET), "canonical", root / "first", suffix="_2026-01-20")
    write_layout(second_system(DATASET), "canonical", root / "second", suffix="_2026-04-20")
    env = {k: v for k, v in os.environ.items() if k != "PCR_DB"}
    env.update(PCR_DATA_DIR=str(root / "var"), PCR_HMAC_KEY_FILE=str(root / "hmac.key"))
    result = subprocess.run([sys.executable, "-m", "pcr.cli", "run", root / "first", root / "second"],
                            env=env, cwd=PROJECT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (root / "grants.yml").write_text(GRANTS, encoding="utf-8")
    return root / "var" / "pcr.duckdb"


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_every_a_number_spelling_links_the_two_exports(published):
    # 6 client ids, 3 A-numbers: each id of the second system is linked to its twin, the person
    # known by the earlier intake (C2's twin N-C2) or, on the same day, by the smaller id.
    exported = sum(len(records) for data in (DATASET, second_system(DATASET)) for records in data.values())
    assert rows(published, "select sum(rows_loaded), sum(rows_quarantined) from raw.load_manifest") == [(exported, 0)]
    assert rows(published, "select count(*), count(distinct client_id) from intermediate.int_client_persons") == [(6, 3)]
    links = rows(published, "select client_id, merged_client_id, link_rule, exported_client_ids from marts.mart_client_links")
    assert {(kept, merged) for kept, merged, _, _ in links} == LINKS
    assert {(rule, n) for _, _, rule, n in links} == {("same_a_number", 2)}
    # The link names its evidence, never the A-number or its hash.
    columns = [c for (c,) in rows(published, "select column_name from information_schema.columns "
                                             "where table_schema = 'marts' and table_name = 'mart_client_links'")]
    assert not [c for c in columns if "hash" in c or "a_number" in c]


def test_clients_counted_once_per_person(published):
    # Without the merge each count below would count every person twice (6 clients).
    assert rows(published, "select count(*), sum(exported_client_ids) from marts.dim_clients") == [(3, 6)]
    assert rows(published, "select count(*), count(distinct client_id), count(distinct exported_client_id) "
                           "from marts.fct_cases") == [(6, 3, 6)]
    # Clients served, as the dashboards count them: every case was open at some time.
    assert rows(published, "select count(distinct client_id) + sum(clients) from marts.mart_dashboard_clients") == [(3,)]
    # Funnel, all cohorts: cases K1 K2 K3 and their twins; K3 and N-K3 are pending eligibility.
    # Granted: K1 and N-K1 (M1), N-K2 (N-M3) -> 3 cases of 2 people; both people have an
    # outcome on or after the grant (E1 2020-02-01 >= 2019-10-01; N-E3 2021-11-01 >= 2021-09-01).
    funnel = {step: (cases, clients) for step, cases, clients in rows(
        published, "select step, cases, clients from marts.mart_funnel where intake_cohort = 'all'")}
    assert funnel == {"screened": (6, 3), "eligible": (4, 2), "referred": (4, 2), "filed": (4, 2), "decided": (4, 2),
                      "granted": (3, 2), "immigration_outcome": (3, 2)}


def test_removal_avoided_is_the_persons_status(published):
    # Person C1: relief M1 (2019-10-01), proceedings terminated 2020-02-01 (E1, and its twin).
    # Person N-C2: under C2 alone the re-filed motion is pending (none yet); the person's first
    # effective relief is N-M3 and N-E3 follows it: confirmed, once. Person C3: nothing filed,
    # case open: none yet. Counted by client id, confirmed would be 3 (C1, N-C1, N-C2).
    statuses = dict(rows(published, "select client_id, removal_avoided_status from marts.mart_removal_avoided"))
    assert statuses == {"C1": "confirmed", "N-C2": "confirmed", "C3": "none_yet"}
    assert rows(published, "select deciding_motion_id, deciding_event_id from marts.mart_removal_avoided "
                           "where client_id = 'N-C2'") == [("N-M3", "N-E3")]
    assert rows(published, "select clients_with_exposure, clients_confirmed, clients_none_yet "
                           "from marts.mart_removal_avoided_rollup where dimension = 'all'") == [(3, 2, 1)]
    # Every fact keeps its record, and belongs to the person.
    assert rows(published, "select count(*), count(distinct client_id) from marts.fct_immigration_events") == [(5, 2)]
    assert rows(published, "select count(*), count(distinct client_id) from marts.fct_motions") == [(6, 2)]


def test_grant_report_counts_people(published, monkeypatch):
    from pcr.commands.report import rebuild_models
    from pcr.settings import Settings
    from reports import asof
    from reports.build import build_report
    from reports.grants import load_grants, parse_period

    monkeypatch.setenv("PCR_DATA_DIR", str(published.parent))
    grants = load_grants(published.parent.parent / "grants.yml")
    grant = grants.grants["G-PERSONS"]
    period = parse_period("grant", grant)
    report = build_report(grant, period, asof.prepare(period, grant.close_after_days, published,
                                                      work_dir=published.parent / "asof",
                                                      rebuild=rebuild_models(Settings.from_env())),
                          grants.threshold)
    shown = {label: value for label, value, _ in report.headline}
    # Referred and not closed before 2019: K1, K2 and twins -> C1, N-C2. Intake in the grant:
    # all six cases -> 3 people. Removal avoided in the grant: C1 (2020-02-01), N-C2 (2021-11-01).
    assert (shown["Clients represented"], shown["Clients screened"], shown["Removal avoided"]) == ("2", "3", "2")
    language = next(t for t in report.tables if t.key == "demographics_primary_language").display
    assert language.set_index(language.columns[0]).loc["Spanish"].tolist() == ["2", "2"]  # C1 and N-C2, both Spanish


# --- the data quality page ---------------------------------------------------------------------

@pytest.fixture
def app_env(published, monkeypatch, tmp_path):
    monkeypatch.setenv("PCR_DB", str(published))
    monkeypatch.setenv("PCR_ROLES_FILE", str(write_roles(tmp_path / "roles.yml", "Baker LLP", threshold=11)))
    st.config.set_option("server.address", "127.0.0.1")
    return published


def logged_in(user: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.user = {"is_logged_in": True, "email": user, "email_verified": True}
    return at.run()


def page_text(at: AppTest) -> str:
    """Every word the page shows: texts, and every table's cells and headers."""
    kinds = ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success", "text")
    texts = [str(e.value) for kind in kinds for e in at.get(kind)]
    texts += [frame.to_csv(index=False) for frame in (d.value for d in at.dataframe)]
    return "\n".join(texts)


def test_data_quality_page_shows_the_links_to_a_program_manager(app_env):
    at = open_page(logged_in(MANAGER), "data_quality")
    merged = [d.value for d in at.dataframe if "merged client id" in d.value.columns]
    assert len(merged) == 1
    table = merged[0]
    assert set(zip(table["client id (counted)"], table["merged client id"])) == LINKS
    assert set(table["linked by"]) == {"same A-number"}
    assert set(table["export (merged id)"]) == {"clients_2026-04-20.csv", "clients_2026-01-20.csv"}
    assert "3 client id(s) are the same person" in page_text(at)
    # The overview counts the same people once.
    tiles = {m.label: m.value for m in open_page(at, "overview").metric}
    assert (tiles["Clients served"], tiles["Removal avoided (confirmed)"]) == ("3", "2")


@pytest.mark.parametrize("user", [FUNDER, PARTNER])
def test_data_quality_page_shows_no_link_to_anyone_else(app_env, user):
    at = open_page(logged_in(user), "data_quality")
    text = page_text(at)
    assert "Data quality" in text  # the page itself was drawn
    assert "merged client id" not in text and "same A-number" not in text
    assert not re.search(r"\bN-C\d", text)  # no client id of the second system
