"""What a grant report holds beyond its counts, and a partner firm's one-page impact report, on
the hand-made golden export (tests/fixtures/golden) published by the real `pcr run`.

The export is written without its country-of-birth column, so that dimension is "not available
in these exports". Demographic counts below are worked out by hand from the fixture's clients.
"""
from __future__ import annotations

import csv
import io
import re
import subprocess
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pcr import cli

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
NARRATIVE = """# Progress this period

Clients were referred by the **public defender** and the `county` clinic; see [the plan](https://example.org/plan).

## Highlights

- Two new partner firms
- A second clinic
  that opened in March

Closing paragraph.
"""
GRANTS = """
suppression_threshold: {threshold}
grantee: Golden Test Program
prepared_by: Data Team, Golden Test Program
grants:
  - id: G-DEMO
    funder: Test Foundation
    title: Demographics test grant
    start: 2023-01-01
    end: 2024-12-31
    amount_usd: 21000
    demographics: [age_band, primary_language, country_of_birth, county_of_residence, immigration_status]
    narrative_file: narrative.md
    deliverables:
      - {{name: Clients represented, metric: clients_represented, target: 20}}
      - {{name: Hours, metric: pro_bono_hours, target: 84}}
"""
# By hand: clients represented 2023-2024 are C01-C05 and C07-C11 (K06 closed in 2020, K12 and
# K13 never referred); removal avoided in 2023-2024: C01 (confirmed), C02, C09 (projected).
# Age at intake: C03 32, C05 31, C07 34, C08 27, C11 32 | C01 42, C04 37, C09 40, C10 43 | C02 47.
EXACT = {
    "age_band": {"25-34": (5, 0), "35-44": (4, 2), "45-54": (1, 1), "Total": (10, 3)},
    "primary_language": {"Spanish": (6, 2), "Vietnamese": (1, 1), "Tagalog": (1, 0), "Korean": (1, 0), "Arabic": (1, 0),
                         "Total": (10, 3)},
    "county_of_residence": {"Los Angeles": (4, 1), "Fresno": (4, 1), "San Diego": (2, 1), "Total": (10, 3)},
    "immigration_status": {"Lawful permanent resident": (7, 3), "Undocumented": (1, 0), "DACA recipient": (1, 0),
                           "Visa holder": (1, 0), "Total": (10, 3)},
}
SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("report_contents")
    exports = root / "exports"
    exports.mkdir()
    for path in GOLDEN.glob("*.csv"):  # the export date comes from the file name
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            row.pop("country_of_birth", None)  # this program's exports never carried it
        with (exports / f"{path.stem}_2024-12-31.csv").open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    db = root / "var" / "pcr.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PCR_HMAC_KEY_FILE", str(root / "hmac.key"))
        mp.setenv("PCR_DATA_DIR", str(root / "var"))
        assert cli.main(["run", "--db", str(db), str(exports)]) == 0
    (root / "narrative.md").write_text(NARRATIVE, encoding="utf-8")
    for threshold in (1, 3, 11):
        (root / f"grants-{threshold}.yml").write_text(GRANTS.format(threshold=threshold), encoding="utf-8")
    return {"root": root, "db": db}


def make_report(published: dict, threshold: int):
    from pcr.commands.report import rebuild_models
    from pcr.settings import Settings
    from reports import asof
    from reports.build import build_report
    from reports.grants import load_grants, parse_period

    grants = load_grants(published["root"] / f"grants-{threshold}.yml")
    grant = grants.grants["G-DEMO"]
    period = parse_period("grant", grant)
    version = asof.prepare(period, grant.close_after_days, published["db"], work_dir=published["root"] / "asof",
                           rebuild=rebuild_models(Settings.from_env()))
    return build_report(grant, period, version, grants.threshold)


def breakdown_shown(report, key: str) -> dict[str, tuple[str, str]]:
    table = next(t for t in report.tables if t.key == f"demographics_{key}").display
    return {row[0]: (row[1], row[2]) for row in table.values.tolist()}


