"""Write a GrantReport as PDF, XLSX or CSV: byte-identical for the same report, and safe to open.

Safe files: every text cell goes through reports.spreadsheet.neutralise (the same helper as
the dashboards' downloads), so a cell that would start a formula is shown as text; in XLSX
text cells are also written with the string type. Numbers are written as
numbers, with the report's one format (thousands separators, $ for money). Charts are drawn
with matplotlib's Agg backend (no browser, no display).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from reports.build import GrantReport  # noqa: E402
from reports.tables import ReportTable  # noqa: E402
from reports.spreadsheet import neutralise  # noqa: E402
from reports.vocabulary import colour  # noqa: E402

SUPPRESSION_TERM = "Small-cell suppression"  # the methods entry that explains hidden numbers
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # earliest time a zip entry can carry
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
# Excel allows 31 characters in a sheet name, and none of []:*?/\
SHEET_NAME_LIMIT = 31
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_NAMES = {  # short whole names for the tables whose titles are long
    "vacaturs": "Vacaturs by vehicle",
    "beside_vacaturs": "Relief beside vacaturs",
    "not_granted": "Denied or withdrawn",
    "motions_filed": "Motions filed",
    "removal_avoided": "Removal avoided",
    "removal_avoided_split": "Confirmed and projected",
    "time_to_resolution": "Time to resolution",
    "pro_bono": "Pro bono by firm",
}
# Displayed numbers, as the report writes them, and the XLSX number format that shows them alike.
_COUNT = re.compile(r"^\d{1,3}(,\d{3})*$")
_DECIMAL = re.compile(r"^\d{1,3}(,\d{3})*\.(\d+)$")
_USD = re.compile(r"^\$\d{1,3}(,\d{3})*(\.(\d+))?$")
_PERCENT = re.compile(r"^\d{1,3}(,\d{3})*(\.(\d+))?%$")


def stamp_time(report: GrantReport) -> dt.datetime:
    """The one timestamp a file carries: when the published run finished (else the period's
    end), so the same report is the same bytes."""
    when = report.version.run_finished_at or dt.datetime.combine(report.period.end, dt.time())
    return when.replace(tzinfo=dt.UTC, microsecond=0)


def file_name(report: GrantReport, extension: str) -> str:
    period = re.sub(r"[^A-Za-z0-9-]+", "_", report.period.label.split(" (")[0]).strip("_")
    grant = re.sub(r"[^A-Za-z0-9-]+", "_", report.grant.grant_id)
    return f"grant-report_{grant}_{period}.{extension}"


def exports_counted(report: GrantReport) -> str:
    inputs = report.version.inputs
    if not inputs:
        return "none"
    first, last = min(f.exported_at for f in inputs), max(f.exported_at for f in inputs)
    dates = f"dated {first:%Y-%m-%d}" if first.date() == last.date() else f"dated {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    return f"{len(inputs)} export file{'' if len(inputs) == 1 else 's'}, {dates}; checksums under Data version"


def front_matter(report: GrantReport) -> list[tuple[str, str]]:
    """What the report is, for whom, by whom, and on what data: the first lines a reader sees."""
    g, v = report.grant, report.version
    rows = [("Grantee", g.grantee)] if g.grantee else []
    rows += [("Funder", g.funder), ("Grant", f"{g.grant_id}{' - ' + g.title if g.title else ''} ({g.start} to {g.end})"),
             ("Report period", f"{report.period.label}: {report.period.start} to {report.period.end}"),
             ("Report date", str(report.report_date))]
    if g.prepared_by:
        rows.append(("Prepared by", g.prepared_by))
    rows += [("Data as of", f"{v.as_of} (work still open on this date is counted as open)"),
             ("Exports counted", exports_counted(report))]
    return rows


def _about(report: GrantReport) -> list[tuple[str, str]]:
    about = front_matter(report) + [("Scope", line) for line in report.grant.scope_lines()]
    if report.grant.amount_usd:
        about.append(("Grant amount", f"${report.grant.amount_usd:,.0f}"))
    about += [("Basis", report.version.basis)]
    about += [("Not available", sentence) for sentence in report.not_available]
    if note := suppression_note(report):
        about.append((SUPPRESSION_TERM, note))
    return about


def suppression_note(report: GrantReport) -> str:
    """What the report hides and what its markers say (its methods entry), for the first page."""
    return dict(report.methods).get(SUPPRESSION_TERM, "")


def version_frame(report: GrantReport) -> pd.DataFrame:
    return pd.DataFrame(_version_rows(report), columns=["Item", "Value", "Detail"])


def _version_rows(report: GrantReport) -> list[tuple[str, str, str]]:
    v = report.version
    rows = [("Run id", v.run_id or "not recorded (the database was not published by the pipeline)", ""),
            ("Run finished (UTC)", f"{v.run_finished_at:%Y-%m-%d %H:%M:%S}" if v.run_finished_at else "not recorded", ""),
            ("Numbers read from", "a copy of the published data rebuilt for this report, with the exports and as-of date "
                                  "the report's Basis line states" if v.rebuilt else "the published data as it is: it already "
                                  "holds the exports and as-of date the report's Basis line states", "")]
    rows += [(f"Export {f.file_name}", f"sha256 {f.sha256}", f"exported {f.exported_at:%Y-%m-%d %H:%M}") for f in v.inputs]
    return rows


# --- narrative (Markdown, simply) ------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    kind: str  # "heading", "paragraph" or "bullet"
    text: str
    level: int = 0  # heading level (1-3)


_INLINE = [(re.compile(r"\[([^\]]+)\]\(([^)]+)\)"), r"\1 (\2)"), (re.compile(r"\*\*(.+?)\*\*|__(.+?)__"), r"\1\2"),
           (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"\1"), (re.compile(r"`([^`]+)`"), r"\1")]
_BULLET = re.compile(r"^\s*(?:[-*+]|(\d+)[.)])\s+(.*)$")


def _plain(text: str) -> str:
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def narrative_blocks(markdown: str) -> list[Block]:
    """Headings (#, ##, ###), paragraphs (lines up to a blank line) and bullets (- * + or 1.),
    with emphasis and code marks dropped and links written as text (address)."""
    blocks: list[Block] = []
    lines: list[str] = []
    kind = "paragraph"

    def flush() -> None:
        nonlocal lines
        if lines:
            blocks.append(Block(kind, _plain(" ".join(lines))))
        lines = []

    for raw in markdown.splitlines():
        line = raw.rstrip()
        heading = re.match(r"^(#{1,6})\s+(.*?)\s*#*$", line)
        bullet = _BULLET.match(line)
        if not line.strip():
            flush()
        elif heading:
            flush()
            blocks.append(Block("heading", _plain(heading.group(2)), min(len(heading.group(1)), 3)))
        elif bullet:
            flush()
            kind, lines = "bullet", [(f"{bullet.group(1)}. " if bullet.group(1) else "") + bullet.group(2)]
        elif kind == "bullet" and lines and raw[:1].isspace():
            lines.append(line.strip())  # an indented line continues its bullet
        else:
            if kind == "bullet":
                flush()
            kind = "paragraph"
            lines.append(line.strip())
    flush()
    return blocks


# --- CSV -------------------------------------------------------------------------------------

def to_csv(report: GrantReport) -> bytes:
    """One long table: section, row, column, value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "row", "column", "value"])
    rows: list[tuple[str, str, str, str]] = [("about", k, "", v) for k, v in _about(report)]
    rows += [("narrative", block.kind, "", block.text) for block in narrative_blocks(report.grant.narrative)]
    rows += [("headline", label, unit, value) for label, value, unit in report.headline]
    for record in report.deliverables.to_dict("records"):
        rows += [("deliverables", record["Deliverable"], column, value) for column, value in record.items() if column != "Deliverable"]
    for table in report.tables:
        first = table.display.columns[0]
        for record in table.display.to_dict("records"):
            rows += [(table.title, record[first], column, value) for column, value in record.items() if column != first]
    rows += [("data version", name, detail, value) for name, value, detail in _version_rows(report)]
    rows += [("methods", term, "", text) for term, text in report.methods]
    writer.writerows([[neutralise(cell) for cell in row] for row in rows])
    return out.getvalue().encode("utf-8")


