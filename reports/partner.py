"""A partner firm's impact report: one PDF page per firm and period for its pro bono committee.

It reads through the data-access layer with the firm's partner scope (access/queries.py),
so every number is filtered to the firm's own rows before anything is counted: no other
firm's work and no total over firms can reach it. It shows counts and hours only, never a
client, case or motion. A firm sees its own cases in full, so nothing is suppressed; each
number says what it counts. A closed period is counted as known when it closed (reports/asof.py),
like a grant report.

Command: `pcr report --partner "Firm name" --period 2026Q1|FY2025-26|2026` (pcr/commands/report.py).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from access.queries import DataAccess
from access.scope import Role, Scope
from reports import availability
from reports.asof import DataVersion
from reports.availability import NOT_AVAILABLE
from reports.metrics import CLIENTS_REPRESENTED_CASES
from reports.periods import Period

IDENTITY = "pcr report --partner"


class UnknownFirm(ValueError):
    """The firm is not in the exports; the message lists the firms that are."""


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    counts: str  # what the number counts, in a reader's words


# The metric (reports/availability.py NEEDS) of each figure and of each column of the motions table.
FIGURE_NEEDS = {"Cases": "clients_represented", "Motions filed": "motions_filed", "Motions won": "motions_granted",
                "Clients whose removal was avoided": "clients_removal_avoided", "Pro bono hours": "pro_bono_hours",
                "Attorneys participating": "pro_bono_hours", "Hours per attorney": "pro_bono_hours",
                "Value of donated time": "pro_bono_hours"}
COLUMN_NEEDS = {"Filed": "motions_filed", "Decided": "motions_decided", "Won": "motions_granted"}


@dataclass
class PartnerReport:
    firm: str
    period: Period
    version: DataVersion
    figures: list[Figure]
    motions: pd.DataFrame  # by vehicle: strings, first column the vehicle, last row the total
    hourly_rate: float | None
    grantee: str = ""
    report_date: dt.date = field(default_factory=dt.date.today)
    not_available: list[str] = field(default_factory=list)  # what the exports cannot give, and why


def firms(db: Path | str) -> list[str]:
    """Every partner firm named in the exports (cases or time entries)."""
    access = DataAccess(Scope(Role.PROGRAM_MANAGER, IDENTITY), db)
    frame = access.query("SELECT partner_firm FROM {fct_cases} WHERE partner_firm IS NOT NULL "
                         "UNION SELECT partner_firm FROM {fct_time_entries} ORDER BY 1")
    return list(frame["partner_firm"])


def check_firm(firm: str, db: Path | str) -> str:
    known = firms(db)
    if firm in known:
        return firm
    same = [f for f in known if f.casefold() == firm.strip().casefold()]
    if len(same) == 1:
        return same[0]
    listed = "; ".join(known) or "none (no export names a partner firm)"
    raise UnknownFirm(f"no partner firm {firm!r} in the exports. Firms: {listed}")


def _one(access: DataAccess, relation: str, stats: dict[str, str], where: str, params: dict) -> dict[str, float]:
    """One row of statistics over the firm's rows of ``relation`` (the layer writes the query)."""
    row = access.summary(relation, [], stats, where=where, params=params).numeric.iloc[0]
    return {k: (0.0 if pd.isna(row[k]) else float(row[k])) for k in stats}


