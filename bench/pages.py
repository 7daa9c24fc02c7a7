"""Each dashboard page's query time on a published database: `python -m bench.pages DB`.

Uses the dashboards' own render benchmark (bench/dashboard_render.py): every page runs in
Streamlit's AppTest for a program manager, a partner and a funder, with an empty query cache;
a page's time is the time its DuckDB reads took for the role that waited longest. Prints one
JSON line, {page: seconds}."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from bench.dashboard_render import app_settings, measure
from e2e.support import busiest_firm, write_roles  # tests/ is on the path once dashboard_render is imported


def main(argv: list[str]) -> int:
    db = Path(argv[0]).resolve()
    roles = write_roles(Path(tempfile.mkdtemp(prefix="pcr-bench-roles-")) / "roles.yml", busiest_firm(db))
    pages: dict[str, float] = {}
    for _role, page, _cold, _warm, queries in measure(app_settings(db, roles)):
        pages[page] = max(pages.get(page, 0.0), queries)
    print(json.dumps(pages))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