# --- XLSX ------------------------------------------------------------------------------------

def _number(text: str) -> tuple[float, str] | None:
    """(value, Excel number format) of a number as the report displays it; None for text."""
    if _COUNT.match(text):
        return int(text.replace(",", "")), "#,##0"
    if match := _DECIMAL.match(text):
        return float(text.replace(",", "")), "#,##0." + "0" * len(match.group(2))
    if match := _USD.match(text):
        decimals = len(match.group(3) or "")
        return float(text[1:].replace(",", "")), '"$"#,##0' + ("." + "0" * decimals if decimals else "")
    if match := _PERCENT.match(text):
        decimals = len(match.group(3) or "")
        return float(text[:-1].replace(",", "")) / 100, "0" + ("." + "0" * decimals if decimals else "") + "%"
    return None


def _put(sheet, row: int, column: int, value: object, bold: bool = False, as_number: bool = True):
    from openpyxl.styles import Alignment, Font

    text = str(value)
    cell = sheet.cell(row=row, column=column)
    number = _number(text) if as_number else None
    if number:
        cell.value, cell.number_format = number
    else:
        cell.value = neutralise(text)
        cell.data_type = "s"  # openpyxl would otherwise store a leading '=' as a formula
    if bold:
        cell.font = Font(bold=True)
    if len(text) > 80:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell


def _sheet_rows(sheet, rows: list[list[object]], header: bool = True, label_columns: int = 1) -> None:
    """Rows from the top; the first ``label_columns`` columns hold labels, kept as text."""
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values, start=1):
            _put(sheet, r, c, value, bold=header and r == 1, as_number=c > label_columns)
    for c in range(1, max((len(v) for v in rows), default=0) + 1):
        width = max((len(str(v[c - 1])) for v in rows if len(v) >= c), default=8)
        sheet.column_dimensions[sheet.cell(row=1, column=c).column_letter].width = min(max(10, width + 2), 80)


def sheet_name(table: ReportTable, taken: set[str]) -> str:
    """A whole, unique sheet name of at most 31 characters: never a word cut in half."""
    words = _SHEET_FORBIDDEN.sub(" ", SHEET_NAMES.get(table.key, table.title)).split()
    name = ""
    for word in words:
        if len(f"{name} {word}".strip()) > SHEET_NAME_LIMIT:
            break
        name = f"{name} {word}".strip()
    name = name or table.key[:SHEET_NAME_LIMIT]
    candidate, number = name, 2
    while candidate.lower() in taken:
        suffix = f" ({number})"
        candidate, number = name[:SHEET_NAME_LIMIT - len(suffix)].rstrip() + suffix, number + 1
    taken.add(candidate.lower())
    return candidate


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
    taken = {"report", "narrative", "methods", "data version"}
    rows: list[list[object]] = [[f"Grant report: {report.grant.funder}", ""]] + [[k, v] for k, v in _about(report)] + [[""]]
    rows += [["Headline (this period)", "Value", "Unit"]] + [[label, value, unit] for label, value, unit in report.headline]
    rows += [[""], list(report.deliverables.columns)] + report.deliverables.astype(str).values.tolist()
    _sheet_rows(summary, rows)
    blocks = narrative_blocks(report.grant.narrative)
    if blocks:
        narrative = workbook.create_sheet("Narrative")
        for r, block in enumerate(blocks, start=1):
            text = ("• " if block.kind == "bullet" else "") + block.text
            _put(narrative, r, 1, text, bold=block.kind == "heading", as_number=False)
        narrative.column_dimensions["A"].width = 100
    for table in report.tables:
        sheet = workbook.create_sheet(sheet_name(table, taken))
        _sheet_rows(sheet, [list(table.display.columns)] + table.display.values.tolist()
                    + [[""], [table.title], [table.note]])
    _sheet_rows(workbook.create_sheet("Methods"), [["Term", "Definition"]] + [list(m) for m in report.methods], label_columns=2)
    _sheet_rows(workbook.create_sheet("Data version"), [["Item", "Value", "Detail"]] + [list(r) for r in _version_rows(report)],
                label_columns=3)
    when = stamp_time(report).replace(tzinfo=None)
    workbook.properties.created = workbook.properties.modified = when
    workbook.properties.creator = "pcr report"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _zip_fixed(buffer.getvalue())


