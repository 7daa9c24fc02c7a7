"""Each dashboard page's query time on a published database: `python -m bench.pages DB`.

Uses the dashboards' own render benchmark (bench/dashboard_render.py): every page runs in
Streamlit's AppTest for a program manager, a partner and a funder, with an empty query cache;
a page's time is the time its DuckDB reads took for the role that waited longest. Prints one
JSON line, {page: seconds}.

`python -m bench.pages DB --browser [--rounds 3]` times the pages as a visitor waits for them
instead: `pcr dashboard` on DB and headless Chromium (bench/dashboard_render.py's browser
timing), and prints {page: {"first": s, "returning": s, "switch": s, "funder": s}}, medians of the rounds
(first load in a new browser, first load in a returning browser, switch from the page before it,
the page previewed as a funder)."""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.dashboard_render import app_settings, browser_times, measure
from e2e.support import busiest_firm, dashboard_server, write_roles  # tests/ is on the path once dashboard_render is imported


def browser(db: Path, rounds: int) -> dict[str, dict[str, float]]:
    env = dict(os.environ, PCR_DB=str(db), PCR_DATA_DIR=str(db.parent))
    for variable in ("PCR_ROLES_FILE", "PCR_SECRETS_FILE"):
        env.pop(variable, None)
    log = Path(tempfile.mkdtemp(prefix="pcr-bench-server-")) / "server.log"
    with dashboard_server(db, log, env) as url:
        times = browser_times(url, rounds=rounds)
    return {page or "overview": {kind: statistics.median(seconds) for kind, seconds in kinds.items()} for page, kinds in times.items()}


def main(argv: list[str]) -> int:
    db = Path(argv[0]).resolve()
    if "--browser" in argv:
        rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 3
        print(json.dumps(browser(db, rounds)))
        return 0
    roles = write_roles(Path(tempfile.mkdtemp(prefix="pcr-bench-roles-")) / "roles.yml", busiest_firm(db))
    pages: dict[str, float] = {}
    for _role, page, _cold, _warm, queries in measure(app_settings(db, roles)):
        pages[page] = max(pages.get(page, 0.0), queries)
    print(json.dumps(pages))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