def pdf_text(pdf: Path, page: int | None = None, mode: str = "-layout") -> str:
    """The text of a PDF (or one page): "-layout" as laid out, "-raw" in the order it was written."""
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run(["pdftotext", mode, *pages, str(pdf), "-"], check=True, capture_output=True, text=True).stdout


def page_count(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))


# --- demographic breakdowns --------------------------------------------------------------------

def test_demographics_count_by_hand_and_add_up_to_the_headline(published):
    report = make_report(published, threshold=1)  # nothing suppressed
    keys = [t.key for t in report.tables if t.key.startswith("demographics_")]
    assert keys == [f"demographics_{k}" for k in ("age_band", "primary_language", "country_of_birth",
                                                  "county_of_residence", "immigration_status")]
    for key, expected in EXACT.items():
        assert breakdown_shown(report, key) == {label: (str(a), str(b)) for label, (a, b) in expected.items()}, key
    headline = {label: value for label, value, _ in report.headline}
    assert (headline["Clients represented"], headline["Removal avoided"]) == ("10", "3")


def test_a_dimension_the_exports_never_carried_is_not_available_not_zero(published):
    from reports import render

    report = make_report(published, threshold=3)
    country = breakdown_shown(report, "country_of_birth")
    assert country == {"All clients": ("not available in these exports", "not available in these exports")}
    csv_rows = [row for row in csv.reader(io.StringIO(render.to_csv(report).decode()))
                if row[0] == "Clients by country of birth"]
    assert csv_rows and {row[3] for row in csv_rows} == {"not available in these exports"}


def _check_column(values: dict[str, str], exact: dict[str, int], threshold: int, where) -> int:
    """Every marker true for its value, every shown value exact, no hidden value recoverable
    from the column's Total; returns how many entries are hidden."""
    small = f"<{threshold}"
    hidden = [label for label, text in values.items() if label != "Total" and not text.replace(",", "").isdigit()]
    for label, text in values.items():
        if text == small:
            assert 1 <= exact[label] < threshold, (where, label)  # the marker's bound is true
        elif text.replace(",", "").isdigit():
            assert int(text.replace(",", "")) == exact[label], (where, label)
            assert exact[label] == 0 or exact[label] >= threshold, (where, label)
        else:
            assert text == "withheld", (where, label, text)
    if hidden and values["Total"].replace(",", "").isdigit():
        # The hidden entries add up to Total minus the shown ones; with what the legend says
        # (<t: 1..t-1; withheld: any number; a hidden entry is never 0) none may be pinned down.
        remainder = exact["Total"] - sum(exact[label] for label in exact if label != "Total" and label not in hidden)
        bounds = {label: (1, threshold - 1) if values[label] == small else (1, remainder) for label in hidden}
        for label in hidden:
            others = [bounds[o] for o in hidden if o != label]
            low = max(bounds[label][0], remainder - sum(hi for _, hi in others))
            high = min(bounds[label][1], remainder - sum(lo for lo, _ in others))
            assert low < high, (where, label, values)
    return len(hidden)