# --- charts ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Chart:
    title: str
    png: bytes | None  # None: nothing to draw, the sentence says why
    sentence: str = ""


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _bars(title: str, labels: list[str], values: list[float], texts: list[str], xlabel: str, color: str | list[str],
          where_hidden: str) -> Chart:
    """Horizontal bars, in one colour or one per bar (the colour of the class or status the bar
    counts, as on the dashboards); a hidden value (NaN) gets no bar and its table's marker as
    text. A chart with no bar to draw is a sentence instead of an empty axis."""
    if all(np.isnan(v) for v in values):
        return Chart(title, None, f"{title}: not charted, every value is hidden to protect small groups ({where_hidden}).")
    if all(np.isnan(v) or v == 0 for v in values):
        if any(np.isnan(v) for v in values):
            return Chart(title, None, f"{title}: not charted, every value is 0 or hidden to protect small groups ({where_hidden}).")
        return Chart(title, None, f"{title}: not charted, every value is 0.")
    figure, axis = plt.subplots(figsize=(6.4, 0.45 * len(labels) + 1.1))
    y = np.arange(len(labels))[::-1]
    shown = [0 if np.isnan(v) else v for v in values]
    axis.barh(y, shown, color=color)
    top = max(shown)
    for yi, v, text in zip(y, values, texts):
        axis.text((0 if np.isnan(v) else v) + top * 0.01, yi, text, va="center", fontsize=8,
                  color="#555555" if np.isnan(v) else "black")
    axis.set_yticks(y, labels, fontsize=8)
    axis.set_xlim(0, top * 1.3)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # counts of people: no 2.5 clients on the axis
    axis.set_xlabel(xlabel, fontsize=8)
    axis.set_title(title, fontsize=10, loc="left")
    axis.spines[["top", "right"]].set_visible(False)
    return Chart(title, _png(figure))


def _table_series(table: ReportTable, column: str) -> tuple[pd.Series, pd.Series]:
    """(numeric, display text) of one column of a report table, by row label, without its Total."""
    numeric = table.numeric[column].drop("Total", errors="ignore").astype(float)
    display = table.display.set_index(table.display.columns[0])[column].astype(str)
    return numeric, display.reindex(numeric.index)


def report_charts(report: GrantReport) -> list[Chart]:
    tables = {t.key: t for t in report.tables}
    out = []
    if len(report.deliverable_progress):
        texts = [f"{v:,.1f}%" if not np.isnan(v) else shown for v, shown in
                 zip(report.deliverable_progress.values, report.deliverables["% of target"])]
        out.append(_bars("Deliverables: grant to date, % of target", list(report.deliverable_progress.index),
                         list(report.deliverable_progress.values), texts, "% of target", colour("deliverables"), "see Deliverables"))
    relief = [t for key in ("vacaturs", "beside_vacaturs") if (t := tables.get(key)) is not None and t.numeric is not None]
    if relief:
        parts = [(t.numeric.loc["Total"].drop("Total"), t.display.set_index(t.display.columns[0]).loc["Total"].drop("Total"))
                 for t in relief]
        numeric = pd.concat([n for n, _ in parts]).astype(float)
        display = pd.concat([d for _, d in parts]).reindex(numeric.index).astype(str)
        codes = {label: code for t in relief for label, code in (t.codes or {}).items()}
        out.append(_bars("Relief granted in the period (motions), by class", list(numeric.index), list(numeric.values),
                         [d if np.isnan(v) else f"{v:,.0f}" for v, d in zip(numeric.values, display.values)],
                         "motions", [colour(codes.get(label)) for label in numeric.index], "see the vacatur and relief tables"))
    removal = tables.get("removal_avoided")
    if removal is not None and removal.numeric is not None:
        numeric, display = _table_series(removal, removal.numeric.columns[0])
        codes = dict(removal.codes or {})
        split = tables.get("removal_avoided_split")
        avoided = next((label for label, code in codes.items() if code == "avoided"), None)
        if split is not None and split.numeric is not None and avoided in numeric.index:
            # Confirmed and projected as bars of their own, in the colours the dashboards draw them
            # in; "avoided" (their sum) has no colour on any page.
            parts, parts_shown = _table_series(split, split.numeric.columns[0])
            if parts.isna().any():
                # A bar chart without its confirmed or projected bar reads as few removals avoided.
                total = numeric[avoided]
                said = "" if np.isnan(total) else f"; {total:,.0f} clients had their removal avoided in all"
                out.append(Chart("Clients with removal exposure, by status reached in the period", None,
                                 "Clients with removal exposure, by status reached in the period: not charted, confirmed "
                                 f"and projected are hidden to protect small groups{said} (see Removal avoided)."))
                return out
            named = {label: f"Removal avoided: {label.lower()}" for label in parts.index}
            rest = numeric.index != avoided
            numeric = pd.concat([parts.rename(named), numeric[rest]])
            display = pd.concat([parts_shown.rename(named), display[rest]])
            codes |= {named[label]: code for label, code in (split.codes or {}).items() if label in named}
        out.append(_bars("Clients with removal exposure, by status reached in the period", list(numeric.index),
                         list(numeric.values), [d if np.isnan(v) else f"{v:,.0f}" for v, d in zip(numeric.values, display.values)],
                         "clients", [colour(codes.get(label)) for label in numeric.index], "see Removal avoided"))
    return out


