"""Grant reports: what a funder receives for a grant and period (reports/, docs/reports.md),
on screen and as PDF / XLSX / CSV downloads. Program managers and funders see the same
suppressed report; a funder is offered only the grants the roles file links to it; partner
firms have no access (a grant covers every firm).

A past period is reported as known when it closed, which needs the data rebuilt once (a dbt
build on a copy, a minute or more). That never runs on the page's request thread: the page
starts `pcr report ... --prepare-only` as a child process, shows its status, and reads the
report once the rebuilt data is there."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import streamlit as st

from access.reader import DataUnavailable
from access.scope import AccessDenied, Role
from dashboards.session import configured_roles, record_download, settings
from dashboards.views.common import page_context
from reports import asof, render
from reports.build import build_report
from reports.grants import Grant, GrantConfigError, load_grants, parse_period

ctx = page_context()
st.title("Grant reports")
if ctx.scope.role is Role.PARTNER:
    st.info("Grant reports cover every partner firm: they are available to program managers and funders.")
    st.stop()

# What a funder can act on, in its words; how to link a grant is for the program manager (docs/reports.md).
NOT_LINKED = (f"No grant is linked to your sign-in ({ctx.scope.identity}), so there is no grant report to show. "
              "Ask the program's manager to link your grant to it.")
if ctx.scope.previewed_by:  # a program manager previewing: how to link one
    NOT_LINKED += (" (To link one: list the grant's id under this funder's `grants` in the roles file, "
                   "docs/reports.md.)")


def _grants_file() -> tuple[Path | None, str]:
    """The grants file to read, and a sentence to show above the report. Right after the quick
    start there is no config/grants.yml: a program manager then sees the example grants, told how
    to add their own; a funder is told what it can ask for."""
    configured = settings().grants_file
    if configured.exists():
        return configured, ""
    example = settings().project_root / "config" / "grants.example.yml"
    default = settings().project_root / "config" / "grants.yml"
    how = (f"copy {example.relative_to(settings().project_root)} to {default.relative_to(settings().project_root)} and "
           "put in your grants (fields: docs/reports.md)" if configured == default else
           f"create {configured} (the grants file the settings name, PCR_GRANTS_FILE) from {example}")
    if ctx.scope.role is Role.PROGRAM_MANAGER and example.exists():
        return example, f"These are the example grants: to report on your own, {how}."
    if ctx.scope.role is Role.PROGRAM_MANAGER:
        return None, f"No grants are configured yet: to add one, {how}."
    # A funder cannot tell whether the program has grants on file; what it can act on is its own link.
    if not ctx.scope.grants:
        return None, NOT_LINKED
    return None, (f"The grant report of {', '.join(sorted(ctx.scope.grants))} cannot be shown yet: the program's grants "
                  "file is not in place. Ask the program manager to add it.")


grants_path, grants_note = _grants_file()
if grants_path is None:
    st.info(grants_note)
    st.stop()
if grants_note:
    st.info(grants_note, icon=":material/lightbulb:")
try:
    grants = load_grants(grants_path)
except GrantConfigError as problem:
    st.error(str(problem))
    st.stop()
if not grants.grants:
    st.info(f"No grants are configured in {grants.path}.")
    st.stop()
try:
    if (roles := configured_roles()) is not None:
        # A program manager learns of every misspelt link; a funder only of its own.
        roles.check_grants(grants.grants, grants.path, None if ctx.scope.role is Role.PROGRAM_MANAGER else [ctx.scope.identity])
except (ValueError, AccessDenied) as problem:
    st.error(str(problem))
    st.stop()
offered = ctx.scope.visible_grants(grants.grants)
if not offered:
    st.info(NOT_LINKED)
    st.stop()


def _periods(grant: Grant) -> list[str]:
    quarters, year, quarter = [], grant.start.year, (grant.start.month - 1) // 3 + 1
    while dt.date(year, 3 * quarter - 2, 1) <= grant.end:
        quarters.append(f"{year}Q{quarter}")
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    first_fy = grant.start.year - (grant.start.month < grant.fiscal_year_start_month)
    last_fy = grant.end.year - (grant.end.month < grant.fiscal_year_start_month)
    years = [f"FY{y}-{(y + 1) % 100:02d}" for y in range(first_fy, last_fy + 1)]
    return ["grant", *years, *reversed(quarters)]


grant_id = st.selectbox("Grant", offered, format_func=lambda g: f"{g} — {grants.grants[g].funder}")
grant = grants.grants[grant_id]
# "grant" is the value pcr report --period takes; on screen it reads as the report calls it.
period_text = st.selectbox("Period", _periods(grant), help="A quarter, a fiscal year or the whole grant.",
                           format_func=lambda p: f"Whole grant ({grant.start} to {grant.end})" if p == "grant" else p)
threshold = grants.threshold_for(ctx.scope)
work_dir = settings().data_dir / "reports"


# The PDF is most of a report's build time (seconds under load), so it is written only when its
# button is pressed; the XLSX and CSV take a few milliseconds and are written with the report.
DEFERRED_FORMATS = {"pdf"}
PDFS_KEPT = 32  # as many as reports cached


@st.cache_data(max_entries=32, show_spinner=False)
def _report_files(grant_id: str, period_text: str, threshold: int, db_identity: tuple, grants_identity: int):
    """The report, its quick files and charts, cached per published database and grants file.
    Raises asof.RebuildNeeded (not cached) while the period's data is not rebuilt yet."""
    period = parse_period(period_text, grants.grants[grant_id])
    version = asof.prepare(period, grants.grants[grant_id].close_after_days, ctx.data.db_path, work_dir=work_dir,
                           rebuild=None)
    report = build_report(grants.grants[grant_id], period, version, threshold)
    files = {fmt: write(report) for fmt, write in render.WRITERS.items() if fmt not in DEFERRED_FORMATS}
    return report, files, render.report_charts(report)


