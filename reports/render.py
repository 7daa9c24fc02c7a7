"""Write a GrantReport as PDF, XLSX or CSV: byte-identical for the same report, and safe to open.

Safe files (OWASP "CSV injection"): any text cell that begins with = + - @, a tab or a carriage
return is prefixed with an apostrophe, so Excel and LibreOffice show it as text instead of
running it; in XLSX such cells are also written with the string type. Numbers are written as
numbers. Charts are drawn with matplotlib's Agg backend (no browser, no display).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from reports.build import GrantReport  # noqa: E402

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^\d[\d,]*(\.\d+)?$")
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # earliest time a zip entry can carry
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def safe_text(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def stamp_time(report: GrantReport) -> dt.datetime:
    """The one timestamp a file carries: when the published run finished (else the period's
    end), so the same report is the same bytes."""
    when = report.version.run_finished_at or dt.datetime.combine(report.period.end, dt.time())
    return when.replace(tzinfo=dt.UTC, microsecond=0)


def file_name(report: GrantReport, extension: str) -> str:
    period = re.sub(r"[^A-Za-z0-9-]+", "_", report.period.label.split(" (")[0]).strip("_")
    grant = re.sub(r"[^A-Za-z0-9-]+", "_", report.grant.grant_id)
    return f"grant-report_{grant}_{period}.{extension}"


def _about(report: GrantReport) -> list[tuple[str, str]]:
    g, v = report.grant, report.version
    about = [("Grant", f"{g.grant_id}{' - ' + g.title if g.title else ''}"), ("Funder", g.funder),
             ("Grant period", f"{g.start} to {g.end}"), ("Report period", f"{report.period.label}: {report.period.start} to {report.period.end}")]
    about += [("Scope", line) for line in g.scope_lines()]
    if g.amount_usd:
        about.append(("Grant amount", f"${g.amount_usd:,.0f}"))
    about += [("Basis", v.basis), ("As-of date (open work censored)", str(v.as_of)),
              ("Small-cell suppression", f"counts below {report.threshold} are shown as <{report.threshold}")]
    return about


def version_frame(report: GrantReport) -> pd.DataFrame:
    return pd.DataFrame(_version_rows(report), columns=["Item", "Value", "Detail"])


def _version_rows(report: GrantReport) -> list[tuple[str, str, str]]:
    v = report.version
    rows = [("Run id", v.run_id or "not recorded (database not published by `pcr run`)", ""),
            ("Run finished (UTC)", str(v.run_finished_at or ""), ""),
            ("Rebuilt as known at the period end", "yes" if v.rebuilt else "no (published data already is)", "")]
    rows += [(f"Export {f.file_name}", f"sha256 {f.sha256}", f"exported {f.exported_at:%Y-%m-%d %H:%M}") for f in v.inputs]
    return rows


# --- CSV -------------------------------------------------------------------------------------

def to_csv(report: GrantReport) -> bytes:
    """One long table: section, row, column, value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "row", "column", "value"])
    rows: list[tuple[str, str, str, str]] = [("about", k, "", v) for k, v in _about(report)]
    rows += [("headline", label, unit, value) for label, value, unit in report.headline]
    for record in report.deliverables.to_dict("records"):
        rows += [("deliverables", record["Deliverable"], column, value) for column, value in record.items() if column != "Deliverable"]
    for table in report.tables:
        first = table.display.columns[0]
        for record in table.display.to_dict("records"):
            rows += [(table.title, record[first], column, value) for column, value in record.items() if column != first]
    rows += [("data version", name, detail, value) for name, value, detail in _version_rows(report)]
    rows += [("methods", term, "", text) for term, text in report.methods]
    writer.writerows([[safe_text(cell) for cell in row] for row in rows])
    return out.getvalue().encode("utf-8")


# --- XLSX ------------------------------------------------------------------------------------

def _put(sheet, row: int, column: int, value: object, bold: bool = False):
    from openpyxl.styles import Font

    text = str(value)
    cell = sheet.cell(row=row, column=column)
    if _NUMBER.match(text):
        number = float(text.replace(",", ""))
        cell.value = int(number) if number.is_integer() else number
    else:
        cell.value = safe_text(text)
        cell.data_type = "s"  # openpyxl would otherwise store a leading '=' as a formula
    if bold:
        cell.font = Font(bold=True)
    return cell


