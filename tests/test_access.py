"""The data-access layer on real DuckDB files shaped like the marts: scope per role, refusals,
disclosure control for funders, identity resolution, and pick-up of an atomically replaced file."""
from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

import access.reader as access_layer
from access.disclosure import TOTAL_LABEL
from access.queries import DataAccess
from access.reader import DataUnavailable, db_version, read_published
from access.scope import LOCAL_BANNER, AccessDenied, LoginRequired, Role, Scope, load_roles, scope_for

PROJECT = Path(__file__).resolve().parent.parent
FIRMS = ("Firm A LLP", "Firm B LLP", "Firm C LLP")
COUNTIES = ("Los Angeles", "Orange", "San Diego")
OUTCOMES = ("granted", "denied", "pending")

PM = Scope(Role.PROGRAM_MANAGER, "pm@example.org")
PARTNER_A = Scope(Role.PARTNER, "a@firm-a.example", firm="Firm A LLP")
FUNDER = Scope(Role.FUNDER, "grants@foundation.example")


def motion_rows(scale: int = 1):
    """Uneven counts per (firm, county, outcome) so some cells are small; every tenth motion of
    Firm A is a survivor (PC 236.14) case; clients have two motions each."""
    rows, motion = [], 0
    for (f, firm), (c, county), (o, outcome) in itertools.product(enumerate(FIRMS), enumerate(COUNTIES), enumerate(OUTCOMES)):
        for _ in range(scale * ((f * 7 + c * 5 + o * 11) % 23 + 1)):
            motion += 1
            survivor = firm == "Firm A LLP" and motion % 10 == 0
            rows.append((f"M{motion}", f"C{(motion + 1) // 2}", firm, county, "PC 236.14" if survivor else "PC 1473.7(a)(1)",
                         outcome, f"2025-0{1 + motion % 9}-15", survivor))
    return rows


def build_db(path: Path, scale: int = 1) -> Path:
    motions = pd.DataFrame(motion_rows(scale), columns=[
        "motion_id", "client_id", "partner_firm", "county", "vehicle", "outcome", "decision_date", "is_confidential_survivor_vehicle",
    ])
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.fct_motions AS SELECT * REPLACE (CAST(decision_date AS DATE) AS decision_date) FROM motions")
    # Pre-aggregated over all firms, like mart_motion_activity: no partner_firm column.
    con.execute("CREATE TABLE marts.mart_activity AS SELECT county, count(*) AS filed FROM marts.fct_motions GROUP BY county")
    con.close()
    return path


@pytest.fixture
def db(tmp_path) -> Path:
    return build_db(tmp_path / "pcr.duckdb")


def direct(db: Path, sql: str):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# --- program manager ---------------------------------------------------------------------------

def test_program_manager_sees_every_row(db):
    rows = DataAccess(PM, db).query("SELECT * FROM {fct_motions}")
    assert len(rows) == direct(db, "SELECT count(*) FROM marts.fct_motions")[0][0]
    assert set(rows.partner_firm) == set(FIRMS)
    assert rows.is_confidential_survivor_vehicle.any()


# --- partner -----------------------------------------------------------------------------------

def test_partner_rows_are_its_own_firm_without_survivor_cases(db):
    rows = DataAccess(PARTNER_A, db).query("SELECT * FROM {fct_motions} WHERE outcome <> $excluded", {"excluded": "none"})
    expected = direct(db, "SELECT count(*) FROM marts.fct_motions WHERE partner_firm = 'Firm A LLP' AND NOT is_confidential_survivor_vehicle")
    assert set(rows.partner_firm) == {"Firm A LLP"}
    assert len(rows) == expected[0][0]
    assert not rows.is_confidential_survivor_vehicle.any()


def test_partner_totals_include_no_other_firm(db):
    access = DataAccess(PARTNER_A, db)
    own_all = direct(db, "SELECT count(*) FROM marts.fct_motions WHERE partner_firm = 'Firm A LLP'")[0][0]
    # A total written as free SQL, over a self-join, still counts only Firm A's rows.
    total = access.query("SELECT count(*) AS n FROM {fct_motions} a JOIN {fct_motions} b USING (motion_id)")
    assert total.n[0] < own_all  # survivor rows are left out of row-level reads
    table = access.aggregate("fct_motions", rows="county", columns="outcome")
    assert table.numeric.loc[TOTAL_LABEL, TOTAL_LABEL] == own_all  # aggregates count survivor cases
    assert not table.any_suppressed  # partners see their own small numbers
    by_firm = access.aggregate("fct_motions", rows="partner_firm")
    assert list(by_firm.numeric.index) == ["Firm A LLP", TOTAL_LABEL]


