"""The access log: who opened which dashboard page and downloaded which table or report, when,
with their role and the scope of the data shown (docs/deployment.md#the-access-log).

One JSON object per line, appended to ``access_log.jsonl`` in the data directory
(``PCR_ACCESS_LOG`` overrides the path), shown to program managers on the Access log page. An
entry names the person using the dashboards (their sign-in e-mail) and what they looked at — a
page title, a table or file name, the sidebar filters, the scope — never a number, a row or
anything about a client.

A page counts as opened once per visit: Streamlit runs a page again on every click, and those
runs are not new visits. When the log cannot be written the dashboards show no data (app.py):
an access log with gaps would be worse than none."""
from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from dashboards.access import AccessDenied, Scope, UnverifiedEmail, current_scope
from pcr import paths

FIELDS = ("at", "who", "role", "viewing_as", "scope", "event", "page", "item", "filters")
EVENTS = {"page": "opened a page", "download": "downloaded", "refused": "was refused"}
# Session state: the page and filters on screen (read by download callbacks), the last visit
# recorded, and a failure of a callback to write (shown by app.py on the next run).
CONTEXT_KEY = "access_log_context"
VISIT_KEY = "access_log_visit"
ERROR_KEY = "access_log_error"

_write_lock = threading.Lock()  # sessions are threads of one server process


class AccessLogUnavailable(RuntimeError):
    """The log file cannot be written; the message is meant for the page."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def append(entry: Mapping[str, str], path: Path | None = None) -> None:
    path = path or paths.access_log()
    line = json.dumps({field: str(entry.get(field, "")) for field in FIELDS}, ensure_ascii=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One write of one line to a file opened for appending: lines of concurrent sessions
        # never interleave.
        with _write_lock, path.open("a", encoding="utf-8") as log:
            log.write(line)
    except OSError as error:
        raise AccessLogUnavailable(
            f"The access log {path} cannot be written ({error.strerror or error}), so no data is shown: every "
            "page opened and every download is recorded there. Make its folder writable (PCR_ACCESS_LOG or the "
            "data directory, PCR_DATA_DIR)."
        ) from None


def scope_entry(scope: Scope, event: str, page: str = "", item: str = "", filters: str = "") -> dict[str, str]:
    return {
        "at": _now(),
        "who": scope.viewer,
        "role": "program_manager" if scope.previewed_by else scope.role.value,
        "viewing_as": f"{scope.role.value}: {scope.description}" if scope.previewed_by else "",
        "scope": scope.description,
        "event": event,
        "page": page,
        "item": item,
        "filters": filters,
    }


def record_visit(scope: Scope, page: str, filters: str) -> None:
    """Called on every run of a page: records it when the visitor arrives on it (a new page,
    or the same page in another scope after a preview choice)."""
    import streamlit as st

    st.session_state[CONTEXT_KEY] = {"page": page, "filters": filters}
    visit = (page, scope.viewer, scope.description)
    if st.session_state.get(VISIT_KEY) != visit:
        append(scope_entry(scope, "page", page=page, filters=filters))
        st.session_state[VISIT_KEY] = visit


def record_download(item: str, file_name: str) -> None:
    """``on_click`` of every download button: runs when the visitor downloads ``file_name``."""
    import streamlit as st

    context = st.session_state.get(CONTEXT_KEY) or {}
    try:
        append(scope_entry(current_scope(), "download", page=context.get("page", ""), item=f"{item} ({file_name})",
                           filters=context.get("filters", "")))
    except (AccessDenied, AccessLogUnavailable) as problem:
        st.session_state[ERROR_KEY] = str(problem)


def record_refusal(email: str, refusal: AccessDenied) -> None:
    """A signed-in identity that gets no data (no role, unverified e-mail), once per session."""
    import streamlit as st

    reason = "e-mail not verified" if isinstance(refusal, UnverifiedEmail) else str(refusal).split(":")[0]
    visit = ("refused", email, reason)
    if st.session_state.get(VISIT_KEY) != visit:
        append({"at": _now(), "who": email or "(no e-mail)", "role": "none", "event": "refused", "item": reason})
        st.session_state[VISIT_KEY] = visit


def read(path: Path | None = None) -> pd.DataFrame:
    """Every entry, oldest first; a line that is not an entry (a torn last line) is skipped."""
    path = path or paths.access_log()
    rows = []
    if path.exists():
        with path.open(encoding="utf-8") as log:
            for line in log:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(entry, dict):
                    rows.append({field: str(entry.get(field, "")) for field in FIELDS})
    return pd.DataFrame(rows, columns=list(FIELDS))
