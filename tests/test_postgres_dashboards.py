"""The dashboards and grant reports on a PostgreSQL publish show what they show on the DuckDB
publish of the same exports, and follow new publishes without ever holding one up.

The golden export (dated as in tests/test_report.py) is published twice by the real `pcr run`:
into a DuckDB file, and into a throwaway PostgreSQL server (tests/postgres_cluster.py) with
`--target postgres`, whose publish the dashboards and reports read through their local copy
(pcr/postgres_mirror.py). Every page of the real app (AppTest) for a program manager, a partner
firm and a funder, and a grant report in every format, are compared. Then the bundled samples
are published on top while a copy is held open in the middle of its transaction: the publish
goes through, the copy is made again of the new publish, and a running dashboard shows it.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from e2e.support import APP, FUNDER, MANAGER, PAGES, PARTNER, busiest_firm
from pcr import cli
from pcr.settings import PROJECT_ROOT, Settings
from postgres_cluster import SUPERUSER, connect, create_database, postgres_server  # noqa: F401 - a fixture
from test_report import GOLDEN, GRANTS, _write_export

psycopg2 = pytest.importorskip("psycopg2")

SAMPLES = PROJECT_ROOT / "data_samples"
USERS = {"manager": MANAGER, "partner": PARTNER, "funder": FUNDER}
THRESHOLD = 3  # the golden export is small: with 11 a funder would see little but markers
# What a report writes that names its run rather than its numbers.
RUN_LINES = ("Run id", "Run finished")


def _pcr(env: dict[str, str], *argv) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        mp.delenv("PCR_DB", raising=False)
        assert cli.main([str(a) for a in argv]) == 0


@pytest.fixture(scope="module")
def published(postgres_server, tmp_path_factory):
    """The golden export published on DuckDB and on PostgreSQL, the environment of each, and a
    roles file for the three roles."""
    root = tmp_path_factory.mktemp("pg-dashboards")
    _write_export(GOLDEN, root / "exports", "2024-12-31")
    common = {"PCR_HMAC_KEY_FILE": str(root / "hmac.key"), "PCR_GRANTS_FILE": str(root / "grants.yml")}
    (root / "grants.yml").write_text(GRANTS.format(threshold=THRESHOLD), encoding="utf-8")
    duck = {**common, "PCR_DATA_DIR": str(root / "duck"), "PCR_TARGET": "duckdb"}
    _pcr(duck, "run", root / "exports")
    dbname = "dashboards"
    create_database(postgres_server, dbname)
    host, port = postgres_server
    pg = {**common, "PCR_DATA_DIR": str(root / "pg"), "PCR_TARGET": "postgres", "PGHOST": host, "PGPORT": port,
          "PGUSER": SUPERUSER, "PGDATABASE": dbname}
    _pcr(pg, "run", root / "exports")
    firm = busiest_firm(root / "duck" / "pcr.duckdb")
    roles = root / "roles.yml"
    roles.write_text(f"suppression_threshold: {THRESHOLD}\nusers:\n  {MANAGER}: {{role: program_manager}}\n"
                     f"  {PARTNER}: {{role: partner, firm: \"{firm}\"}}\n  {FUNDER}: {{role: funder}}\n",
                     encoding="utf-8")
    return {"root": root, "duck": duck, "pg": pg, "roles": roles, "dbname": dbname}


def _settings(env: dict[str, str]) -> Settings:
    return Settings.from_env({**os.environ, **env})


def _open(env: dict[str, str], roles: Path, role: str, page: str, mp: pytest.MonkeyPatch) -> AppTest:
    for name, value in {**env, "PCR_ROLES_FILE": str(roles)}.items():
        mp.setenv(name, value)
    mp.delenv("PCR_DB", raising=False)
    st.config.set_option("server.address", "127.0.0.1")
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.user = {"is_logged_in": True, "email": USERS[role], "email_verified": True}
    at.switch_page(f"../dashboards/views/{page}.py")
    at.run()
    assert not at.exception, f"{role} {page}: {[e.message for e in at.exception]}"
    return at


# Two runs publish the same exports, one per engine: their ids and times differ, nothing else.
RUN_ID = re.compile(r"\b\d{8}T\d{6}Z-[0-9a-f]{6}\b")
TIME_OF_DAY = re.compile(r"\b(\d{4}-\d{2}-\d{2})[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\b")


def _of_any_run(text: str) -> str:
    return TIME_OF_DAY.sub("<time>", RUN_ID.sub("<run>", text))


def _shown(at: AppTest) -> dict[str, list]:
    """Everything a page shows that comes from the data: tiles, tables, sentences, captions."""
    return {
        "tiles": [(m.label, _of_any_run(str(m.value)), m.delta) for m in at.metric],
        "tables": [_of_any_run(shown.value.to_csv()) for shown in at.dataframe],
        "sentences": [_of_any_run(e.value) for kind in (at.info, at.warning, at.error, at.caption) for e in kind],
        "headings": [e.value for kind in (at.header, at.subheader) for e in kind],
    }


@pytest.mark.parametrize("role", list(USERS))
def test_every_page_shows_the_same_on_postgres_as_on_duckdb(published, role, monkeypatch):
    numbers = 0
    for page in PAGES:
        with pytest.MonkeyPatch.context() as mp:
            on_duckdb = _shown(_open(published["duck"], published["roles"], role, page, mp))
        with pytest.MonkeyPatch.context() as mp:
            on_postgres = _shown(_open(published["pg"], published["roles"], role, page, mp))
        assert any(on_duckdb.values()), f"{role} {page}: nothing shown"
        numbers += len(on_duckdb["tiles"]) + len(on_duckdb["tables"])
        for kind, shown in on_duckdb.items():
            assert on_postgres[kind] == shown, f"{role} {page} {kind}"
    assert numbers >= 5, f"{role}: too few tiles and tables to compare"
    # The pages read the copy, not some other file.
    assert (published["root"] / "pg" / "postgres-published.duckdb").is_file()


# The whole grant; one scoped by county and client; a closed quarter whose data is rebuilt with
# open work censored at its end (from the copy's raw schema on the postgres target).
@pytest.mark.parametrize("grant, period, options", [("G-ALL", "grant", ()), ("G-LA", "grant", ()),
                                                    ("G-ALL", "2024Q3", ("--as-known-now",))])
def test_a_grant_report_from_postgres_is_the_one_from_duckdb(published, grant, period, options):
    out = {}
    for engine in ("duck", "pg"):
        folder = published["root"] / f"reports-{engine}-{grant}-{period}"
        _pcr(published[engine], "report", "--grant", grant, "--period", period, "--format", "csv,xlsx,pdf",
             "--out", folder, *options)
        out[engine] = folder
    csv = {engine: [line for line in next(folder.glob("*.csv")).read_text(encoding="utf-8").splitlines()
                    if not any(word in line for word in RUN_LINES)] for engine, folder in out.items()}
    assert len(csv["pg"]) > 50  # a whole report: headline, deliverables, tables, the data version
    assert csv["pg"] == csv["duck"]
    assert sorted(p.suffix for p in out["pg"].iterdir()) == [".csv", ".pdf", ".xlsx"]
    if options:  # rebuilt as of the quarter's end, beside the copy
        assert list((published["root"] / "pg" / "reports").glob("*-asof-2024-09-30.duckdb"))


def test_no_publish_no_role_and_no_server_are_each_one_sentence(published, postgres_server, run_pcr, monkeypatch,
                                                                 tmp_path):
    host, port = postgres_server
    create_database(postgres_server, "nothing_published")
    for name, value in {**published["pg"], "PGDATABASE": "nothing_published",
                        "PCR_DATA_DIR": str(tmp_path / "var")}.items():
        monkeypatch.setenv(name, value)
    result = run_pcr("dashboard", "--port", "8599")
    assert result.code == 1
    assert result.err == (f"pcr dashboard: no PostgreSQL publish yet in PostgreSQL database nothing_published on "
                          f"{host}:{port}: run `pcr run --target postgres EXPORTS...` first (docs/postgres.md)\n")
    monkeypatch.setenv("PGDATABASE", published["dbname"])
    with connect(postgres_server, published["dbname"]) as admin, admin.cursor() as cursor:
        cursor.execute("create role not_a_dashboard login")
    admin.close()
    monkeypatch.setenv("PGUSER", "not_a_dashboard")
    result = run_pcr("report", "--grant", "G-ALL", "--period", "grant")
    assert result.code == 1
    assert result.err.startswith("pcr report: user not_a_dashboard may not read as pcr_dashboard in PostgreSQL "
                                 "database dashboards") and result.err.count("\n") == 1
    monkeypatch.setenv("PGHOST", str(tmp_path / "no-server-here"))
    result = run_pcr("dashboard", "--port", "8599")
    assert result.code == 1
    assert result.err.startswith("pcr dashboard: cannot connect to PostgreSQL database dashboards") \
        and result.err.count("\n") == 1
    assert not (tmp_path / "var" / "postgres-published.duckdb").exists()


def _published(server, dbname: str, sql: str):
    """The one value `sql` reads from what the PostgreSQL server has published now."""
    with connect(server, dbname) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        (value,) = cursor.fetchone()
    connection.close()
    return value


def _stamp(server, dbname: str) -> str:
    return _published(server, dbname, "select run_id from marts.publish_stamp")


def _motions(server, dbname: str) -> int:
    return _published(server, dbname, "select count(*) from marts.fct_motions")


def test_a_publish_is_not_held_up_by_a_copy_and_a_running_dashboard_shows_it(published, postgres_server,
                                                                              monkeypatch):
    """A running dashboard shows the golden publish. A copy paused in its transaction, after its
    first table, holds read locks on that publish; `pcr run` publishes the samples meanwhile, and
    the copy, let go, is made again of the new publish whole. The dashboard shows the new publish
    once its check comes round."""
    from pcr.postgres_mirror import copied_stamp, copy_published, follow

    dbname, settings = published["dbname"], _settings(published["pg"])
    before = _stamp(postgres_server, dbname)
    follower = follow(settings)  # the one the app's sessions in this process use
    shown_before = _shown(_open(published["pg"], published["roles"], "manager", "overview", monkeypatch))
    if follower.worker is not None:
        follower.worker.join(timeout=600)
    assert copied_stamp(settings.published_db) == before
    paused, resume = threading.Event(), threading.Event()
    tables_copied: list[str] = []
    outcome: dict[str, object] = {}

    def on_table(name: str) -> None:
        tables_copied.append(name)
        if len(tables_copied) == 1:
            paused.set()
            resume.wait(timeout=900)

    def copy() -> None:
        try:
            outcome["stamp"] = copy_published(settings, published["root"] / "held-copy.duckdb", on_table)
        except BaseException as e:  # noqa: BLE001 - handed to the test's thread
            outcome["error"] = e

    copier = threading.Thread(target=copy)
    copier.start()
    run = None
    try:
        assert paused.wait(timeout=300), "the copy never started"
        env = {**os.environ, **published["pg"]}
        env.pop("PCR_DB", None)
        run = subprocess.Popen([sys.executable, "-m", "pcr.cli", "run", SAMPLES], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 900
        while _stamp(postgres_server, dbname) == before:  # the swap commits with the copy still open
            assert run.poll() is None, run.stdout.read()
            assert time.monotonic() < deadline, "the publish did not commit while a copy was open"
            time.sleep(1)
    finally:
        resume.set()
        copier.join(timeout=900)
        if run is not None:
            output = run.communicate(timeout=900)[0]
    assert run.returncode == 0, output
    after = _stamp(postgres_server, dbname)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["stamp"] == after != before
    with duckdb.connect(str(published["root"] / "held-copy.duckdb"), read_only=True) as con:
        copied = con.execute("SELECT count(*) FROM marts.fct_motions").fetchone()[0]
    assert copied == _motions(postgres_server, dbname) > 20  # the golden export's 20 and the samples'

    # The running dashboard still shows the golden publish until its check comes round.
    assert copied_stamp(settings.published_db) == before
    time.sleep(follower.every_s)
    _open(published["pg"], published["roles"], "manager", "overview", monkeypatch)  # the check comes round
    follower.worker.join(timeout=600)
    assert copied_stamp(settings.published_db) == after
    shown_after = _shown(_open(published["pg"], published["roles"], "manager", "overview", monkeypatch))
    assert shown_after["tiles"] != shown_before["tiles"]
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.fct_motions").fetchone()[0] == _motions(postgres_server, dbname)