def test_partner_is_refused_a_relation_that_cannot_be_limited_to_its_firm(db):
    with pytest.raises(AccessDenied, match="mart_activity has no partner_firm"):
        DataAccess(PARTNER_A, db).query("SELECT * FROM {mart_activity}")
    assert len(DataAccess(PM, db).query("SELECT * FROM {mart_activity}")) == len(COUNTIES)


@pytest.mark.parametrize("scope", [PM, PARTNER_A])
def test_tables_named_directly_are_refused_for_everyone(db, scope):
    with pytest.raises(AccessDenied, match="marts.fct_motions|fct_motions"):
        DataAccess(scope, db).query("SELECT count(*) FROM marts.fct_motions")
    with pytest.raises(AccessDenied):
        DataAccess(scope, db).query("WITH x AS (SELECT * FROM {fct_motions}) SELECT * FROM x, marts.mart_activity")
    with pytest.raises(AccessDenied, match="query_table"):
        DataAccess(scope, db).query("SELECT * FROM query_table('marts.fct_motions')")
    with pytest.raises(AccessDenied, match="one SELECT"):
        DataAccess(scope, db).query("SELECT 1 FROM {fct_motions}; SELECT * FROM marts.fct_motions")
    # CTEs built from placeholders are fine.
    assert len(DataAccess(scope, db).query("WITH x AS (SELECT * FROM {fct_motions}) SELECT count(*) FROM x")) == 1