def _sheet_rows(sheet, rows: list[list[object]], header: bool = True) -> None:
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values, start=1):
            _put(sheet, r, c, value, bold=header and r == 1)
    for c in range(1, max((len(v) for v in rows), default=0) + 1):
        width = max((len(str(v[c - 1])) for v in rows if len(v) >= c), default=8)
        sheet.column_dimensions[sheet.cell(row=1, column=c).column_letter].width = min(max(10, width + 2), 80)


def _zip_fixed(data: bytes) -> bytes:
    """Rewrite a zip with fixed entry times (openpyxl stamps the current time)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def to_xlsx(report: GrantReport) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    summary = workbook.active
    summary.title = "Report"
    rows: list[list[object]] = [["Grant report", ""]] + [[k, v] for k, v in _about(report)] + [[""]]
    rows += [["Headline (this period)", "Value", "Counts"]] + [[label, value, unit] for label, value, unit in report.headline]
    rows += [[""], list(report.deliverables.columns)] + report.deliverables.astype(str).values.tolist()
    _sheet_rows(summary, rows)
    for table in report.tables:
        sheet = workbook.create_sheet(re.sub(r"[^A-Za-z0-9 ]", "", table.title)[:31])
        _sheet_rows(sheet, [list(table.display.columns)] + table.display.values.tolist()
                    + [[""], [table.title], [table.note]])
    _sheet_rows(workbook.create_sheet("Methods"), [["Term", "Definition"]] + [list(m) for m in report.methods])
    _sheet_rows(workbook.create_sheet("Data version"), [["Item", "Value", "Detail"]] + [list(r) for r in _version_rows(report)])
    when = stamp_time(report).replace(tzinfo=None)
    workbook.properties.created = workbook.properties.modified = when
    workbook.properties.creator = "pcr report"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _zip_fixed(buffer.getvalue())


# --- charts ----------------------------------------------------------------------------------

def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _bars(labels: list[str], values: list[float], title: str, xlabel: str, color: str, note_hidden: str) -> bytes:
    figure, axis = plt.subplots(figsize=(6.4, 0.45 * len(labels) + 1.1))
    y = np.arange(len(labels))[::-1]
    shown = [0 if np.isnan(v) else v for v in values]
    axis.barh(y, shown, color=color)
    top = max(shown + [1])
    for yi, v in zip(y, values):
        axis.text((0 if np.isnan(v) else v) + top * 0.01, yi, note_hidden if np.isnan(v) else f"{v:,.0f}",
                  va="center", fontsize=8, color="#555555" if np.isnan(v) else "black")
    axis.set_yticks(y, labels, fontsize=8)
    axis.set_xlim(0, top * 1.25)
    axis.set_xlabel(xlabel, fontsize=8)
    axis.set_title(title, fontsize=10, loc="left")
    axis.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def charts(report: GrantReport) -> list[tuple[str, bytes]]:
    marker = f"<{report.threshold}"
    out = []
    if len(report.deliverable_progress):
        out.append(("Deliverables: grant to date, % of target", _bars(
            list(report.deliverable_progress.index), list(report.deliverable_progress.values),
            "Deliverables: grant to date, % of target", "% of target", "#2b6f9e", "suppressed")))
    totals = pd.concat([next(t for t in report.tables if t.key == key).numeric.loc["Total"].drop("Total")
                        for key in ("vacaturs", "beside_vacaturs")])
    out.append(("Relief granted in the period, by class", _bars(
        list(totals.index), list(totals.astype(float).values),
        "Relief granted in the period (motions), by class", "motions", "#4d8f5b", marker)))
    removal = next(t for t in report.tables if t.key == "removal_avoided").numeric["Count"].drop("Total")
    out.append(("Removal avoided, by status", _bars(
        list(removal.index), list(removal.astype(float).values),
        "Clients with removal exposure, by status reached in the period", "clients", "#8a5a9e", marker)))
    return out


# --- PDF -------------------------------------------------------------------------------------

def to_pdf(report: GrantReport) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(orientation="landscape", unit="mm", format="letter")
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_creation_date(stamp_time(report))
    pdf.set_title(f"Grant report {report.grant.grant_id} {report.period.label}")
    pdf.set_author("pcr report")
    pdf.set_creator("pcr report")
    pdf.set_producer("pcr report (fpdf2)")
    pdf.set_auto_page_break(True, margin=12)
    pdf.set_margins(12, 12, 12)
    version = report.version
    footer_text = f"{report.grant.grant_id} · {report.period.label} · run {version.run_id or 'not recorded'}"
    pdf.footer = lambda: (pdf.set_y(-9), pdf.set_font("DejaVu", "", 7),  # type: ignore[method-assign]
                          pdf.cell(0, 4, f"{footer_text} · page {pdf.page_no()}", align="R"))
    heading = FontFace(emphasis="BOLD", fill_color=(225, 232, 240))

    def title(text: str, size: int = 12) -> None:
        pdf.set_font("DejaVu", "B", size)
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    def paragraph(text: str, size: int = 8) -> None:
        pdf.set_font("DejaVu", "", size)
        pdf.multi_cell(0, size * 0.45, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    def table(frame: pd.DataFrame, widths: tuple[float, ...] | None = None, size: int = 7) -> None:
        pdf.set_font("DejaVu", "", size)
        aligns = ["LEFT"] + ["RIGHT"] * (len(frame.columns) - 1)
        with pdf.table(col_widths=widths, text_align=tuple(aligns), headings_style=heading, line_height=size * 0.5,
                       first_row_as_headings=True, width=pdf.epw) as grid:
            grid.row([str(c) for c in frame.columns])
            for values in frame.astype(str).values.tolist():
                grid.row(values)
        pdf.ln(3)

    pdf.add_page()
    title(f"Grant report: {report.grant.funder}", 16)
    paragraph(f"{report.grant.grant_id}{' - ' + report.grant.title if report.grant.title else ''} · "
              f"report period {report.period.label} ({report.period.start} to {report.period.end})", 10)
    paragraph(" · ".join(report.grant.scope_lines()), 8)
    paragraph(version.basis + f" Data: run {version.run_id or 'not recorded'}; "
              f"{len(version.inputs)} export file(s), checksums on the last page.", 8)
    # Headline tiles: value over label, three per row.
    pdf.ln(1)
    tile_w, tile_h = (pdf.epw - 8) / 3, 15
    top = pdf.get_y()
    for i, (label, value, unit) in enumerate(report.headline):
        x, y = pdf.l_margin + (i % 3) * (tile_w + 4), top + (i // 3) * (tile_h + 3)
        pdf.set_fill_color(241, 245, 249)
        pdf.rect(x, y, tile_w, tile_h, style="F")
        pdf.set_xy(x + 3, y + 1.5)
        pdf.set_font("DejaVu", "B", 14)
        pdf.cell(tile_w - 6, 7, value)
        pdf.set_xy(x + 3, y + 8.5)
        pdf.set_font("DejaVu", "", 7)
        pdf.cell(tile_w - 6, 4, f"{label} ({unit})")
    pdf.set_xy(pdf.l_margin, top + ((len(report.headline) + 2) // 3) * (tile_h + 3) + 2)
    title("Deliverables", 11)
    if len(report.deliverables):
        table(report.deliverables, (3, 1.2, 1, 1, 1, 1))
    else:
        paragraph("No deliverables are configured for this grant.")
    for name, image in charts(report):
        if pdf.get_y() > pdf.h - 80:
            pdf.add_page()
        pdf.image(io.BytesIO(image), w=150)
        pdf.ln(2)
    for t in report.tables:
        if pdf.get_y() > pdf.h - 50:
            pdf.add_page()
        title(t.title, 11)
        paragraph(t.note)
        table(t.display, (3,) + (1,) * (len(t.display.columns) - 1))
    pdf.add_page()
    title("Methods: what each number means", 11)
    for term, text in report.methods:
        pdf.set_font("DejaVu", "B", 8)
        pdf.multi_cell(0, 4, term, new_x="LMARGIN", new_y="NEXT")
        paragraph(text)
    title("Data version", 11)
    table(version_frame(report), (2, 3, 1.2), 6)
    return bytes(pdf.output())


WRITERS = {"pdf": to_pdf, "xlsx": to_xlsx, "csv": to_csv}


def write(report: GrantReport, fmt: str, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / file_name(report, fmt)
    path.write_bytes(WRITERS[fmt](report))
    return path
