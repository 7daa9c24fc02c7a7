"""A column a layout marks not available (`{not_available: true}`) is said to be so, never
counted as 0: on the dashboards, in the grant report and the partner report, and by the
collapse check, which skips it instead of blocking every run.

One generated world (`pcr samples`' generator) is published twice in one data directory by
real `pcr run`s: first in the bundled `case_manager` layout with every column; then a later
motions export from which the system dropped the filing dates and the removal exposure
(proceedings, final order, detention, deportable offense), read by the program's own
`case_manager.yml` in its layouts folder (`pcr run --layouts DIR`) that marks those columns
not available. Every motion, case, client and conviction of the first export is superseded by
the second, so no current export carries those columns; the time and immigration exports of
the first stay current."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from e2e.support import APP, FUNDER, MANAGER, busiest_firm, open_page, write_roles
from synth import generator as synth
from pcr.settings import Settings

PROJECT = Path(__file__).resolve().parents[1]
MOTIONS, SEED = 150, 11
NOT_AVAILABLE = "not available in these exports"
LATER = "2026-11-01"
# The program's layout: the bundled case_manager with these entries marked not available.
MARKED = {
    '        filing_date: {first_of: ["E-Filed", "Filed (Paper)"]}\n': "filing_date",
    '        in_removal_proceedings: "In Proceedings"\n': "in_removal_proceedings",
    '        final_removal_order: "Final Order"\n': "final_removal_order",
    '        detained_at_intake: "Detained"\n': "detained_at_intake",
    '        removal_ground: "Deportable Offense"\n': "removal_ground",
}
DROPPED = ("E-Filed", "Filed (Paper)", "In Proceedings", "Final Order", "Detained", "Deportable Offense")
MISSING = {("motions", "filing_date"), ("clients", "in_removal_proceedings"), ("clients", "final_removal_order"),
           ("clients", "detained_at_intake"), ("convictions", "removal_ground")}
GRANTS = """
grantee: Example Program
suppression_threshold: 1
grants:
  - id: G-ALL
    funder: Test Foundation
    start: 2015-01-01
    end: 2027-12-31
    amount_usd: 100000
    deliverables:
      - {name: Motions filed, metric: motions_filed, target: 100}
      - {name: Motions decided, metric: motions_decided, target: 100}
      - {name: Removal avoided, metric: clients_removal_avoided, target: 10}
      - {name: Hours, metric: pro_bono_hours, target: 100}
    demographics: [age_band]
