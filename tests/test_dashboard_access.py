"""What the dashboards added to the access layer and the `pcr dashboard` command: a partner
reads its own firm's rows of a mart aggregated one dimension at a time; summaries with one
overall row and with a weight column (pre-aggregated marts such as Kaplan-Meier)."""
from __future__ import annotations

import argparse

import duckdb
import numpy as np
import pytest

from access.queries import DataAccess
from access.scope import AccessDenied, Role, Scope
from pcr.commands import dashboard
from pcr.settings import Settings

PM = Scope(Role.PROGRAM_MANAGER, "pm@example.org")
PARTNER_A = Scope(Role.PARTNER, "a@firm-a.example", firm="Firm A LLP")
FUNDER = Scope(Role.FUNDER, "grants@foundation.example")
# (dimension, dimension_value, t_days, at_risk, survival): curves for all, two firms, one county.
KM_ROWS = [
    ("all", "all", 10, 40, 0.9), ("all", "all", 20, 30, 0.6), ("all", "all", 30, 8, 0.3),
    ("partner_firm", "Firm A LLP", 10, 25, 0.8), ("partner_firm", "Firm A LLP", 20, 12, 0.5),
    ("partner_firm", "Firm B LLP", 10, 15, 0.7),
    ("county", "Fresno", 10, 5, 0.8),
]


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "pcr.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA marts")
        con.execute("CREATE TABLE marts.km (dimension VARCHAR, dimension_value VARCHAR, t_days INT, at_risk INT, survival DOUBLE)")
        con.executemany("INSERT INTO marts.km VALUES (?, ?, ?, ?, ?)", KM_ROWS)
        con.execute("CREATE TABLE marts.entries AS SELECT 'Firm A LLP' AS partner_firm, i % 13 AS case_id, 1.5 AS hours FROM range(40) t(i)")
    return path


def test_a_partner_reads_only_its_firms_rows_of_a_dimension_mart(db):
    rows = DataAccess(PARTNER_A, db).query("SELECT dimension, dimension_value, t_days FROM {km} ORDER BY t_days")
    assert set(zip(rows.dimension, rows.dimension_value)) == {("partner_firm", "Firm A LLP")}
    assert list(rows.t_days) == [10, 20]
    # Not even through a filter of its own: the scope is applied before the query's WHERE.
    other = DataAccess(PARTNER_A, db).query("SELECT count(*) AS n FROM {km} WHERE dimension_value <> 'Firm A LLP'")
    assert other.n[0] == 0
    assert len(DataAccess(PM, db).query("SELECT * FROM {km}")) == len(KM_ROWS)


def test_summary_with_a_weight_suppresses_by_the_weight(db):
    table = DataAccess(FUNDER, db).summary("km", ["dimension_value", "t_days"], {"survival": "max(survival)"},
                                           weight="at_risk", where="dimension = 'all'")
    shown = table.numeric.set_index("t_days")
    assert shown.loc[10, "n"] == 40 and shown.loc[10, "survival"] == 0.9
    assert np.isnan(shown.loc[30, "n"]) and np.isnan(shown.loc[30, "survival"])  # 8 at risk
    assert np.isnan(shown.loc[20, "survival"])  # its complement (the pages cut curves in SQL instead)
    # a survival share over 8 at risk says so; "<11" would read as a share below 11
    assert table.display.set_index("t_days").loc["30", "survival"] == "fewer than 11 cases"


def test_summary_without_groups_gives_one_overall_row(db):
    for scope, expected in ((PM, 13), (FUNDER, 13)):
        table = DataAccess(scope, db).summary("entries", [], {"hours": "sum(hours)"}, distinct="case_id")
        assert len(table.numeric) == 1
        assert table.numeric.n[0] == expected and table.numeric.hours[0] == 60.0
    small = DataAccess(FUNDER, db).summary("entries", [], {"hours": "sum(hours)"}, distinct="case_id", where="case_id < 5")
    assert np.isnan(small.numeric.hours[0]) and small.display.hours[0] == "fewer than 11 cases"


def test_summary_refuses_distinct_and_weight_together(db):
    with pytest.raises(ValueError, match="not both"):
        DataAccess(PM, db).summary("km", [], {}, distinct="t_days", weight="at_risk")


def test_aggregate_adds_pre_counted_weights_to_distinct_values(db):
    # Like mart_dashboard_clients: rows with a client_id (clients with several cases) and rows
    # that pre-count clients no other row holds.
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE marts.clients (partner_firm VARCHAR, case_status VARCHAR, client_id VARCHAR, clients INT)")
        con.executemany("INSERT INTO marts.clients VALUES (?, ?, ?, ?)", [
            ("Firm A LLP", "open", "C1", 0), ("Firm A LLP", "closed", "C1", 0), ("Firm A LLP", "open", None, 12),
            ("Firm A LLP", "closed", None, 3), ("Firm B LLP", "open", "C1", 0), ("Firm B LLP", "open", None, 40),
        ])
    every = DataAccess(PM, db).aggregate("clients", "case_status", distinct="client_id", weight="clients")
    assert every.numeric.to_dict() == {"closed": 4, "open": 53, "Total": 56}  # C1 once in the total
    own = DataAccess(PARTNER_A, db).aggregate("clients", "case_status", distinct="client_id", weight="clients")
    assert own.numeric.to_dict() == {"closed": 4, "open": 13, "Total": 16}
    funder = DataAccess(FUNDER, db).aggregate("clients", "case_status", distinct="client_id", weight="clients")
    assert np.isnan(funder.numeric["closed"]) and funder.display["closed"] == "<11" and funder.numeric["Total"] == 56
    counted = DataAccess(PM, db).aggregate("clients", "partner_firm", weight="clients", with_margins=False)
    assert counted.numeric.to_dict() == {"Firm A LLP": 15, "Firm B LLP": 40}


def test_a_relation_without_firm_or_dimension_columns_stays_refused_to_partners(db):
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE marts.by_county AS SELECT 'Fresno' AS county, 3 AS n")
    with pytest.raises(AccessDenied, match="no partner_firm"):
        DataAccess(PARTNER_A, db).query("SELECT * FROM {by_county}")


def test_pcr_dashboard_refuses_a_public_address_without_authentication(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    dashboard.add_arguments(parser)
    args = parser.parse_args(["--address", "0.0.0.0", "--db", str(tmp_path / "none.duckdb")])
    assert dashboard.run(args, Settings.from_env()) == 2
    assert "needs authentication" in capsys.readouterr().err
    args.address = "127.0.0.1"
    assert dashboard.run(args, Settings.from_env()) == 1  # no database yet: says so instead of starting
    assert "run `pcr run` first" in capsys.readouterr().err