@pytest.mark.parametrize("threshold", [3, 11])
def test_demographics_are_suppressed_for_funders_and_no_hidden_count_can_be_worked_out(published, threshold):
    from access.queries import DataAccess
    from access.scope import Role, Scope
    from reports import demographics
    from reports.scoped import Scoped as _Scoped

    report = make_report(published, threshold=threshold)
    headline = {label: value for label, value, _ in report.headline}
    for key, expected in EXACT.items():
        shown = breakdown_shown(report, key)
        assert set(shown) == set(expected), key
        for column, metric in enumerate(("Clients represented", "Removal avoided")):
            values = {label: shown[label][column] for label in expected}
            _check_column(values, {label: counts[column] for label, counts in expected.items()}, threshold, (key, column))
            if not headline[metric].replace(",", "").isdigit():  # a Total hidden elsewhere is hidden here too
                assert not values["Total"].replace(",", "").isdigit(), (key, metric)
            else:
                assert values["Total"] == headline[metric], (key, metric)
    # Each column on its own, as published when the report shows its totals.
    grant = make_report(published, threshold=1).grant
    scope = Scope(Role.PROGRAM_MANAGER, "test")
    scoped = _Scoped(DataAccess(scope, published["db"]), grant, grant.start, grant.end)
    hidden = shown_counts = 0
    for key, expected in EXACT.items():
        table = demographics.report_table(demographics.breakdown(scoped, key), threshold)
        rows = {row[0]: row[1:] for row in table.display.values.tolist()}
        for column in (0, 1):
            values = {label: rows[label][column] for label in expected}
            hidden += _check_column(values, {label: c[column] for label, c in expected.items()}, threshold, (key, column))
            shown_counts += sum(v.isdigit() and v != "0" for v in values.values())
    assert hidden > 0  # the fixture's small groups are hidden
    # A column whose Total the report hides elsewhere, but which would show it, is withheld whole.
    table = demographics.report_table(demographics.breakdown(scoped, "age_band"), threshold,
                                      frozenset({demographics.REPRESENTED}))
    represented = set(table.display[demographics.REPRESENTED])
    assert represented == ({"withheld"} if threshold == 3 else {"<11"}), represented  # 10 clients: shown at 3, small at 11
    assert shown_counts > 0 if threshold == 3 else shown_counts == 0  # at 11 even the totals (10 and 3) are small


def test_the_hidden_share_counts_the_demographic_tables_and_threshold_one_hides_nothing(published):
    import dataclasses

    from pcr.commands.report import rebuild_models
    from pcr.settings import Settings
    from reports.build import build_report
    from reports.grants import load_grants, parse_period
    from reports import asof

    def stated(report) -> tuple[int, int]:
        text = dict(report.methods)["Small-cell suppression"]
        hidden, total = re.search(r"([\d,]+) of ([\d,]+) numbers", text).groups()
        return int(hidden.replace(",", "")), int(total.replace(",", ""))

    grants = load_grants(published["root"] / "grants-11.yml")
    grant = grants.grants["G-DEMO"]
    period = parse_period("grant", grant)
    version = asof.prepare(period, grant.close_after_days, published["db"], work_dir=published["root"] / "asof",
                           rebuild=rebuild_models(Settings.from_env()))
    with_breakdowns = build_report(grant, period, version, grants.threshold)
    without = build_report(dataclasses.replace(grant, demographics=()), period, version, grants.threshold)
    # Every number of a breakdown counts in the share, a marker as hidden ("not available" is not a number).
    cells = [v for t in with_breakdowns.tables if t.key.startswith("demographics_") and t.numeric is not None
             for v in t.display.iloc[:, 1:].to_numpy().ravel()]
    markers = sum(v == "<11" or v == "withheld" for v in cells)
    assert markers > 0
    assert stated(with_breakdowns) == (stated(without)[0] + markers, stated(without)[1] + len(cells))
    open_text = dict(make_report(published, threshold=1).methods)["Small-cell suppression"]
    assert open_text == "The suppression threshold is 1: no number is hidden."


# --- front matter, narrative, words, layout ----------------------------------------------------

@pytest.fixture(scope="module")
def written(published, tmp_path_factory) -> dict:
    from reports import render

    report = make_report(published, threshold=1)  # every number shown: the most text to lay out
    out = tmp_path_factory.mktemp("written")
    return {"report": report, **{fmt: render.write(report, fmt, out) for fmt in render.WRITERS}}


