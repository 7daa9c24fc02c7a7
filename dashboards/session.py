"""What the dashboards hold for one browser session: the settings the app was started with, the
visitor's scope (``st.user`` and the roles file, or the role a program manager previews), their
data access, and the access log's record of their visits and downloads.

The data-access layer itself (access/) knows nothing of Streamlit; this module gives it what
Streamlit knows, and gives it Streamlit's result cache: every session shares the cached
results of a version of the published file.

A page counts as opened once per visit: Streamlit runs a page again on every click, and those
runs are not new visits. When the log cannot be written the dashboards show no data (app.py):
an access log with gaps would be worse than none."""
from __future__ import annotations

import streamlit as st

from access import access_log, reader
from access.queries import DataAccess
from access.scope import AccessDenied, RolesConfig, Scope, load_roles, preview_scope, scope_for

PREVIEW_KEY = "preview_as"  # the sidebar's "Preview as" choice
SETTINGS_KEY = "pcr_settings"
# The page and filters on screen (read by download callbacks), the last visit recorded, and a
# failure of a callback to write the log (shown by app.py on the next run).
LOG_CONTEXT_KEY = "access_log_context"
LOG_VISIT_KEY = "access_log_visit"
LOG_ERROR_KEY = "access_log_error"

reader.cache_results(st.cache_data(max_entries=512, show_spinner=False))


def start(settings) -> None:
    """Called by app.py at the start of every run with the settings of the server (pcr.settings.Settings)."""
    st.session_state[SETTINGS_KEY] = settings
    if settings.target == "postgres":  # the pages read a copy of the PostgreSQL publish, kept current
        from pcr.postgres_mirror import follow

        follow(settings)


def settings():
    """The settings of the running app (pcr.settings.Settings): paths of the published database,
    the roles file, the access log, the grants file."""
    return st.session_state[SETTINGS_KEY]


def configured_roles() -> RolesConfig | None:
    """The roles file of the settings, or None when none is set."""
    roles_file = settings().roles_file
    return load_roles(roles_file) if roles_file else None


def signed_in_scope() -> Scope:
    """The scope of the person viewing this session, as signed in (no preview)."""
    return scope_for(st.user.to_dict(), configured_roles(), st.get_option("server.address"))


def current_scope() -> Scope:
    """The scope this session's pages read with: the signed-in scope, or the role a program
    manager chose under "Preview as"."""
    choice = st.session_state.get(PREVIEW_KEY) or ""
    return preview_scope(signed_in_scope(), choice, configured_roles() if choice else None)


def data_access(scope: Scope, schema: str = "marts") -> DataAccess:
    return DataAccess(scope, settings().published_db, schema=schema)


# --- the access log --------------------------------------------------------------------------

def record_visit(scope: Scope, page: str, filters: str) -> None:
    """Called on every run of a page: records it when the visitor arrives on it (a new page,
    or the same page in another scope after a preview choice)."""
    st.session_state[LOG_CONTEXT_KEY] = {"page": page, "filters": filters}
    visit = (page, scope.viewer, scope.description)
    if st.session_state.get(LOG_VISIT_KEY) != visit:
        access_log.append(access_log.scope_entry(scope, "page", page=page, filters=filters), settings().access_log)
        st.session_state[LOG_VISIT_KEY] = visit


def record_download(item: str, file_name: str) -> None:
    """``on_click`` of every download button: runs when the visitor downloads ``file_name``."""
    context = st.session_state.get(LOG_CONTEXT_KEY) or {}
    try:
        entry = access_log.scope_entry(current_scope(), "download", page=context.get("page", ""),
                                       item=f"{item} ({file_name})", filters=context.get("filters", ""))
        access_log.append(entry, settings().access_log)
    except (AccessDenied, access_log.AccessLogUnavailable) as problem:
        st.session_state[LOG_ERROR_KEY] = str(problem)


def record_refusal(email: str, refusal: AccessDenied) -> None:
    """A signed-in identity that gets no data (no role, unverified e-mail), once per session."""
    reason = access_log.refusal_reason(refusal)
    visit = ("refused", email, reason)
    if st.session_state.get(LOG_VISIT_KEY) != visit:
        access_log.append(access_log.refusal_entry(email, reason), settings().access_log)
        st.session_state[LOG_VISIT_KEY] = visit


def write_failure() -> str | None:
    """Why a download callback could not write the log since the last run, once."""
    return st.session_state.pop(LOG_ERROR_KEY, None)