"""


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def program_layout(folder: Path) -> Path:
    text = (Settings.from_env().bundled_layouts_dir / "case_manager.yml").read_text(encoding="utf-8")
    for entry, column in MARKED.items():
        assert text.count(entry) == 1, entry
        text = text.replace(entry, f"{entry[:len(entry) - len(entry.lstrip())]}{column}: {{not_available: true}}\n")
    folder.mkdir()
    (folder / "case_manager.yml").write_text(text, encoding="utf-8")
    return folder


def later_motions_export(first: Path, out: Path) -> Path:
    """The motions report exported a day later by a system that no longer has the dropped columns."""
    with first.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    (title, run, header), body = rows[:3], rows[3:]
    assert title == ["PCR Motions Report"] and set(DROPPED) <= set(header)
    keep = [i for i, name in enumerate(header) if name not in DROPPED]
    out.mkdir()
    target = out / f"motions_{LATER}.csv"
    with target.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerows([title, [run[0].replace("10/31/2026", "11/01/2026"), *run[1:]]])
        writer.writerows([[row[i] for i in keep] for row in [header, *body]])
    return target


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("not_available")
    ds = synth.generate(MOTIONS, SEED, messy=False)
    carried = synth.expressible(ds, synth.load_layout("case_manager"))
    synth.write_samples(carried, root / "exports", layouts=("case_manager",), formats=("csv",))
    exports = root / "exports" / "case_manager" / "csv"
    env = {k: v for k, v in os.environ.items() if k not in ("PCR_DB", "PCR_LAYOUTS_DIR", "PCR_SCRATCH_DB")}
    env.update(PCR_DATA_DIR=str(root / "var"), PCR_HMAC_KEY_FILE=str(root / "hmac.key"))

    def run(*args) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pcr.cli", "run", *map(str, args)], env=env, cwd=PROJECT,
                              capture_output=True, text=True, timeout=900)

    first = run(exports)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    published = root / "var" / "pcr.duckdb"
    before = root / "before.duckdb"
    shutil.copyfile(published, before)
    layouts = program_layout(root / "my_layouts")
    motions = next(exports.glob("motions_*.csv"))
    second = run("--layouts", layouts, later_motions_export(motions, root / "later"))
    return {"root": root, "before": before, "published": published, "second": second, "layouts": layouts}


def test_the_export_publishes_and_the_mart_says_which_columns_no_export_carries(runs):
    second, published, before = runs["second"], runs["published"], runs["before"]
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
    assert "Published" in second.stdout and "BLOCKING" not in second.stdout
    # What was published before had every one of these numbers: each went to 0 and was not
    # taken for a lost column, because the layout says the exports do not carry it.
    (filed, avoided), = query(before, "SELECT (SELECT count(*) FROM marts.fct_motions WHERE is_filed), "
                                      "(SELECT count(*) FROM marts.mart_removal_avoided)")
    assert filed > 0 and avoided > 0
    assert query(before, "SELECT count(*) FROM marts.mart_column_availability WHERE marked_not_available") == [(0,)]
    (filed, decided, exposed), = query(published, "SELECT count(*) FILTER (WHERE is_filed), count(*) FILTER (WHERE is_decided), "
                                                  "(SELECT count(*) FROM marts.mart_removal_avoided) FROM marts.fct_motions")
    assert (filed, exposed) == (0, 0) and decided > 0
    rows = {(t, c): (a, m, w, wo) for t, c, a, m, w, wo in query(
        published, "SELECT contract_table, contract_column, available, marked_not_available, loads_with, loads_without "
                   "FROM marts.mart_column_availability")}
    assert {k for k, (_, marked, *_) in rows.items() if marked} == MISSING
    for key in MISSING:  # the older export's records still current (repeated unchanged) hold no value of them
        assert rows[key] == (False, True, 0, 1), key
    assert rows[("motions", "decision_date")][0] and rows[("time_entries", "hours")][0]
    # A column the layout leaves out (it maps full_name, no first_name) is not carried either,
    # but nothing marks it so.
    assert rows[("clients", "first_name")][:3] == (False, False, 0)
    # Every check of the gate ran and passed, the marts' removal breakdowns (no client has
    # exposure) and the collapse measures among them.
    results = dict(((s, d), ok) for s, d, ok in query(
        published, "SELECT suite, dataset, bool_and(success) FROM pipeline.validation_results v JOIN pipeline.runs r "
                   "USING (run_id) WHERE r.finished_at = (SELECT max(finished_at) FROM pipeline.runs) GROUP BY ALL"))
    assert results[("marts", "removal_avoided_breakdowns")] and results[("collapse", "measures")]


def test_a_column_the_layout_only_leaves_out_still_blocks(runs, tmp_path):
    from expectations.runner import validate

    # The same data, as if the layout had left filing_date out instead of marking it.
    db = tmp_path / "left_out.duckdb"
    shutil.copyfile(runs["published"], db)
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE marts.mart_column_availability SET marked_not_available = false "
                    "WHERE contract_table = 'motions' AND contract_column = 'filing_date'")
    (run_id,), = query(runs["before"], "SELECT max_by(run_id, finished_at) FROM pipeline.runs")
    (filed,), = query(runs["before"], "SELECT count(*) FROM marts.fct_motions WHERE is_filed")
    (decided,), = query(db, "SELECT count(*) FROM marts.fct_motions WHERE is_decided")

    result = validate(db, tmp_path / "docs", published=runs["before"])

    # Only filing_date is taken for a lost column: the removal exposure is still marked.
    (collapse,) = [r for r in result.results if r.suite == "collapse"]
    assert collapse.severity == "blocking" and not collapse.success
    advice = "the exports may have lost a column (filing_date); rerun with --accept-collapse if this is true"
    assert sorted(collapse.messages) == sorted([
        f"motions filed went from {filed:,} to 0 against the published data (run {run_id}): {advice}",
        f"motions filed is 0 while motions decided is {decided:,} in this run: {advice}"])


@pytest.fixture
def dashboard(runs, monkeypatch, tmp_path):
    monkeypatch.setenv("PCR_DB", str(runs["published"]))
    monkeypatch.setenv("PCR_ROLES_FILE", str(write_roles(tmp_path / "roles.yml", "Nobody LLP", 11, ())))
    st.config.set_option("server.address", "127.0.0.1")
    return runs["published"]


def app(user: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.user = {"is_logged_in": True, "email": user, "email_verified": True}
    return at.run()


def _infos(at: AppTest) -> str:
    return " ".join(i.value for i in at.info)


@pytest.mark.parametrize("user", [MANAGER, FUNDER])
def test_the_overview_says_not_available_and_shows_the_other_numbers(dashboard, user):
    db = dashboard
    at = open_page(app(user), "overview")
    tiles = {m.label: m.value for m in at.metric}
    for label in ("Motions filed", "Removal avoided (confirmed)", "Removal avoided (projected)"):
        assert tiles[label] == NOT_AVAILABLE, label
    (decided, hours), = query(db, "SELECT (SELECT count(*) FROM marts.fct_motions WHERE is_decided), "
                                  "(SELECT sum(hours) FROM marts.fct_time_entries)")
    assert float(tiles["Motions decided"].replace(",", "")) == decided
    assert float(tiles["Pro bono hours"].replace(",", "")) == pytest.approx(hours, abs=0.51)
    said = _infos(at)
    assert f"Motions filed: {NOT_AVAILABLE}; the exports' layout marks motions.filing_date not available." in said
    assert ("Removal avoided (confirmed) and Removal avoided (projected): " + NOT_AVAILABLE + "; the exports' layout marks "
            "clients.in_removal_proceedings, clients.final_removal_order, clients.detained_at_intake and "
            "convictions.removal_ground not available.") in said

    at = open_page(at, "removal")
    assert not at.dataframe and f"Removal avoided: {NOT_AVAILABLE}" in _infos(at)
    at = open_page(at, "vacaturs")
    # Outcomes, relief by class, this year against last year, trend: none needs what is missing.
    assert len(at.dataframe) == 4
    if user == MANAGER:  # the data quality page lists what the exports do not carry
        at = open_page(at, "data_quality")
        (listed,) = [d.value for d in at.dataframe if "shown as not available" in d.value.columns]
        rows = listed.set_index("column")
        assert set(rows.index) == {f"{t}.{c}" for t, c in MISSING} | {"clients.first_name", "clients.last_name"}
        assert rows.loc["motions.filing_date", "why"] == "the layout marks it not available"
        assert "motions filed" in rows.loc["motions.filing_date", "shown as not available"]
        assert rows.loc["clients.first_name"].tolist() == ["the layout does not map it", "(no metric needs it)"]


def test_the_grant_report_says_not_available_in_its_headline_deliverables_and_tables(runs, tmp_path):
    from pcr.commands.report import rebuild_models
    from reports import asof, render
    from reports.build import build_report
    from reports.grants import load_grants, parse_period

    grants_file = tmp_path / "grants.yml"
    grants_file.write_text(GRANTS, encoding="utf-8")
    grant = load_grants(grants_file).grants["G-ALL"]
    period = parse_period("grant", grant)
    report = build_report(grant, period, asof.prepare(period, grant.close_after_days, runs["published"],
                                                      work_dir=tmp_path / "asof",
                                                      rebuild=rebuild_models(Settings.from_env())), 1)

    headline = {label: value for label, value, _ in report.headline}
    assert headline["Motions filed"] == NOT_AVAILABLE and headline["Removal avoided"] == NOT_AVAILABLE
    (decided,), = query(runs["published"], "SELECT count(*) FROM marts.fct_motions WHERE is_decided")
    assert headline["Motions decided"] == f"{decided:,}"
    rows = {r["Deliverable"]: r for r in report.deliverables.to_dict("records")}
    for name in ("Motions filed", "Removal avoided"):
        assert [rows[name][c] for c in ("This period", "Grant to date", "% of target")] == [NOT_AVAILABLE] * 3, name
    assert rows["Motions decided"]["This period"] == f"{decided:,}" and rows["Hours"]["% of target"] != NOT_AVAILABLE
    tables = {t.key: t for t in report.tables}
    for key in ("motions_filed", "removal_avoided", "removal_avoided_split"):
        assert tables[key].display.iloc[:, 1].tolist() == [NOT_AVAILABLE], key
        assert "the exports' layout marks" in tables[key].note, key
    ages = tables["demographics_age_band"].display
    assert set(ages["Removal avoided"]) == {NOT_AVAILABLE} and NOT_AVAILABLE not in set(ages["Clients represented"])
    ttr = tables["time_to_resolution"].display.set_index("Measure (unit)")
    assert ttr.loc["Filing to decision (motions)", "Units"] == NOT_AVAILABLE
    assert ttr.loc["Referral to state-court decision (re-filing chains)", "Units"] != NOT_AVAILABLE
    assert len(report.not_available) == 2 and "motions.filing_date" in report.not_available[0]

    text = pdf_text(render.to_pdf(report), tmp_path)
    assert text.count(NOT_AVAILABLE) >= 8 and "the exports' layout marks motions.filing_date not available" in " ".join(text.split())
    lines = list(csv.reader(render.to_csv(report).decode().splitlines()))
    assert ["headline", "Motions filed", "motions", NOT_AVAILABLE] in lines
    assert ["deliverables", "Removal avoided", "Grant to date", NOT_AVAILABLE] in lines


def pdf_text(pdf: bytes, folder: Path) -> str:
    (folder / "report.pdf").write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(folder / "report.pdf"), "-"], check=True, capture_output=True,
                          text=True).stdout


def test_the_partner_report_says_not_available(runs, tmp_path):
    from pcr.commands.report import rebuild_models
    from reports import asof
    from reports.partner import build_partner_report, to_pdf
    from reports.periods import calendar_period

    firm = busiest_firm(runs["published"])
    period = calendar_period("2026")
    report = build_partner_report(firm, period, asof.prepare(period, 45, runs["published"], work_dir=tmp_path / "asof",
                                                               rebuild=rebuild_models(Settings.from_env()),
                                                               as_known_now=True))
    figures = {f.label: f for f in report.figures}
    assert figures["Motions filed"].value == NOT_AVAILABLE
    assert figures["Clients whose removal was avoided"].value == NOT_AVAILABLE
    assert "marks motions.filing_date not available" in figures["Motions filed"].counts
    assert figures["Motions won"].value != NOT_AVAILABLE and figures["Pro bono hours"].value != NOT_AVAILABLE
    assert set(report.motions["Filed"]) == {NOT_AVAILABLE} and NOT_AVAILABLE not in set(report.motions["Won"])
    assert NOT_AVAILABLE in pdf_text(to_pdf(report), tmp_path)
