"""Access log: who opened which page and downloaded which table or report, when, with role and
scope (access/access_log.py), and a check of the roles file against the published data.
Program managers only; app.py does not offer the page to anyone else."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from access import access_log
from access.queries import FIRM_COLUMN, NONE_LABEL
from access.scope import Role
from dashboards import session
from dashboards.views.common import page_context, show_frame

RECENT = 1000  # entries listed; the counts cover the whole log
ROLE_WORDS = {**{role.value: role.value.replace("_", " ") for role in Role}, "none": "no role"}


def in_words(entries: pd.DataFrame) -> pd.DataFrame:
    """The log as the page shows it: headers, roles and events in words, times to the second,
    and a preview said in the scope (the JSONL file keeps the fields as recorded)."""
    previewing = entries.viewing_as != ""
    return pd.DataFrame({
        "time (UTC)": entries["at"].str.replace("T", " ").str.removesuffix("+00:00"),
        "who": entries.who,
        "role": entries.role.map(ROLE_WORDS).fillna(entries.role),
        "scope": entries.scope.where(~previewing, "preview of " + entries.scope),
        "event": entries.event.map(access_log.EVENTS).fillna(entries.event),
        "page": entries.page,
        "item": entries["item"],
        "filters": entries.filters,
    })


ctx = page_context()
st.title("Access log")
if not ctx.is_manager:
    st.info("The access log is shown to program managers only.")
    st.stop()

log_file = session.settings().access_log
log = access_log.read(log_file)
st.caption(f"Every page opened and every download, with the role and scope of the data shown; kept in "
           f"`{log_file}`. It names who used the dashboards, never a client. Times are UTC.")
if log.empty:
    st.info("Nothing is recorded yet.")
else:
    who = st.selectbox("Person", ["Everyone", *sorted(log.who.unique())])
    shown = in_words(log if who == "Everyone" else log[log.who == who])
    st.subheader("By person and event")
    counts = (shown.groupby(["who", "role", "event"])
              .agg(**{"entries": ("time (UTC)", "size"), "last (UTC)": ("time (UTC)", "max")}).reset_index())
    show_frame(counts, "access log summary")
    st.subheader(f"Entries, newest first ({min(len(shown), RECENT):,} of {len(shown):,})")
    # The role is in the summary above and in the scope: without it, the scope and filters fit the page's width.
    show_frame(shown.iloc[::-1].head(RECENT).drop(columns="role"), "access log")

st.subheader("Roles file")
roles = session.configured_roles()
if roles is None:
    st.info("No roles file is set (PCR_ROLES_FILE): without sign-in the dashboards have one local program manager.")
    st.stop()
firms_in_data = set(ctx.data.aggregate("fct_cases", FIRM_COLUMN, with_margins=False).numeric.index.astype(str)) - {NONE_LABEL}
partners = {email: entry.firm for email, entry in roles.users.items() if entry.role is Role.PARTNER}
unmatched = sorted({firm for firm in partners.values() if firm not in firms_in_data})
counted = {role: sum(e.role is role for e in roles.users.values()) for role in Role}
st.caption(f"`{roles.path}`: " + ", ".join(
    f"{n} {ROLE_WORDS[role.value]}{'' if n == 1 else 's'}" for role, n in counted.items()))
if unmatched:
    st.warning("Partner firms of the roles file with no case in the published data (a firm new to the program, or a "
               "name spelled unlike the exports; those partners see empty pages): " + "; ".join(unmatched) + ". Firms "
               "in the data: " + "; ".join(sorted(firms_in_data)) + ".")
else:
    st.info("Every partner firm of the roles file has cases in the published data.")