def build_partner_report(firm: str, period: Period, version: DataVersion, grantee: str = "") -> PartnerReport:
    access = DataAccess(Scope(Role.PARTNER, IDENTITY, firm=firm), version.db)
    params = {"range_start": period.start, "range_end": period.end}
    in_range = "BETWEEN $range_start AND $range_end"
    cases = _one(access, "fct_cases", {"cases": "count(*)", "clients": "count(DISTINCT client_id)"},
                 CLIENTS_REPRESENTED_CASES, params)
    time = _one(access, "fct_time_entries", {"hours": "sum(hours)", "attorneys": "count(DISTINCT attorney_id)",
                                             "value": "sum(value_usd)"}, f"entry_date {in_range}", params)
    avoided = _one(access, "mart_removal_avoided", {
        "confirmed": "count(*) FILTER (WHERE removal_avoided_status = 'confirmed')",
        "projected": "count(*) FILTER (WHERE removal_avoided_status = 'projected')"}, f"status_date {in_range}", params)
    rates = access.summary("mart_pro_bono", [], {"rate": "max(hourly_rate_usd)"}).numeric["rate"]
    hourly_rate = None if rates.empty or pd.isna(rates.iloc[0]) else float(rates.iloc[0])
    by_vehicle = access.summary("fct_motions", "vehicle", {
        "filed": f"count(*) FILTER (WHERE filing_date {in_range})",
        "decided": f"count(*) FILTER (WHERE is_decided AND decision_date {in_range})",
        "won": f"count(*) FILTER (WHERE outcome IN ('granted', 'granted_in_part') AND decision_date {in_range})",
    }, where=f"filing_date {in_range} OR decision_date {in_range}", params=params).numeric
    by_vehicle = by_vehicle.set_index("vehicle")[["filed", "decided", "won"]].fillna(0).astype("int64")
    totals = by_vehicle.sum()

    hours, attorneys = time["hours"], int(time["attorneys"])
    removal = int(avoided["confirmed"] + avoided["projected"])
    figures = [
        Figure("Cases", f"{int(cases['cases']):,}",
               f"cases referred to the firm by the period's end and not closed before its start ({int(cases['clients']):,} clients)"),
        Figure("Motions filed", f"{int(totals['filed']):,}", "motions with a filing date in the period"),
        Figure("Motions won", f"{int(totals['won']):,}",
               f"motions granted or granted in part, by decision date in the period, of {int(totals['decided']):,} decided"),
        Figure("Clients whose removal was avoided", f"{removal:,}",
               f"{int(avoided['confirmed']):,} confirmed by an immigration outcome, {int(avoided['projected']):,} projected; "
               "counted in the period the status was reached, for the firm whose motion gave the relief"),
        Figure("Pro bono hours", f"{hours:,.1f}", "hours the firm's attorneys logged in the period"),
        Figure("Attorneys participating", f"{attorneys:,}", "attorneys of the firm who logged time in the period"),
        Figure("Hours per attorney", f"{hours / attorneys:,.1f}" if attorneys else "no time logged",
               "pro bono hours / attorneys participating"),
        Figure("Value of donated time", f"${time['value']:,.0f}",
               f"hours x ${hourly_rate:,.0f} an hour, the rate the program sets" if hourly_rate else "hours x the program's hourly rate"),
    ]
    motions = by_vehicle[by_vehicle.sum(axis=1) > 0].sort_values(["won", "decided", "filed"], ascending=False)
    motions = pd.concat([motions, totals.to_frame("Total").T])
    table = pd.DataFrame({"Vehicle": motions.index.astype(str), "Filed": motions["filed"].map("{:,}".format),
                          "Decided": motions["decided"].map("{:,}".format), "Won": motions["won"].map("{:,}".format)})
    # A figure or column that needs a column no export carries says so instead of a 0.
    available = availability.read(version.db)
    lacking = [(f.label, FIGURE_NEEDS[f.label]) for f in figures if not available.has(FIGURE_NEEDS[f.label])]
    lacking += [(f"{column} (motions by vehicle)", metric) for column, metric in COLUMN_NEEDS.items()
                if not available.has(metric)]
    figures = [f if available.has(FIGURE_NEEDS[f.label]) else Figure(f.label, NOT_AVAILABLE, available.why(
        available.lacking(FIGURE_NEEDS[f.label]))) for f in figures]
    for column, metric in COLUMN_NEEDS.items():
        if not available.has(metric):
            table[column] = NOT_AVAILABLE
    return PartnerReport(firm, period, version, figures, table, hourly_rate, grantee,
                         not_available=available.sentences(lacking))


# --- the one-page PDF ------------------------------------------------------------------------

def file_name(report: PartnerReport) -> str:
    firm = re.sub(r"[^A-Za-z0-9-]+", "_", report.firm).strip("_")
    return f"partner-report_{firm}_{report.period.label}.pdf"