def test_front_matter_and_narrative_in_every_format(written):
    report = written["report"]
    expected = ["Golden Test Program", "Test Foundation", "Data Team, Golden Test Program", "Report date",
                str(report.report_date), "2023-01-01 to 2024-12-31", "Data as of", "2024-12-31"]
    first_page = " ".join(pdf_text(written["pdf"], 1).split())
    for text in expected:
        assert text in first_page, text
    narrative = ["Progress this period", "Highlights", "Two new partner firms", "A second clinic that opened in March",
                 "Clients were referred by the public defender and the county clinic; see the plan (https://example.org/plan).",
                 "Closing paragraph."]
    whole = " ".join(pdf_text(written["pdf"]).split())
    for text in narrative:
        assert text in whole, text
    assert "**" not in whole and "`" not in whole and "# " not in whole
    csv_text = written["csv"].read_text(encoding="utf-8")
    workbook = openpyxl.load_workbook(written["xlsx"])
    xlsx_text = " ".join(str(c.value) for ws in workbook for row in ws.iter_rows() for c in row if c.value is not None)
    for text in ["Golden Test Program", "Data Team, Golden Test Program", str(report.report_date), "Closing paragraph."]:
        assert text in csv_text and text in xlsx_text, text


def test_pdf_holds_no_internal_names(written):
    text = pdf_text(written["pdf"])
    # Export file names are the program's own (time_entries_2024-12-31.csv): the data version lists them.
    words = SNAKE_CASE.findall(re.sub(r"\S+\.(csv|xlsx)\b", "", text))
    assert words == []
    for internal in ("pro_bono_hourly_rate", "vacatur_recognized", "partial_relief", "not_avoided", "dbt", "None", "nan"):
        assert not re.search(rf"\b{internal}\b", text), internal
    methods = " ".join(text.split())
    for status in ("Partial relief:", "Not avoided:", "Administrative closure:", "Recognition class"):
        assert status in methods, status


def test_the_report_says_its_rules_scope_and_data_in_words(written):
    import datetime as dt

    from reports.grants import Grant

    report = written["report"]
    # Rates: the rule once, then the rates it showed, named as a sentence names them (threshold 1: all shown).
    rates = dict(report.methods)["Rates"]
    assert rates == ("A rate is shown only when both numbers it divides are shown: otherwise it would give away the "
                     "hidden one. Shown here: the grant rate; the share of the target reached for clients represented "
                     "and hours; the donated time per grant dollar.")
    assert list(report.deliverables.columns)[:2] == ["Deliverable", "Unit"]
    whole = " ".join(pdf_text(written["pdf"]).split())
    files = len(report.version.inputs)
    assert files > 1 and f"{files} export files, dated" in whole and "file(s)" not in whole
    assert "Numbers read from" in whole and "Rebuilt as known" not in whole
    assert "Clients: all" in whole
    exposed = Grant(grant_id="G", funder="F", title="", start=dt.date(2023, 1, 1), end=dt.date(2024, 12, 31),
                    client_criteria=(("detained_at_intake", False), ("has_removal_exposure", True)))
    assert exposed.scope_lines()[-1] == "Clients: only those not detained at intake and with removal exposure at intake"


def test_xlsx_sheet_names_are_whole_and_numbers_are_numbers(written):
    from reports.render import SHEET_NAME_LIMIT

    report = written["report"]
    workbook = openpyxl.load_workbook(written["xlsx"])
    names = workbook.sheetnames
    assert len(names) == len({n.lower() for n in names}) and all(len(n) <= SHEET_NAME_LIMIT for n in names)
    assert names == ["Report", "Narrative", "Vacaturs by vehicle", "Relief beside vacaturs", "Denied or withdrawn",
                     "Motions filed", "Removal avoided", "Confirmed and projected", "Time to resolution",
                     "Pro bono by firm", "Clients by age at intake", "Clients by primary language",
                     "Clients by country of birth", "Clients by county of residence", "Clients by immigration status",
                     "Methods", "Data version"]
    # Each table's sheet is named by whole words of its title (or of the short names above).
    titles = {t.title for t in report.tables}
    for name in names[2:-2]:
        assert any(f" {name.lower()} " in f" {title.lower()} " for title in titles) or name in (
            "Vacaturs by vehicle", "Relief beside vacaturs", "Denied or withdrawn", "Confirmed and projected",
            "Pro bono by firm"), name
    number_formats = {c.number_format for ws in workbook for row in ws.iter_rows() for c in row
                      if isinstance(c.value, (int, float))}
    assert number_formats <= {"#,##0", "#,##0.0", '"$"#,##0', "0.0%"}, number_formats
    summary = {row[0].value: row for row in workbook["Report"].iter_rows() if row[0].value}
    assert (summary["Clients represented"][2].value, summary["Clients represented"][2].number_format) == (10, "#,##0")
    assert (summary["Grant amount"][1].value, summary["Grant amount"][1].number_format) == (21000, '"$"#,##0')
    assert (summary["Hours"][4].value, summary["Hours"][4].number_format) == (84, "#,##0")  # the deliverable's target