@st.cache_resource
def _pdfs_written() -> dict[tuple, bytes]:
    """PDFs already written, by report: a second press of the button (by anyone) is served at once."""
    return {}


def _pdf_when_pressed(report, charts, key: tuple):
    """The button's ``data``: Streamlit calls it on a server thread when the button is pressed,
    outside the page's run, so it uses only what it is given here (no page state, no st calls)."""
    written = _pdfs_written()

    def write() -> bytes:
        if key not in written:
            while len(written) >= PDFS_KEPT:
                written.pop(next(iter(written)), None)
            written[key] = render.to_pdf(report, charts)
        return written[key]
    return write


@st.cache_resource
def _rebuilds() -> dict[Path, tuple[subprocess.Popen, float]]:
    """The rebuilds running (process, start time), by the file each makes: shared by every
    visitor, so a period asked for twice is rebuilt once."""
    return {}


def _start_rebuild(needed: asof.RebuildNeeded) -> None:
    """Start the child process that rebuilds the data, unless one for the same file runs."""
    running = _rebuilds()
    if needed.target in running and running[needed.target][0].poll() is None:
        return
    needed.target.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pcr.cli", "report", "--grant", grant_id, "--period", period_text,
               "--prepare-only", "--db", str(ctx.data.db_path), "--grants", str(grants.path)]
    with needed.target.with_suffix(".log").open("w", encoding="utf-8") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   env={**os.environ, **settings().environment()})
    running[needed.target] = (process, time.monotonic())


def _failure(needed: asof.RebuildNeeded, process: subprocess.Popen) -> str:
    log = needed.target.with_suffix(".log")
    said = log.read_text(encoding="utf-8", errors="replace").strip().splitlines() if log.exists() else []
    errors = [line.removeprefix("pcr report: ") for line in said if line.startswith("pcr report: ")]
    return errors[-1] if errors else f"the rebuild stopped with exit code {process.returncode} (log: {log})"


# A fragment that polls, so the page's run itself ends at once: the last report (another period's
# numbers, with live download buttons) is cleared instead of staying on screen, faded, while
# this one is rebuilt.
@st.fragment(run_every=2)
def _rebuild_status(needed: asof.RebuildNeeded) -> None:
    process, started = _rebuilds().get(needed.target, (None, time.monotonic()))
    if process is None or (process.poll() == 0 and needed.target.exists()):
        _rebuilds().pop(needed.target, None)
        st.rerun()  # the whole page, which now finds the data
    if process.poll() is None:
        with st.status(f"Rebuilding the data as known when {period_text} closed (once for this period; usually a "
                       f"minute or two): {time.monotonic() - started:.0f} s…", expanded=True):
            st.write(needed.basis)
        return
    st.error(f"The rebuild failed: {_failure(needed, process)}")


def _unbroken_vehicles(display):
    """A vehicle (PC 1203.4a, PC 1473.7(a)(1)) on one line: squeezed by the wide headers beside
    it, the table would break "PC" from its section number."""
    if display.columns[0] != "Vehicle":
        return display
    return display.assign(Vehicle=display["Vehicle"].str.replace(" ", "\u00a0", regex=False))


report_key = (grant_id, period_text, threshold, tuple(ctx.data.version().__dict__.values()), grants.path.stat().st_mtime_ns)
try:
    try:
        with st.spinner("Building the report…"):
            report, files, charts = _report_files(*report_key)
    except asof.RebuildNeeded as needed:
        _start_rebuild(needed)
        _rebuild_status(needed)
        st.stop()
except (ValueError, asof.ReportDataError, DataUnavailable) as problem:
    st.error(str(problem))
    st.stop()

st.caption(" · ".join(grant.scope_lines()))
st.caption("The sidebar's period and filters do not apply here: a grant report covers its grant's scope and the "
           "period chosen above.")
st.info(report.version.basis)
for sentence in report.not_available:
    st.info(sentence)
columns = st.columns(3)
for i, (label, value, unit) in enumerate(report.headline):
    # What the number counts goes under it: in the label it would be cut off at the tile's width.
    columns[i % 3].metric(label, value)
    columns[i % 3].caption(unit)

downloads = st.columns(3)
mime = {"pdf": "application/pdf", "csv": "text/csv",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
button_data = {fmt: files[fmt] if fmt in files else _pdf_when_pressed(report, charts, report_key) for fmt in render.WRITERS}
for column, (fmt, data) in zip(downloads, button_data.items()):
    # Pressing the button still reruns the page, whose on_click records the download in the access log.
    column.download_button(f"Download {fmt.upper()}", data, file_name=render.file_name(report, fmt), mime=mime[fmt],
                           on_click=record_download, args=(f"grant report {grant_id} {period_text}", render.file_name(report, fmt)))

st.subheader("Deliverables")
st.dataframe(report.deliverables, hide_index=True, width="stretch")
for chart in charts:
    if chart.png is None:
        st.caption(chart.sentence)
    else:
        st.image(chart.png)  # its title is drawn in the picture
for table in report.tables:
    st.subheader(table.title)
    st.caption(table.note)
    if len(table.display):
        # A static table, as in the PDF: long headers wrap and every row shows (a scrolling grid cut them off).
        st.table(_unbroken_vehicles(table.display), hide_index=True)
    else:
        st.info("Nothing in this grant's scope and period for this table.")
with st.expander("Methods: what each number means"):
    for term, text in report.methods:
        st.markdown(f"**{term}.** {text}")
with st.expander("Data version"):
    st.dataframe(render.version_frame(report), hide_index=True, width="stretch")
st.caption(render.suppression_note(report))
