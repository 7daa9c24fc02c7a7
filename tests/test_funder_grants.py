"""Funders see their own grants only: the roles file links a funder to grant ids, the Grant
reports page offers a funder only those, and `pcr report --for EMAIL` refuses any other.

The hand-made golden export (tests/fixtures/golden) is published once by the real `pcr run`;
the grants file holds two grants of two funders, and a funder is linked to one of them."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from access.scope import AccessDenied, Role, load_roles
from e2e.support import APP
from pcr import cli

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
GRANTS = """
suppression_threshold: 3
grants:
  - {id: G-ALL, funder: Statewide Foundation, start: 2023-01-01, end: 2024-12-31}
  - id: G-LA
    funder: County Fund
    start: 2023-01-01
    end: 2024-12-31
    scope: {counties: [Los Angeles]}
"""
MANAGER, LA_FUNDER, UNLINKED_FUNDER, PARTNER = ("pm@example.org", "officer@county-fund.example",
                                                "officer@other-fund.example", "probono@firm.example")
ROLES = f"""
users:
  {MANAGER}: {{role: program_manager}}
  {LA_FUNDER}: {{role: funder, grants: [G-LA]}}
  {UNLINKED_FUNDER}: {{role: funder}}
  {PARTNER}: {{role: partner, firm: Birch LLP}}