def test_pdf_table_titles_sit_above_their_tables_on_the_same_page(written):
    report, pdf = written["report"], written["pdf"]
    pages = [" ".join(pdf_text(pdf, n).split()) for n in range(1, page_count(pdf) + 1)]
    for table in report.tables:
        found = [n for n, page in enumerate(pages) if table.title in page]
        assert found, table.title
        page = pages[found[0]]
        after_title = page[page.index(table.title) + len(table.title):]
        header, first_label = str(table.display.columns[0]), str(table.display.iloc[0, 0])
        assert header in after_title and first_label in after_title, (table.title, found[0] + 1)


def test_pdf_pages_render(written, tmp_path):
    pdf = written["pdf"]
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == page_count(pdf) and all(p.stat().st_size > 5_000 for p in pages)


def test_grants_file_errors_name_the_file_and_the_grant(tmp_path):
    from reports.grants import GrantConfigError, load_grants

    base = "grants:\n  - {id: X, funder: F, start: 2024-01-01, end: 2024-12-31, %s}\n"
    cases = {
        "demographics: [age, age_band]": "grant X: demographics: each once, from ['age_band'",
        "narrative_file: missing.md": f"grant X: narrative_file {tmp_path / 'missing.md'} does not exist",
        "narrative: text, narrative_file: n.md": "grant X: give either 'narrative' (text) or 'narrative_file'",
    }
    for entry, message in cases.items():
        path = tmp_path / "grants.yml"
        path.write_text(base % entry, encoding="utf-8")
        with pytest.raises(GrantConfigError) as error:
            load_grants(path)
        assert str(error.value).startswith(f"{path}: ") and message in str(error.value), str(error.value)
    path.write_text("grantee: P\ngrantees: Q\n" + base % "title: T", encoding="utf-8")
    with pytest.raises(GrantConfigError, match=r"unknown top-level key\(s\) \['grantees'\]"):
        load_grants(path)


# --- a partner firm's impact report ------------------------------------------------------------

def _independent(db: Path, firm: str, start: str, end: str) -> dict[str, object]:
    """The firm's numbers straight from the marts, without the access layer."""
    with duckdb.connect(str(db), read_only=True) as con:
        one = lambda sql: con.execute(sql, {"firm": firm, "start": start, "end": end}).fetchone()  # noqa: E731
        cases = one("SELECT count(*) FROM marts.fct_cases WHERE partner_firm = $firm AND referral_date <= $end::DATE "
                    "AND (closed_date IS NULL OR closed_date >= $start::DATE)")[0]
        hours, attorneys, value = one("SELECT coalesce(sum(hours), 0), count(DISTINCT attorney_id), coalesce(sum(value_usd), 0) "
                                      "FROM marts.fct_time_entries WHERE partner_firm = $firm AND entry_date BETWEEN $start AND $end")
        won, decided = one("SELECT count(*) FILTER (WHERE outcome IN ('granted', 'granted_in_part')), count(*) FILTER (WHERE is_decided) "
                           "FROM marts.fct_motions WHERE partner_firm = $firm AND decision_date BETWEEN $start AND $end")
        filed = one("SELECT count(*) FROM marts.fct_motions WHERE partner_firm = $firm AND filing_date BETWEEN $start AND $end")[0]
        avoided = one("SELECT count(*) FROM marts.mart_removal_avoided WHERE partner_firm = $firm "
                      "AND removal_avoided_status IN ('confirmed', 'projected') AND status_date BETWEEN $start AND $end")[0]
    return {"Cases": f"{cases:,}", "Motions filed": f"{filed:,}", "Motions won": f"{won:,}",
            "Clients whose removal was avoided": f"{avoided:,}", "Pro bono hours": f"{hours:,.1f}",
            "Attorneys participating": f"{attorneys:,}",
            "Hours per attorney": f"{hours / attorneys:,.1f}" if attorneys else "no time logged",
            "Value of donated time": f"${value:,.0f}", "decided": decided}