# --- PDF -------------------------------------------------------------------------------------

def pdf_document(title: str, author: str, created: dt.datetime, orientation: str = "landscape"):
    """An fpdf2 document with the report fonts (DejaVu, which matplotlib ships), fixed metadata
    and 12 mm margins. Also used by the partner firm's report."""
    from fpdf import FPDF

    pdf = FPDF(orientation=orientation, unit="mm", format="letter")
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_creation_date(created)
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creator("pcr report")
    pdf.set_producer("pcr report (fpdf2)")
    pdf.set_margins(12, 12, 12)
    return pdf


def to_pdf(report: GrantReport, charts: list[Chart] | None = None) -> bytes:
    """``charts``: the report's charts when the caller has drawn them already (report_charts)."""
    from fpdf.fonts import FontFace

    pdf = pdf_document(f"Grant report {report.grant.grant_id} {report.period.label}",
                       report.grant.grantee or "pcr report", stamp_time(report))
    pdf.set_auto_page_break(True, margin=14)
    version = report.version
    footer_text = (f"{report.grant.grant_id} · {report.period.label} · data as of {version.as_of} · "
                   f"run {version.run_id or 'not recorded'}")
    pdf.footer = lambda: (pdf.set_y(-10), pdf.set_font("DejaVu", "", 7),  # type: ignore[method-assign]
                          pdf.cell(0, 4, f"{footer_text} · page {pdf.page_no()} of {{nb}}", align="R"))
    heading = FontFace(emphasis="BOLD", fill_color=(225, 232, 240))

    def title(text: str, size: int = 12) -> None:
        pdf.set_font("DejaVu", "B", size)
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    def paragraph(text: str, size: int = 8, indent: float = 0) -> None:
        pdf.set_font("DejaVu", "", size)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(0, size * 0.45, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    def table(frame: pd.DataFrame, widths: tuple[float, ...] | None = None, size: int = 7, width: float | None = None,
              headings: bool = True, text: bool = False) -> None:
        """Labels left, numbers right; ``text``: every column left (a table of words)."""
        pdf.set_font("DejaVu", "", size)
        aligns = ["LEFT"] * len(frame.columns) if text else ["LEFT"] + ["RIGHT"] * (len(frame.columns) - 1)
        with pdf.table(col_widths=widths, text_align=tuple(aligns), headings_style=heading, line_height=size * 0.5,
                       first_row_as_headings=headings, width=width or pdf.epw, align="LEFT") as grid:
            if headings:
                grid.row([str(c) for c in frame.columns])
            for values in frame.astype(str).values.tolist():
                grid.row(values)
        pdf.ln(3)

    # Blocks are measured on a scratch document with the same page, margins and fonts: fpdf2's
    # own trial rendering (offset_rendering) deep-copies the whole document, fonts and images
    # included, twice per block, which made the PDF most of a report's build time.
    scratch = pdf_document("", "", stamp_time(report))
    scratch.set_auto_page_break(True, margin=14)

    def together(draw) -> None:
        """Draw on this page if all of it fits, else from the top of the next: a title never
        sits at the foot of a page away from its table or chart."""
        nonlocal pdf
        document = pdf
        pdf = scratch  # the drawing helpers draw on whatever ``pdf`` names
        try:
            scratch.add_page()
            first_page, top = scratch.page, scratch.get_y()
            draw()
            fits_a_page, height = scratch.page == first_page, scratch.get_y() - top
        finally:
            pdf = document
        if (not fits_a_page or pdf.get_y() + height > pdf.page_break_trigger) and pdf.get_y() > pdf.t_margin + 1:
            pdf.add_page()
        draw()

    def report_table(t: ReportTable) -> None:
        columns = len(t.display.columns)
        narrow = columns <= 3  # label and one or two numbers: a table half the page wide
        title(t.title, 11)
        paragraph(t.note)
        table(t.display, (3,) + (1,) * (columns - 1) if not narrow else (2.2,) + (1,) * (columns - 1),
              width=min(pdf.epw, 80 + 40 * (columns - 1)) if narrow else None)

    pdf.add_page()
    title(f"Grant report: {report.grant.funder}", 16)
    if report.grant.grantee:
        paragraph(f"From {report.grant.grantee}", 11)
    table(pd.DataFrame(front_matter(report), columns=["", ""]), (1, 5), 8, headings=False, text=True)
    paragraph(" · ".join(report.grant.scope_lines()), 8)
    paragraph(version.basis, 8)
    for sentence in report.not_available:
        paragraph(sentence, 8)
    if note := suppression_note(report):
        paragraph(note, 7)
    # Headline tiles: value over label, three per row.
    tile_w, tile_h = (pdf.epw - 8) / 3, 15
    top = pdf.get_y()
    for i, (label, value, unit) in enumerate(report.headline):
        x, y = pdf.l_margin + (i % 3) * (tile_w + 4), top + (i // 3) * (tile_h + 3)
        pdf.set_fill_color(241, 245, 249)
        pdf.rect(x, y, tile_w, tile_h, style="F")
        pdf.set_xy(x + 3, y + 1.5)
        size = 14
        pdf.set_font("DejaVu", "B", size)
        while pdf.get_string_width(value) > tile_w - 6 and size > 8:
            size -= 1
            pdf.set_font("DejaVu", "B", size)
        pdf.cell(tile_w - 6, 7, value)
        pdf.set_xy(x + 3, y + 8.5)
        pdf.set_font("DejaVu", "", 7)
        pdf.cell(tile_w - 6, 4, f"{label} ({unit})")
    pdf.set_xy(pdf.l_margin, top + ((len(report.headline) + 2) // 3) * (tile_h + 3) + 2)

    def deliverables() -> None:
        title("Deliverables", 11)
        if len(report.deliverables):
            table(report.deliverables, (3, 1.2, 1, 1, 1, 1))
        else:
            paragraph("No deliverables are configured for this grant.")

    together(deliverables)
    def narrative_block(block: Block) -> None:
        if block.kind == "heading":
            pdf.ln(1)
            title(block.text, {0: 11, 1: 10, 2: 9, 3: 9}[block.level])  # 0: the section's own title
        elif block.kind == "bullet":
            pdf.set_font("DejaVu", "", 9)
            y = pdf.get_y()
            pdf.set_xy(pdf.l_margin + 2, y)
            pdf.cell(4, 9 * 0.45, "•")
            pdf.set_xy(pdf.l_margin + 6, y)
            pdf.multi_cell(0, 9 * 0.45, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(0.5)
        else:
            paragraph(block.text, 9)

    blocks = [Block("heading", "Narrative", 0)] + narrative_blocks(report.grant.narrative) if report.grant.narrative else []
    # A heading stays with what follows it: runs of headings and the first block after them are drawn together.
    while blocks:
        run = 1
        while run < len(blocks) and blocks[run - 1].kind == "heading":
            run += 1
        together(lambda group=blocks[:run]: [narrative_block(b) for b in group])
        blocks = blocks[run:]
    for chart in report_charts(report) if charts is None else charts:
        if chart.png is None:
            paragraph(chart.sentence, 8)
        else:
            together(lambda c=chart: (pdf.image(io.BytesIO(c.png), w=150), pdf.ln(2)))
    for t in report.tables:
        together(lambda t=t: report_table(t))
    pdf.add_page()
    title("Methods: what each number means", 11)
    for term, text in report.methods:
        def entry(term=term, text=text) -> None:
            pdf.set_font("DejaVu", "B", 8)
            pdf.multi_cell(0, 4, term, new_x="LMARGIN", new_y="NEXT")
            paragraph(text)
        together(entry)
    together(lambda: (pdf.ln(4), title("Data version", 11), table(version_frame(report), (2, 3, 1.2), 6, text=True)))
    return bytes(pdf.output())


WRITERS = {"pdf": to_pdf, "xlsx": to_xlsx, "csv": to_csv}


def write(report: GrantReport, fmt: str, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / file_name(report, fmt)
    path.write_bytes(WRITERS[fmt](report))
    return path