def to_pdf(report: PartnerReport) -> bytes:
    from fpdf.fonts import FontFace

    from reports.render import pdf_document

    created = report.version.run_finished_at or dt.datetime.combine(report.period.end, dt.time())
    pdf = pdf_document(f"Pro bono impact report {report.firm} {report.period.label}", report.grantee or "pcr report",
                       created.replace(tzinfo=dt.UTC, microsecond=0), orientation="portrait")
    # One page by construction: text is laid out top to bottom and checked against the page's foot.
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 16)
    pdf.multi_cell(0, 8, f"Pro bono impact report: {report.firm}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    with_whom = f"Pro bono work with {report.grantee} · " if report.grantee else ""
    pdf.multi_cell(0, 5, f"{with_whom}{report.period.label}: {report.period.start} to {report.period.end}",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8)
    pdf.multi_cell(0, 4, f"Report date {report.report_date} · data as of {report.version.as_of} · "
                         f"this firm's own cases only, every number counted over them alone", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    tile_w, tile_h, gap = (pdf.epw - 6) / 2, 19, 3
    top = pdf.get_y()
    for i, figure in enumerate(report.figures):
        x, y = pdf.l_margin + (i % 2) * (tile_w + gap), top + (i // 2) * (tile_h + gap)
        pdf.set_fill_color(241, 245, 249)
        pdf.rect(x, y, tile_w, tile_h, style="F")
        pdf.set_xy(x + 3, y + 1.5)
        size = 15
        pdf.set_font("DejaVu", "B", size)
        while pdf.get_string_width(figure.value) > tile_w - 6 and size > 8:  # "not available in these exports"
            size -= 1
            pdf.set_font("DejaVu", "B", size)
        pdf.cell(tile_w - 6, 7, figure.value)
        pdf.set_xy(x + 3, y + 8.5)
        pdf.set_font("DejaVu", "B", 8)
        pdf.cell(tile_w - 6, 4, figure.label)
        pdf.set_xy(x + 3, y + 12.3)
        pdf.set_font("DejaVu", "", 6.5)
        pdf.multi_cell(tile_w - 6, 2.9, figure.counts, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_xy(pdf.l_margin, top + math.ceil(len(report.figures) / 2) * (tile_h + gap) + 2)

    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 6, "Motions by vehicle", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 7.5)
    pdf.multi_cell(0, 3.6, "Filed: filing date in the period. Decided: granted, granted in part or denied, by decision "
                           "date in the period (withdrawn and pending motions are not decided). Won: granted or granted "
                           "in part.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    if len(report.motions) > 1:
        heading = FontFace(emphasis="BOLD", fill_color=(225, 232, 240))
        pdf.set_font("DejaVu", "", 7.5)
        with pdf.table(col_widths=(3, 1, 1, 1), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"), headings_style=heading,
                       line_height=3.8, width=pdf.epw * 0.75, align="LEFT") as grid:
            grid.row(list(report.motions.columns))
            for values in report.motions.values.tolist():
                grid.row([str(v) for v in values])
    else:
        pdf.multi_cell(0, 4, "No motion of the firm was filed or decided in the period.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 7)
    notes = [
        f"Counts are of this firm's work only. {report.version.basis}",
        *report.not_available,
        "Removal avoided counts clients with removal exposure at intake (removal proceedings, a final order, detention or a "
        "conviction that is a removal ground). Confirmed: a favourable immigration outcome after immigration-effective relief; "
        "projected: every removal-ground conviction cleared, no outcome yet.",
        "No client, case or motion is listed. Cases under PC 236.14 / 236.15 (survivor confidentiality) are included "
        "in the counts like any other.",
    ]
    for note in notes:
        pdf.multi_cell(0, 3.3, note, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(0.8)
    if pdf.get_y() > pdf.h - pdf.b_margin or pdf.page_no() != 1:
        raise ValueError(f"the partner report for {report.firm} does not fit on one page ({len(report.motions)} vehicle rows)")
    pdf.set_y(-12)
    pdf.set_font("DejaVu", "", 7)
    pdf.cell(0, 4, f"{report.firm} · {report.period.label} · run {report.version.run_id or 'not recorded'}", align="R")
    return bytes(pdf.output())
