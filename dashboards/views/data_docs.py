"""Data Docs: the Great Expectations report of a pipeline run, served by the app and readable
offline (dashboards/data_docs.py removes what the pages would fetch from CDNs and writes out
the tables their scripts would fill). Program managers only, like the validation results on
the Data quality page. The run and page come from the address (``?run=…&page=…``), so links
between the Data Docs' pages and from the Data quality page open here."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from access.reader import DataUnavailable
from access.scope import Role
from dashboards import data_docs
from dashboards.views.common import page_context, vocabulary_of_pages

ctx = page_context()
st.title("Data Docs")
if ctx.scope.role is not Role.PROGRAM_MANAGER:
    st.info("The Data Docs describe every firm's exports, so they are shown to program managers only.")
    st.stop()
try:
    runs = ctx.access("pipeline").query("SELECT run_id, finished_at, data_docs FROM {runs} WHERE data_docs IS NOT NULL "
                                        "ORDER BY finished_at DESC LIMIT 20")
except DataUnavailable:
    runs = pd.DataFrame(columns=["run_id", "finished_at", "data_docs"])
roots = {run.run_id: Path(run.data_docs).parent for run in runs.itertuples() if Path(run.data_docs).parent.is_dir()}
if not roots:
    st.info("No run's Data Docs are on this computer: `pcr run` writes them to data_docs/ in the data directory.")
    st.stop()

wanted_run = st.query_params.get("run")
run_ids = list(roots)
run_id = st.selectbox("Run", run_ids, index=run_ids.index(wanted_run) if wanted_run in roots else 0,
                      help="The latest 20 runs whose Data Docs are kept.")
root = roots[run_id]
page_list = data_docs.pages(root)
wanted_page = st.query_params.get("page") if wanted_run == run_id else None
try:
    validations = ctx.access("pipeline").query("SELECT DISTINCT suite, dataset FROM {validation_results} WHERE run_id = $run",
                                               {"run": run_id})
except DataUnavailable:
    validations = pd.DataFrame(columns=["suite", "dataset"])
words = vocabulary_of_pages()
names = {f"{v.suite}.{v.dataset}": words.validation(v.suite, v.dataset) for v in validations.itertuples()}


def page_title(page: str) -> str:
    """A page as the Data Docs' own index calls it, in the app's words: the checks of a validation
    (expectations/<suite>/<dataset>.html) or its results (validations/<suite>/<dataset>/...)."""
    parts = page.removesuffix(".html").split("/")
    if page == "index.html":
        return "Overview of the run"
    if len(parts) >= 3 and parts[0] in ("expectations", "validations"):
        what = words.validation(parts[1], parts[2])
        return f"Checks of {what}" if parts[0] == "expectations" else f"Results of {what}"
    return page.removesuffix(".html")


page = st.selectbox("Page", page_list, index=page_list.index(wanted_page) if wanted_page in page_list else 0,
                    format_func=page_title)
st.query_params.update({"run": run_id, "page": page})
try:
    document = data_docs.render(root, page, lambda other: data_docs.page_link(run_id, other), names)
except data_docs.DocsNotFound as missing:
    st.error(str(missing))
    st.stop()
st.caption("Links inside the Data Docs open in a new tab. Nothing on these pages is fetched from the internet.")
st.iframe(document)  # as tall as the page: a fixed height cut off its last rows
