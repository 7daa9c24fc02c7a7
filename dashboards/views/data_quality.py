"""Data quality: the last pipeline run, freshness of each source export, quarantined rows by
rule, the validation results with a link to the Data Docs, and the client ids merged into one
person by A-number.

Program managers see everything, including the (PII-redacted) values of quarantined rows and
the merged client ids.
Funders see quarantined-row counts by export table and rule, suppressed like every count they
see. The raw and pipeline schemas hold no firm column, so the access layer refuses them to
partners."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from access.reader import DataUnavailable
from access.scope import AccessDenied, Role
from dashboards.views.common import frame_for, has_rows, page_context, show_frame, suppression_note, vocabulary_of_pages
from reports.availability import NEEDS

# Headers of the run and freshness tables, shorter than the vocabulary's so that a row fits the page.
SHORT_HEADERS = {"files_loaded": "new files", "files_already_loaded": "files skipped", "rows_quarantined": "quarantined",
                 "expectations": "checks", "blocking_failures": "blocking", "loads": "files", "rows_loaded": "rows loaded",
                 "days_since_export": "days since"}
# What links a merged client id to the person's client id (mart_client_links.link_rule).
LINK_RULES = {"same_a_number": "same A-number"}

ctx = page_context()
words = vocabulary_of_pages()
st.title("Data quality")
raw, pipeline = ctx.access("raw"), ctx.access("pipeline")

if ctx.scope.role is Role.PARTNER:
    st.info("Data quality covers every firm's exports, so it is shown to program managers only.")
    st.stop()

if ctx.scope.role is Role.PROGRAM_MANAGER:
    st.subheader("Last pipeline run")
    try:
        runs = pipeline.query(
            "SELECT run_id, status, started_at, finished_at, files_loaded, files_already_loaded, rows_loaded, "
            "rows_quarantined, expectations, blocking_failures, warnings, data_docs FROM {runs} ORDER BY finished_at DESC LIMIT 5")
    except DataUnavailable:
        runs = pd.DataFrame()
    if runs.empty:
        st.info("No run recorded yet: the database was built without `pcr run` (run records, validation results "
                "and Data Docs come from `pcr run`).")
    else:
        last = runs.iloc[0]
        cols = st.columns([1.5, 1, 1, 1.3])  # room for the date and time of the run, uncut
        cols[0].metric("Last run (UTC)", f"{last.finished_at:%Y-%m-%d %H:%M}")
        cols[1].metric("Rows loaded", f"{last.rows_loaded:,}")
        cols[2].metric("Rows quarantined", f"{last.rows_quarantined:,}")
        cols[3].metric("Blocking failures / warnings", f"{last.blocking_failures} / {last.warnings}")
        if last.data_docs and Path(last.data_docs).is_file():
            st.page_link(str(Path(__file__).with_name("data_docs.py")), label="Data Docs of this run (every check, with examples)",
                         icon=":material/rule:", query_params={"run": last.run_id})
        # Short headers (the help of each says more) so that every column fits beside the others.
        shown_runs = runs.drop(columns=["data_docs", "started_at"])
        show_frame(shown_runs[[*shown_runs.columns.drop("run_id"), "run_id"]], "recent pipeline runs",
                   headers={**SHORT_HEADERS, "files_already_loaded": "skipped", "rows_loaded": "rows"})

        st.subheader("Validation results of the last run")
        # What each check tests in the project's words (its Great Expectations type is in the Data Docs
        # linked above), in a table that wraps: the sentences are longer than any column of a grid.
        results = pipeline.query(
            "SELECT suite, dataset, description, severity, success, element_count, unexpected_count, error "
            "FROM {validation_results} WHERE run_id = $run ORDER BY success, severity, suite, dataset", {"run": last.run_id})
        failed = results[~results.success]
        st.caption(f"{len(results)} checks, {len(failed)} not met (those first).")
        show_frame(results, "validation results", shown_as={"suite": words.suite, "dataset": words.check}, whole_text=True,
                   headers={"element_count": "rows", "unexpected_count": "rows failing"})

    st.subheader("Freshness of each source export")
    manifest = raw.query(
        "SELECT file_kind AS export, arg_max(file_name, exported_at) AS latest_file, max(exported_at) AS exported_at, "
        "max(finished_at) AS last_loaded_at, date_diff('day', max(exported_at), current_timestamp::TIMESTAMP) AS days_since_export, "
        "count(*) AS loads, sum(rows_loaded) AS rows_loaded, sum(rows_quarantined) AS rows_quarantined "
        "FROM {load_manifest} GROUP BY file_kind ORDER BY file_kind")
    if len(manifest):
        show_frame(manifest, "source export freshness", coded=("export",), headers=SHORT_HEADERS)
    else:
        st.info("No export has been loaded yet.")

    st.subheader("Contract columns the exports do not carry")
    try:
        missing = ctx.data.query(
            "SELECT contract_table, contract_column, marked_not_available "
            "FROM {mart_column_availability} WHERE NOT available ORDER BY contract_table, contract_column")
    except DataUnavailable:  # published before the mart existed
        missing = pd.DataFrame()
    if len(missing):
        needed_by = {column: [m.replace("_", " ") for m, columns in NEEDS.items() if column in columns]
                     for column in missing.contract_table + "." + missing.contract_column}
        show_frame(pd.DataFrame({
            "column": needed_by.keys(),
            "why": ["the layout marks it not available" if marked else "the layout does not map it"
                    for marked in missing.marked_not_available],
            "shown as not available": [", ".join(metrics) or "(no metric needs it)" for metrics in needed_by.values()],
        }), "columns the exports do not carry", caption=(
            "No export loaded now gives these columns (docs/data-contract.md, 'A column map entry'): pages and reports "
            "show the metrics that need them as 'not available in these exports', never as 0. Map the column in the "
            "layout if the export has it."))
    else:
        st.info("Every contract column is carried by some export loaded now.")

    st.subheader("Quarantined rows by rule")
    by_rule = raw.query(
        "SELECT file_kind AS export, rule, count(*) AS rows FROM (SELECT file_kind, unnest(rules) AS rule FROM {quarantine}) "
        "GROUP BY ALL ORDER BY rows DESC, export, rule")
    if len(by_rule):
        show_frame(by_rule, "quarantined rows by rule", coded=("export",), shown_as={"rule": words.rule},
                   caption="A row broken in several ways counts once per rule.")
        with st.expander("Quarantined rows (values as mapped, names, A-numbers and dates of birth redacted)"):
            rows = raw.query("SELECT load_id, source_file, line, file_kind, reason, raw_values FROM {quarantine} ORDER BY load_id, line LIMIT 1000")
            show_frame(rows, "quarantined rows", coded=("file_kind",), caption="The first 1,000 rows.")
    else:
        st.info("No row has been quarantined: every row read was loaded or was an exact duplicate.")

    st.subheader("Clients recorded under several client ids")
    links = ctx.data.query(
        "SELECT client_id, merged_client_id, link_rule, client_intake_date, merged_intake_date, client_load_id, "
        "merged_load_id FROM {mart_client_links} ORDER BY client_id, merged_client_id")
    if len(links):
        files = raw.query("SELECT load_id, min(file_name) AS file_name FROM {load_manifest} GROUP BY load_id"
                          ).set_index("load_id")["file_name"]
        shown = pd.DataFrame({
            "client id (counted)": links.client_id,
            "merged client id": links.merged_client_id,
            "linked by": links.link_rule.map(LINK_RULES).fillna(links.link_rule),
            "intake (counted id)": links.client_intake_date,
            "intake (merged id)": links.merged_intake_date,
            "export (counted id)": links.client_load_id.map(files),
            "export (merged id)": links.merged_load_id.map(files),
        })
        show_frame(shown, "merged client ids", caption=(
            f"{len(links):,} client id(s) are the same person as an earlier client id: the same A-number, compared by "
            "its keyed hash (the A-number itself is never stored; neither is shown). Every client count (clients served "
            "and represented, removal avoided, the funnel, demographics) counts each person once, under the client id "
            "of the earliest intake."))
    else:
        st.info("No A-number appears under two client ids: every client id is counted as a person of its own "
                "(a client id without an A-number cannot be linked to another).")
else:
    st.subheader("Quarantined rows by export")
    try:
        quarantine = raw.aggregate("quarantine", "file_kind")
        if has_rows(quarantine):
            show_frame(frame_for(quarantine, ctx.scope, "export", "rows_quarantined"), "quarantined rows by export",
                       coded=("export",))
        else:
            st.info("No row has been quarantined: every row read was loaded or was an exact duplicate.")
    except AccessDenied as refusal:
        st.info(str(refusal))
    st.caption("Run records, reasons and row values are shown to program managers only.")
suppression_note(ctx)