def test_files_and_other_databases_are_out_of_reach(db, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("partner_firm\nFirm B LLP\n")
    for sql in (f"SELECT * FROM read_csv('{other}')", f"SELECT * FROM '{other}'"):
        with pytest.raises(AccessDenied):
            DataAccess(PM, db).query(sql)
    # Below the SQL check, the connection itself refuses files and ATTACH.
    with pytest.raises(duckdb.PermissionException):
        read_published(db, f"SELECT * FROM read_csv('{other}')")
    with pytest.raises(duckdb.PermissionException):
        read_published(db, f"ATTACH '{tmp_path / 'x.duckdb'}' AS x")


def test_reserved_parameter_names_cannot_override_the_firm(db):
    with pytest.raises(ValueError, match="reserved"):
        DataAccess(PARTNER_A, db).query("SELECT * FROM {fct_motions}", {"scope_firm": "Firm B LLP"})


# --- funder ------------------------------------------------------------------------------------

def test_funder_is_refused_row_level_data(db):
    access = DataAccess(FUNDER, db)
    with pytest.raises(AccessDenied, match="aggregates only"):
        access.query("SELECT county, count(*) FROM {fct_motions} GROUP BY county")
    with pytest.raises(AccessDenied, match="client_id"):
        access.aggregate("fct_motions", rows="client_id")


def test_funder_gets_suppressed_aggregates_that_match_the_data(db):
    firm_a = {"firm": "Firm A LLP"}
    table = DataAccess(FUNDER, db).aggregate("fct_motions", rows="county", columns="outcome", where="partner_firm = $firm", params=firm_a)
    values = table.numeric.to_numpy().ravel()
    shown = values[~np.isnan(values)]
    assert not np.any((shown > 0) & (shown < 11))
    assert table.any_suppressed
    assert set(table.display.to_numpy().ravel()) & {"<11"}
    truth = dict(((c, o), n) for c, o, n in direct(db, "SELECT county, outcome, count(*) FROM marts.fct_motions WHERE partner_firm = 'Firm A LLP' GROUP BY ALL"))
    for county in COUNTIES:
        for outcome in OUTCOMES:
            if not table.suppressed_mask.loc[county, outcome]:
                assert table.numeric.loc[county, outcome] == truth[(county, outcome)]
    # Survivor cases are inside the aggregates, never listed.
    assert table.numeric.loc[TOTAL_LABEL, TOTAL_LABEL] == direct(db, "SELECT count(*) FROM marts.fct_motions WHERE partner_firm = 'Firm A LLP'")[0][0]


def test_distinct_counts_take_their_totals_from_sql(db):
    table = DataAccess(PM, db).aggregate("fct_motions", rows="county", distinct="client_id")
    clients = direct(db, "SELECT count(DISTINCT client_id) FROM marts.fct_motions")[0][0]
    assert table.numeric[TOTAL_LABEL] == clients
    assert table.numeric.drop(TOTAL_LABEL).sum() > clients  # a client's motions span counties


def test_funder_summary_hides_statistics_of_small_groups(db):
    result = DataAccess(FUNDER, db).summary(
        "fct_motions", by=["county", "outcome"], stats={"mean_month": "avg(month(decision_date))"},
        where="partner_firm = $firm", params={"firm": "Firm A LLP"},
    )
    small = result.numeric.n.isna()
    assert small.any() and result.numeric.mean_month[small].isna().all()
    truth = dict(((c, o), n) for c, o, n in direct(db, "SELECT county, outcome, count(*) FROM marts.fct_motions WHERE partner_firm = 'Firm A LLP' GROUP BY ALL"))
    for row in result.display[small].itertuples():
        # a marker states a true bound: "<11" only over a group of 1 to 10, "withheld" otherwise
        if row.n == "<11":
            assert 1 <= truth[(row.county, row.outcome)] < 11
            assert row.mean_month == "fewer than 11 cases"  # not "<11", which reads as a month below 11
        else:
            assert row.n == "withheld" and row.mean_month == "withheld"
    assert result.display.county.notna().all()  # group labels stay visible
    assert (result.numeric.n.dropna() >= 11).all()
    for row in result.numeric[~small].itertuples():
        assert row.n == truth[(row.county, row.outcome)]


def test_summary_statistics_cannot_list_rows(db):
    with pytest.raises(duckdb.BinderException):  # not an aggregate: DuckDB refuses, nothing is listed
        DataAccess(PM, db).summary("fct_motions", by="county", stats={"listed": "motion_id"})


# --- identity ----------------------------------------------------------------------------------

def test_without_authentication_the_local_user_is_a_program_manager_on_loopback_only():
    scope = scope_for({"email": "test@example.com"}, None, "127.0.0.1")
    assert scope.role is Role.PROGRAM_MANAGER and scope.local and scope.banner == LOCAL_BANNER
    with pytest.raises(AccessDenied, match="not bound to 127.0.0.1"):
        scope_for({}, None, "0.0.0.0")
    with pytest.raises(AccessDenied):
        scope_for({}, None, None)  # Streamlit's default listens on every interface


def test_authenticated_identities_get_the_role_in_the_roles_file():
    roles = load_roles(PROJECT / "dashboards" / "roles.example.yml")
    partner = scope_for({"is_logged_in": True, "email": "ProBono.Coordinator@Firm-A.example", "email_verified": True}, roles, "0.0.0.0")
    assert (partner.role, partner.firm, partner.banner) == (Role.PARTNER, "Firm A LLP", None)
    assert scope_for({"is_logged_in": True, "email": "grants@foundation.example", "email_verified": True}, roles, None).role is Role.FUNDER
    with pytest.raises(LoginRequired):
        scope_for({"is_logged_in": False}, roles, None)


def test_an_identity_without_a_role_sees_no_data(db):
    roles = load_roles(PROJECT / "dashboards" / "roles.example.yml")
    with pytest.raises(AccessDenied, match="No role is assigned to stranger@example.org"):
        scope_for({"is_logged_in": True, "email": "stranger@example.org", "email_verified": True}, roles, "127.0.0.1")
    with pytest.raises(AccessDenied, match="No role"):
        scope_for({"is_logged_in": True, "email": "manager@example.org", "email_verified": True}, None, "127.0.0.1")  # no roles file
    with pytest.raises(AccessDenied):
        DataAccess(None, db)


@pytest.mark.parametrize(
    "body, message",
    [
        ("users:\n  x@example.org: {role: admin}\n", "users.x@example.org: unknown role 'admin'"),
        ("users:\n  x@example.org: {role: partner}\n", "users.x@example.org: a partner needs a 'firm'"),
        ("users:\n  x@example.org: {role: funder, firm: F}\n", "only partners have a 'firm'"),
        ("suppression_threshold: 0\nusers: {}\n", "suppression_threshold must be a positive integer"),
    ],
)
def test_bad_roles_files_name_the_file_and_entry(tmp_path, body, message):
    path = tmp_path / "roles.yml"
    path.write_text(body)
    with pytest.raises(ValueError, match=f"{path}.*{message}".replace("(", r"\(").replace(")", r"\)").replace("'", "'")):
        load_roles(path)


def test_threshold_from_the_roles_file_reaches_the_funder_scope(tmp_path):
    path = tmp_path / "roles.yml"
    path.write_text("suppression_threshold: 20\nusers:\n  g@f.example: {role: funder}\n")
    assert scope_for({"is_logged_in": True, "email": "g@f.example", "email_verified": True}, load_roles(path), None).threshold == 20


# --- reading the published file ----------------------------------------------------------------

def test_a_file_replaced_atomically_between_two_queries_is_picked_up(db, tmp_path):
    access = DataAccess(PM, db)
    sql = "SELECT count(*) AS n FROM {fct_motions}"
    before = access.query(sql).n[0]
    assert access.query(sql).n[0] == before  # served again (from the cache) unchanged
    in_flight = duckdb.connect(str(db), read_only=True)  # a query still running on the old version
    new_version = build_db(tmp_path / "pcr.work.duckdb", scale=2)
    os.replace(new_version, db)  # what the pipeline's publish step does
    assert access.query(sql).n[0] == 2 * before
    assert in_flight.execute("SELECT count(*) FROM marts.fct_motions").fetchone()[0] == before
    in_flight.close()


def open_handles(inode: int) -> int:
    """How many of this process's file descriptors are open on ``inode`` (even once unlinked)."""
    handles = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            handles += os.stat(f"/proc/self/fd/{fd}").st_ino == inode
        except FileNotFoundError:  # the descriptor os.listdir itself used
            pass
    return handles


def test_one_connection_serves_a_version_and_is_closed_after_an_atomic_replace(db, tmp_path):
    access = DataAccess(PM, db)
    old_inode = db.stat().st_ino
    for county in COUNTIES:  # distinct parameters: every query reaches DuckDB
        access.query("SELECT count(*) AS n FROM {fct_motions} WHERE county = $county", {"county": county})
    assert open_handles(old_inode) == 1  # one instance kept open for the version, not one per query
    before = access.query("SELECT count(*) AS n FROM {fct_motions}").n[0]
    old_version = db_version(db)
    in_flight, cursor = access_layer._cursor(str(db), old_version)  # a query running on the old version
    os.replace(build_db(tmp_path / "pcr.work.duckdb", scale=2), db)  # what the pipeline's publish step does
    assert access.query("SELECT count(*) AS n FROM {fct_motions}").n[0] == 2 * before
    assert open_handles(db.stat().st_ino) == 1
    # The query in flight finishes on the old file; then the old instance is closed and its inode released.
    cursor.execute("USE published")
    assert cursor.execute("SELECT count(*) FROM marts.fct_motions").fetchone()[0] == before
    cursor.close()
    assert open_handles(old_inode) == 1
    access_layer._release(in_flight)
    assert open_handles(old_inode) == 0
    with pytest.raises(duckdb.ConnectionException):
        in_flight.connection.execute("SELECT 1")


def test_sessions_in_threads_share_the_connection_safely(db):
    access = DataAccess(PM, db)
    truth = dict(direct(db, "SELECT county || '/' || outcome, count(*) FROM marts.fct_motions GROUP BY ALL"))

    def count(key: str) -> int:
        county, outcome = key.split("/")
        sql = "SELECT count(*) AS n FROM {fct_motions} WHERE county = $county AND outcome = $outcome"
        return int(access.query(sql, {"county": county, "outcome": outcome}).n[0])

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert dict(zip(truth, pool.map(count, truth))) == truth


def test_a_shared_connection_keeps_its_lockdown(db, tmp_path):
    with pytest.raises(duckdb.InvalidInputException, match="lock"):  # no query may loosen a setting for others
        read_published(db, "SET threads = 1")
    with pytest.raises(duckdb.PermissionException):
        read_published(db, f"SELECT * FROM read_csv('{tmp_path}/x.csv')")
    assert read_published(db, "SELECT count(*) AS n FROM marts.mart_activity").n[0] == len(COUNTIES)


def test_missing_database_is_reported_not_crashed(tmp_path):
    with pytest.raises(DataUnavailable, match="No published database"):
        DataAccess(PM, tmp_path / "absent.duckdb").query("SELECT * FROM {fct_motions}")