"""


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("funder_grants")
    exports = root / "exports"
    exports.mkdir()
    for path in GOLDEN.glob("*.csv"):  # the export date comes from the file name
        shutil.copy(path, exports / f"{path.stem}_2024-12-31.csv")
    db = root / "var" / "pcr.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PCR_HMAC_KEY_FILE", str(root / "hmac.key"))
        mp.setenv("PCR_DATA_DIR", str(root / "var"))
        assert cli.main(["run", "--db", str(db), str(exports)]) == 0
    (root / "grants.yml").write_text(GRANTS, encoding="utf-8")
    (root / "roles.yml").write_text(ROLES, encoding="utf-8")
    return {"root": root, "db": db, "grants": root / "grants.yml", "roles": root / "roles.yml"}


# --- the roles file ----------------------------------------------------------------------------

def test_the_roles_file_links_funders_to_grants_and_scope_carries_them(published):
    roles = load_roles(published["roles"])
    funder = roles.scope_of("Officer@County-Fund.example")
    assert (funder.role, funder.grants) == (Role.FUNDER, frozenset({"G-LA"}))
    assert funder.visible_grants(["G-ALL", "G-LA"]) == ["G-LA"]
    assert roles.scope_of(UNLINKED_FUNDER).visible_grants(["G-ALL", "G-LA"]) == []
    assert roles.scope_of(MANAGER).visible_grants(["G-ALL", "G-LA"]) == ["G-ALL", "G-LA"]
    assert roles.scope_of(PARTNER).visible_grants(["G-ALL", "G-LA"]) == []
    with pytest.raises(AccessDenied, match="No role is assigned to stranger@example.org"):
        roles.scope_of("stranger@example.org")
    roles.check_grants(["G-ALL", "G-LA"], published["grants"])  # every link is a grant of the file


@pytest.mark.parametrize("entry, message", [
    ("{role: program_manager, grants: [G-LA]}", "only funders have 'grants'"),
    ("{role: partner, firm: Birch LLP, grants: [G-LA]}", "only funders have 'grants'"),
    ("{role: funder, grants: G-LA}", "'grants' must be a list of grant ids"),
    ("{role: funder, grant: [G-LA]}", r"unknown key\(s\) \['grant'\]"),
])
def test_a_malformed_grants_entry_names_the_file_and_user(tmp_path, entry, message):
    path = tmp_path / "roles.yml"
    path.write_text(f"users:\n  x@fund.example: {entry}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{path}: users.x@fund.example: {message}"):
        load_roles(path)


def test_a_link_to_a_grant_not_in_the_grants_file_names_the_roles_file_and_user(tmp_path, published):
    path = tmp_path / "roles.yml"
    path.write_text("users:\n  a@fund.example: {role: funder, grants: [G-LA]}\n"
                    "  b@fund.example: {role: funder, grants: [G-LA, G-LAA]}\n", encoding="utf-8")
    roles = load_roles(path)
    with pytest.raises(ValueError, match=f"{path}: users.b@fund.example: grant id\\(s\\) G-LAA are not in the grants file "
                                         f"{published['grants']}"):
        roles.check_grants(["G-ALL", "G-LA"], published["grants"])
    roles.check_grants(["G-ALL", "G-LA"], published["grants"], users=["a@fund.example"])  # a's own links are fine


# --- the Grant reports page --------------------------------------------------------------------

@pytest.fixture
def page(published, monkeypatch):
    monkeypatch.setenv("PCR_DB", str(published["db"]))
    monkeypatch.setenv("PCR_GRANTS_FILE", str(published["grants"]))
    monkeypatch.setenv("PCR_ROLES_FILE", str(published["roles"]))
    st.config.set_option("server.address", "127.0.0.1")

    def open_as(user: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=180)
        at.user = {"is_logged_in": True, "email": user, "email_verified": True}
        at.switch_page("../dashboards/views/grant_report.py")
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        return at
    return open_as


def grant_box(at: AppTest):
    return next(box for box in at.selectbox if box.label == "Grant")


def test_the_page_offers_a_funder_only_its_own_grant(page):
    at = page(LA_FUNDER)
    assert grant_box(at).options == ["G-LA — County Fund"]
    assert not at.error, [e.value for e in at.error]
    assert len(at.download_button) == 3 and at.dataframe  # the report of G-LA, on screen and as files
    shown = " ".join([*(str(e.value) for e in at.markdown), *(str(e.value) for e in at.caption),
                      *(d.value.to_csv() for d in at.dataframe), *(b.label for b in at.download_button)])
    assert "G-ALL" not in shown and "Statewide Foundation" not in shown


def test_a_program_manager_is_offered_every_grant(page):
    assert grant_box(page(MANAGER)).options == ["G-ALL — Statewide Foundation", "G-LA — County Fund"]


def test_a_funder_without_a_linked_grant_reads_a_sentence_not_every_grant(page):
    at = page(UNLINKED_FUNDER)
    assert [i.value for i in at.info] == [
        f"No grant is linked to your sign-in ({UNLINKED_FUNDER}), so there is no grant report to show. "
        "Ask the program's manager to link your grant to it."]
    assert not [box for box in at.selectbox if box.label == "Grant"]
    assert not (at.download_button or at.dataframe or at.metric)


def test_a_misspelt_link_is_an_error_naming_the_roles_file_and_user(page, published, tmp_path, monkeypatch):
    roles = tmp_path / "roles.yml"
    roles.write_text(f"users:\n  {LA_FUNDER}: {{role: funder, grants: [G-LA, G-LAA]}}\n", encoding="utf-8")
    monkeypatch.setenv("PCR_ROLES_FILE", str(roles))
    at = page(LA_FUNDER)
    assert [e.value for e in at.error] == [
        f"{roles}: users.{LA_FUNDER}: grant id(s) G-LAA are not in the grants file {published['grants']}"]
    assert not (at.download_button or at.dataframe)


# --- pcr report --for ---------------------------------------------------------------------------

def report(run_pcr, published, out: Path, grant: str, *extra: str):
    return run_pcr("report", "--grants", published["grants"], "--grant", grant, "--period", "grant", "--format", "csv",
                   "--out", out, "--db", published["db"], *extra)


def test_the_command_refuses_a_grant_not_linked_to_the_funder(run_pcr, published, tmp_path):
    out = tmp_path / "out"
    result = report(run_pcr, published, out, "G-ALL", "--for", LA_FUNDER, "--roles", published["roles"])
    assert result.code == 1
    assert result.err.strip() == (f"pcr report: grant G-ALL is not linked to funder {LA_FUNDER} in {published['roles']} "
                                  "(grants linked to it: G-LA); no report was written")
    assert not out.exists()
    result = report(run_pcr, published, out, "G-LA", "--for", LA_FUNDER, "--roles", published["roles"])
    assert result.code == 0, result.err
    assert [p.name for p in out.iterdir()] == ["grant-report_G-LA_whole_grant.csv"]


def test_the_command_reads_the_roles_file_from_the_environment(run_pcr, published, tmp_path, monkeypatch):
    out = tmp_path / "out"
    result = report(run_pcr, published, out, "G-LA", "--for", UNLINKED_FUNDER)
    assert result.code == 1 and "--for needs a roles file: pass --roles FILE or set PCR_ROLES_FILE" in result.err
    monkeypatch.setenv("PCR_ROLES_FILE", str(published["roles"]))
    result = report(run_pcr, published, out, "G-LA", "--for", UNLINKED_FUNDER)
    assert result.code == 1 and "(grants linked to it: none)" in result.err
    result = report(run_pcr, published, out, "G-LA", "--for", PARTNER)
    assert result.code == 1 and "a grant report covers every firm" in result.err
    result = report(run_pcr, published, out, "G-LA", "--for", "stranger@example.org")
    assert result.code == 1 and "No role is assigned to stranger@example.org" in result.err
    assert not out.exists()
    result = report(run_pcr, published, out, "G-ALL", "--for", MANAGER)
    assert result.code == 0, result.err