def test_partner_report_is_one_page_of_its_own_firm(published, run_pcr, tmp_path):
    from pcr.commands.report import rebuild_models
    from pcr.settings import Settings
    from reports import asof
    from reports.partner import build_partner_report
    from reports.periods import calendar_period

    period = calendar_period("2024")
    version = asof.prepare(period, 45, published["db"], work_dir=published["root"] / "asof",
                           rebuild=rebuild_models(Settings.from_env()))
    reports = {firm: build_partner_report(firm, period, version) for firm in ("Alder LLP", "Birch LLP")}
    for firm, report in reports.items():
        shown = {f.label: f.value for f in report.figures}
        expected = _independent(version.db, firm, "2024-01-01", "2024-12-31")
        assert shown == {k: v for k, v in expected.items() if k != "decided"}, firm
        assert report.motions.iloc[-1].tolist() == ["Total", expected["Motions filed"], f"{expected['decided']:,}",
                                                    expected["Motions won"]]
    # By hand, Alder LLP in 2024: cases K05 K07 (closed in 2024), K09 K11 (open); time T07, 7 h by A1 at $500.
    alder = {f.label: f.value for f in reports["Alder LLP"].figures}
    assert (alder["Cases"], alder["Pro bono hours"], alder["Attorneys participating"], alder["Value of donated time"]) == \
        ("4", "7.0", "1", "$3,500")
    # Not a total over firms: the program logged 9.5 h in 2024 (T06 for Birch, T07 for Alder).
    assert {f.label: f.value for f in reports["Birch LLP"].figures}["Pro bono hours"] == "2.5"

    result = run_pcr("report", "--partner", "Alder LLP", "--period", "2024", "--db", published["db"], "--out", tmp_path,
                     "--grants", published["root"] / "grants-3.yml")
    assert result.code == 0, result.err
    pdf = tmp_path / "partner-report_Alder_LLP_2024.pdf"
    assert page_count(pdf) == 1
    text = " ".join(pdf_text(pdf, mode="-raw").split())  # each figure's value is written before its label
    assert "Pro bono impact report: Alder LLP" in text and "Golden Test Program" in text
    assert "Birch" not in text and not SNAKE_CASE.findall(text)
    for label, value in alder.items():
        assert f"{value} {label}" in text, label
    assert not re.search(r"\b([CKVMET]\d{2}|T0\d|A[123]|B[12])\b", text)  # no client, case, motion or attorney id


def test_partner_command_refuses_an_unknown_firm_and_other_formats(published, run_pcr, tmp_path):
    out = tmp_path / "out"
    result = run_pcr("report", "--partner", "Cedar LLP", "--period", "2024", "--db", published["db"], "--out", out)
    assert result.code == 1 and "no partner firm 'Cedar LLP'" in result.err and "Alder LLP; Birch LLP" in result.err
    result = run_pcr("report", "--partner", "Alder LLP", "--period", "2024", "--format", "xlsx", "--db", published["db"],
                     "--out", out)
    assert result.code == 2 and "one-page PDF" in result.err
    result = run_pcr("report", "--period", "2024", "--db", published["db"], "--out", out)
    assert result.code == 2 and "--grant ID" in result.err
    assert not out.exists()
