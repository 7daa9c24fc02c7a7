"""A small hand-written dataset (three clients, cases, convictions, motions) and a writer that
puts it into any shipped export layout. A module of its own, not conftest: the browser tests'
conftest shares the module name, and which of the two `import conftest` finds depends on the
order in which pytest collects them."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import yaml

from ingest.contract import TABLES
from ingest.layouts import Layout, load_layouts

D = dt.date
# Canonical contract rows: three clients, three cases, three convictions, three motions.
# Case K3 has no conviction yet and conviction V3 no motion (wide layouts show them as rows
# with blank conviction / motion columns).
DATASET: dict[str, list[dict]] = {
    "clients": [
        dict(client_id="C1", first_name="Maria", last_name="Lopezgarcia", full_name="Maria Lopezgarcia",
             a_number="A123456789", date_of_birth=D(1985, 4, 12), intake_date=D(2019, 2, 1),
             country_of_birth="Mexico", primary_language="Spanish", county_of_residence="Los Angeles",
             immigration_status="lpr", in_removal_proceedings=True, final_removal_order=False,
             detained_at_intake=False),
        dict(client_id="C2", first_name="Juanito", last_name="Perezsoto", full_name="Juanito Perezsoto",
             a_number="A-098-765-432", date_of_birth=D(1990, 11, 30), intake_date=D(2020, 6, 15),
             country_of_birth="Guatemala", primary_language="Spanish", county_of_residence="Fresno",
             immigration_status="undocumented", in_removal_proceedings=False, final_removal_order=False,
             detained_at_intake=None),
        dict(client_id="C3", first_name="Weiming", last_name="Zhangli", full_name="Weiming Zhangli",
             a_number="87654321", date_of_birth=D(1975, 1, 20), intake_date=D(2021, 9, 1),
             country_of_birth="China", primary_language="Mandarin", county_of_residence="San Francisco",
             immigration_status="visa_holder", in_removal_proceedings=True, final_removal_order=True,
             detained_at_intake=True),
    ],
    "cases": [
        dict(case_id="K1", client_id="C1", intake_date=D(2019, 2, 1), eligibility="eligible",
             eligibility_date=D(2019, 3, 1), referral_date=D(2019, 4, 1), partner_firm="Baker LLP",
             attorney_id="AT-1", case_status="closed", closed_date=D(2020, 5, 1)),
        dict(case_id="K2", client_id="C2", intake_date=D(2020, 6, 15), eligibility="eligible",
             eligibility_date=D(2020, 7, 1), referral_date=D(2020, 7, 20), partner_firm="Cole & Diaz LLP",
             attorney_id="AT-7", case_status="open", closed_date=None),
        dict(case_id="K3", client_id="C3", intake_date=D(2021, 9, 1), eligibility="pending",
             eligibility_date=None, referral_date=None, partner_firm=None, attorney_id=None,
             case_status="open", closed_date=None),
    ],
    "convictions": [
        dict(conviction_id="V1", case_id="K1", county="Los Angeles", court_case_number="BA123456",
             offense_code="HS 11350(a)", offense_level="felony", conviction_date=D(2010, 5, 5),
             removal_ground=True, removal_ground_type="controlled_substance"),
        dict(conviction_id="V2", case_id="K2", county="Fresno", court_case_number="F20-1234",
             offense_code="PC 459", offense_level="misdemeanor", conviction_date=D(2015, 3, 3),
             removal_ground=True, removal_ground_type="crime_involving_moral_turpitude"),
        dict(conviction_id="V3", case_id="K2", county="Fresno", court_case_number="F18-0999",
             offense_code="VC 23152", offense_level="misdemeanor", conviction_date=D(2018, 1, 1),
             removal_ground=False, removal_ground_type="none"),
    ],
    "motions": [
        dict(motion_id="M1", conviction_id="V1", vehicle="PC 1473.7(a)(1)", filing_date=D(2019, 5, 1),
             hearing_date=D(2019, 8, 1), decision_date=D(2019, 10, 1), outcome="granted",
             result_type="vacatur", grant_ground="legal_defect", order_states_ground=True,
             order_cites_subsection=True, relied_on_relief=None, refiled_from_motion_id=None,
             disposition_after_vacatur="new_plea_pc372_5"),
        dict(motion_id="M2", conviction_id="V2", vehicle="PC 1016.5", filing_date=D(2020, 9, 1),
             hearing_date=D(2020, 12, 1), decision_date=D(2021, 1, 10), outcome="denied",
             result_type=None, grant_ground=None, order_states_ground=None, order_cites_subsection=None,
             relied_on_relief=None, refiled_from_motion_id=None, disposition_after_vacatur=None),
        dict(motion_id="M3", conviction_id="V2", vehicle="PC 1473.7(a)(1)", filing_date=D(2021, 3, 1),
             hearing_date=None, decision_date=None, outcome="pending", result_type=None, grant_ground=None,
             order_states_ground=None, order_cites_subsection=None, relied_on_relief=False,
             refiled_from_motion_id="M2", disposition_after_vacatur=None),
    ],
    "immigration_events": [
        dict(event_id="E1", client_id="C1", event_type="proceedings_terminated", event_date=D(2020, 2, 1)),
        dict(event_id="E2", client_id="C2", event_type="motion_to_reopen_filed", event_date=D(2021, 2, 1)),
    ],
    "time_entries": [
        dict(entry_id="T1", case_id="K1", partner_firm="Baker LLP", attorney_id="AT-1",
             entry_date=D(2019, 5, 1), hours=3.5),
        dict(entry_id="T2", case_id="K1", partner_firm="Baker LLP", attorney_id="AT-2",
             entry_date=D(2019, 8, 1), hours=2.0),
        dict(entry_id="T3", case_id="K2", partner_firm="Cole & Diaz LLP", attorney_id="AT-7",
             entry_date=D(2020, 9, 1), hours=6.25),
    ],
}
# Strings that must never reach the database or any output.
PII_STRINGS = [
    value
    for c in DATASET["clients"]
    for value in (c["first_name"], c["last_name"], c["full_name"], c["a_number"],
                  c["a_number"].replace("A", "").replace("-", ""), c["date_of_birth"].isoformat(),
                  c["date_of_birth"].strftime("%m/%d/%Y"))
] + [c["court_case_number"] for c in DATASET["convictions"]]


def _layout(name: str) -> Layout:
    return next(layout for layout in load_layouts() if layout.name == name)


def _wide_rows(dataset: dict[str, list[dict]], tables: list[str]) -> list[dict[str, dict]]:
    """Rows of a wide export: one per motion, plus convictions without motions and cases
    without convictions (one per case if the file carries no convictions). Each row holds
    the record of every table it carries."""
    by = {t: {r[TABLES[t].key]: r for r in dataset[t]} for t in ("clients", "cases", "convictions")}
    rows = []
    for case in dataset["cases"]:
        convictions = [v for v in dataset["convictions"] if v["case_id"] == case["case_id"]]
        base = {"clients": by["clients"][case["client_id"]], "cases": case}
        if not convictions or "convictions" not in tables:
            rows.append(base)
            continue
        for conviction in convictions:
            motions = [m for m in dataset["motions"] if m["conviction_id"] == conviction["conviction_id"]]
            for motion in motions or [None]:
                row = dict(base, convictions=conviction)
                if motion:
                    row["motions"] = motion
                rows.append(row)
    return [{t: r[t] for t in tables if t in r} for r in rows]


def _source_headers(table_map) -> dict[str, str]:
    """Contract column -> the one source column it is read from (the layouts these tests
    write map every column from one column)."""
    if table_map.columns is None:
        return {c.name: c.name for c in TABLES[table_map.table].columns}
    return {canon: spec.headers[0] for canon, spec in table_map.columns.items() if spec.source == "column"}


def write_layout(dataset: dict[str, list[dict]], layout_name: str, out_dir: Path,
                 xlsx: bool = False, suffix: str = "") -> list[Path]:
    """Write the dataset as the given layout would export it, using the layout's own mapping
    (first source spelling of each value, first date format). Returns the files written."""
    layout = _layout(layout_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = yaml.safe_load(layout.path.read_text(encoding="utf-8"))
    spelling: dict[str, dict[str, str]] = {}  # column -> canonical value -> first source spelling
    for column, mapping in (spec.get("values") or {}).items():
        for source_value, canonical in mapping.items():
            spelling.setdefault(column, {}).setdefault(canonical, str(source_value))
    booleans = {str(k).lower(): v for k, v in (spec.get("booleans") or {}).items()}
    true_word = (booleans.get("true") or ["Yes"])[0]
    false_word = (booleans.get("false") or ["No"])[0]

    def cell(column: str, value):
        if value is None:
            return ""
        if isinstance(value, bool):
            return true_word if value else false_word
        if isinstance(value, dt.date):
            return value if xlsx else value.strftime(layout.date_formats[0])
        return spelling.get(column, {}).get(value, value)

    sheets: dict[str, tuple[list[str], list[list]]] = {}
    for kind in layout.kinds:
        maps = {m.table: m for m in kind.tables}
        header: list[str] = []
        for m in kind.tables:
            for source in _source_headers(m).values():
                if source not in header:
                    header.append(source)
        if len(kind.tables) == 1:
            records = [{kind.tables[0].table: r} for r in dataset[kind.tables[0].table]]
        else:
            records = _wide_rows(dataset, list(maps))
        rows = []
        for record in records:
            row = {h: "" for h in header}
            for table, values in record.items():
                for canon, source in _source_headers(maps[table]).items():
                    row[source] = cell(canon, values.get(canon))
            rows.append([row[h] for h in header])
        sheets[kind.kind] = (header, rows)

    written = []
    if xlsx:
        from openpyxl import Workbook
        workbook = Workbook()
        workbook.remove(workbook.active)
        for name, (header, rows) in sheets.items():
            sheet = workbook.create_sheet(name)
            sheet.append(header)
            for row in rows:
                sheet.append([None if v == "" else v for v in row])
        path = out_dir / f"{layout_name}{suffix}.xlsx"
        workbook.save(path)
        written.append(path)
    else:
        for name, (header, rows) in sheets.items():
            path = out_dir / f"{name}{suffix}.csv"
            with path.open("w", encoding="utf-8", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(header)
                writer.writerows(rows)
            written.append(path)
    return written
