"""The access log file: who opened which dashboard page and downloaded which table or report,
when, with their role and the scope of the data shown (docs/deployment.md#the-access-log).

One JSON object per line, appended to the file the caller names (the dashboards use
``access_log.jsonl`` in the data directory, or the file ``PCR_ACCESS_LOG`` names), shown to
program managers on the Access log page. An entry names the person using the dashboards (their
sign-in e-mail) and what they looked at — a page title, a table or file name, the sidebar
filters, the scope — never a number, a row or anything about a client."""
from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from access.scope import AccessDenied, Scope, UnverifiedEmail

FIELDS = ("at", "who", "role", "viewing_as", "scope", "event", "page", "item", "filters")
EVENTS = {"page": "opened a page", "download": "downloaded", "refused": "was refused"}

_write_lock = threading.Lock()  # the dashboards' sessions are threads of one server process


class AccessLogUnavailable(RuntimeError):
    """The log file cannot be written; the message is meant for the page."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def append(entry: Mapping[str, str], path: Path) -> None:
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


def refusal_reason(refusal: AccessDenied) -> str:
    """Why a signed-in identity got no data, in a few words (the message's first clause)."""
    return "e-mail not verified" if isinstance(refusal, UnverifiedEmail) else str(refusal).split(":")[0]


def refusal_entry(email: str, reason: str) -> dict[str, str]:
    return {"at": _now(), "who": email or "(no e-mail)", "role": "none", "event": "refused", "item": reason}


def read(path: Path) -> pd.DataFrame:
    """Every entry, oldest first; a line that is not an entry (a torn last line) is skipped."""
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
