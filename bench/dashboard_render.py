"""Render time of each dashboard page (not a timed test).

    .venv/bin/python bench/dashboard_render.py [--cases 100000] [--out bench/results/dashboard_render.md]

For each dataset (the sample size used by the tests, and about ``--cases`` generated cases) the
database is built with `pcr samples` + `pcr ingest` + `pcr build`, then every page is run with
AppTest for a program manager, a partner and a funder:

* **cold**: first run of the page in a fresh process cache (every query reads DuckDB);
* **warm**: the same page again (query results come from st.cache_data);
* **query**: time spent reading DuckDB during the cold run (the rest is Streamlit, pandas,
  suppression and plotly).

    .venv/bin/python bench/dashboard_render.py --browser [--cases 100000] [--out bench/results/dashboard_browser.md]

measures what a visitor waits for instead: `pcr dashboard` serves the database and headless
Chromium (/usr/bin/chromium) opens each page, three rounds:

* **first load, new browser**: a browser with nothing cached asks for the page's address; timed
  until its script run has finished, no element is stale and every Plotly chart has drawn its SVG;
* **first load, returning browser**: the same, in a new tab of a browser that has opened the
  dashboards before (Streamlit's JavaScript is served as immutable for a year, so it comes from
  the browser's cache: a visitor's usual first load of the day);
* **switch**: from clicking the next page in the sidebar until the same holds for it;
* **preview as a funder**: the program manager chooses "Funder (no grant linked)" under Preview
  as, until the same holds: the page with every table suppressed (round 1: nothing of it cached,
  as for the first funder after a publish).

Before the pages, the same measures on bench/streamlit_floor.py (the same sidebar in a bare
Streamlit app, each page its title only, or its title and one small Plotly chart): the floor that
Streamlit and Plotly set on this machine, whatever a page does.

`--work DIR` keeps the databases, so a second run measures without rebuilding them.

The median of the three rounds is reported, and the first round apart (the server's result cache
is empty for the first visitor of a new version of the data).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT), str(PROJECT / "tests")]

import duckdb  # noqa: E402
import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

import access.reader as reader  # noqa: E402
# The dashboards install their cache when dashboards.session loads: load it first, then time behind it.
import dashboards.session  # noqa: E402,F401
from dashboards.app import VIEWS  # noqa: E402
from e2e.support import FUNDER, MANAGER, PAGES, PARTNER, build_published_db, busiest_firm, write_roles  # noqa: E402
from pcr.settings import Settings  # noqa: E402

ROLES = {"program manager": MANAGER, "partner": PARTNER, "funder": FUNDER}
SAMPLE_MOTIONS = 1500
MOTIONS_PER_CASE = 2025 / 1488  # ratio of the generator (pcr samples)


class QueryClock:
    """Wall time spent in the access layer's DuckDB reads (cache misses only: a cached query
    never reaches the read), with the dashboards' cache in front as in the app."""

    def __init__(self) -> None:
        self.seconds = 0.0
        reader.cache_results(self._timed_cache)

    def _timed_cache(self, read):
        def timed(*args):
            start = time.perf_counter()
            try:
                return read(*args)
            finally:
                self.seconds += time.perf_counter() - start

        return st.cache_data(max_entries=512, show_spinner=False)(timed)


def app_settings(db: Path, roles_file: Path) -> Settings:
    """The app's settings for a bench database, from these paths alone (not the environment): the
    access log of the bench's visits goes beside the database, never into the program's own."""
    return Settings.from_env({"PCR_DATA_DIR": str(db.parent), "PCR_DB": str(db), "PCR_ROLES_FILE": str(roles_file)})


def dashboard(settings) -> None:
    """What pcr/dashboard_app.py runs, with the settings (pcr.settings.Settings) given instead of
    read from the environment. AppTest runs this function's source as the app's script, where
    only the names it imports itself exist: hence no annotation."""
    from dashboards.app import main

    main(settings)


def measure(settings: Settings) -> list[tuple[str, str, float, float, float]]:
    st.config.set_option("server.address", "127.0.0.1")
    rows, clock = [], QueryClock()
    for role, email in ROLES.items():
        at = AppTest.from_function(dashboard, args=(settings,), default_timeout=600)
        at.user = {"is_logged_in": True, "email": email, "email_verified": True}
        at.run()
        for page in PAGES:
            st.cache_data.clear()
            clock.seconds = 0.0
            start = time.perf_counter()
            at.switch_page(str(VIEWS / f"{page}.py")).run()  # absolute: the script is a temporary file
            cold, queries = time.perf_counter() - start, clock.seconds
            if at.exception:
                raise RuntimeError(f"{page} ({role}): {at.exception[0].message}")
            start = time.perf_counter()
            at.run()
            warm = time.perf_counter() - start
            rows.append((role, page, cold, warm, queries))
    return rows


# --- in a browser --------------------------------------------------------------------------------

# Page (its address under the app) and the title it shows, in the sidebar's order.
BROWSER_PAGES = [("", "Overview"), ("vacaturs", "Vacaturs by vehicle"), ("removal", "Removal avoided"),
                 ("time_to_resolution", "Time to resolution"), ("partner_firms", "Partner firms"),
                 ("data_quality", "Data quality"), ("grant_report", "Grant reports")]
# Done: the script run is over (the app's own run state, not the running indicator, which appears
# only after a delay: a run that had drawn its title but not yet its charts passed for done), nothing
# is stale, the page's title is on screen and every Plotly chart has its SVG.
_DONE = """title => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main || document.querySelector('[data-testid="stStatusWidget"]')) return false;
  const h1 = main.querySelector('h1');
  if (!h1 || h1.innerText.trim() !== title) return false;
  if (main.querySelector('[data-stale="true"]') || main.querySelector('[data-testid="stSkeleton"]')) return false;
  for (const chart of main.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    if (!chart.querySelector('.main-svg')) return false;
  }
  return true;
}"""


def _wait_done(page, title: str) -> None:
    page.wait_for_function(_DONE, arg=title, polling=25, timeout=120_000)
    # Done twice 100 ms apart: a rerun triggered by the first render (a widget's default) counts too.
    page.wait_for_timeout(100)
    page.wait_for_function(_DONE, arg=title, polling=25, timeout=120_000)


def browser_times(url: str, rounds: int = 3, pages: list[tuple[str, str]] = BROWSER_PAGES,
                  funder: bool = True) -> dict[str, dict[str, list[float]]]:
    """Seconds per page, one per round: ``first`` (a new browser opens the page: nothing cached,
    the frontend's 9 MB of JavaScript, Plotly's 4.7 MB of it included, fetched and compiled),
    ``returning`` (a new tab of a browser that opened the dashboards before: the same run of the
    page, with the JavaScript from the browser's cache), ``switch`` (from the page before it in
    ``pages``, by the sidebar) and ``funder`` (the program manager previews the page as a funder: the
    page again with every table suppressed; in round 1 nothing of it is cached yet, as for the first
    funder after a publish)."""
    from e2e.support import chromium

    times = {path: {"first": [], "returning": [], "switch": [], "funder": []} for path, _ in pages}
    for _ in range(rounds):
        for i, (path, title) in enumerate(pages):
            with chromium() as browser:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                times[path]["first"].append(_load(page, f"{url}/{path}", title))
                next_path, next_title = pages[(i + 1) % len(pages)]
                link = page.locator('[data-testid="stSidebarNav"] a', has_text=next_title).first
                start = time.perf_counter()
                link.click()
                _wait_done(page, next_title)
                times[next_path]["switch"].append(time.perf_counter() - start - 0.1)
                if funder:
                    _load(page, f"{url}/{path}", title)
                    times[path]["funder"].append(_preview_as_funder(page, title))
        with chromium() as browser:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            earlier = context.new_page()  # the earlier visit that filled the browser's cache (charts included)
            _load(earlier, f"{url}/", pages[0][1])
            earlier.close()
            for path, title in pages:
                tab = context.new_page()
                times[path]["returning"].append(_load(tab, f"{url}/{path}", title))
                tab.close()
    return times


def floor_times(rounds: int) -> dict[str, dict[str, dict[str, list[float]]]]:
    """The same measures on bench/streamlit_floor.py: the dashboards' sidebar with pages that show
    only their title, or their title and one small Plotly chart. What Streamlit and Plotly cost a
    visitor on this machine before a page draws anything of its own."""
    from e2e.support import free_port, serving

    floors = {}
    for content in ("title", "chart"):
        port = free_port()
        env = dict(os.environ, PCR_FLOOR_CONTENT=content, PCR_FLOOR_PAGES=json.dumps(BROWSER_PAGES))
        server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(PROJECT / "bench" / "streamlit_floor.py"),
                                   "--server.port", str(port), "--server.headless", "true",
                                   "--browser.gatherUsageStats", "false"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while not serving(url):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the floor app did not start")
                time.sleep(0.3)
            floors[content] = browser_times(url, rounds=rounds, funder=False)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return floors


def floor_table(floors: dict[str, dict[str, dict[str, list[float]]]]) -> list[str]:
    lines = ["| a page showing | first load, new browser, median s (range over pages) | first load, returning browser | "
             "switch |", "|---|---|---|---|"]
    for content, times in floors.items():
        cells = []
        for kind in ("first", "returning", "switch"):
            medians = [statistics.median(t[kind]) for t in times.values()]
            cells.append(f"{statistics.median(medians):.2f} ({min(medians):.2f}-{max(medians):.2f})")
        what = "its title only" if content == "title" else "its title and one small Plotly chart"
        lines.append(f"| {what} | {' | '.join(cells)} |")
    return lines


def _preview_as_funder(page, title: str) -> float:
    page.get_by_role("combobox", name="Preview as").click()
    start = time.perf_counter()
    page.get_by_role("option", name="Funder (no grant linked)").click()
    page.get_by_text("Preview: you", exact=False).first.wait_for(timeout=120_000)
    _wait_done(page, title)
    return time.perf_counter() - start - 0.1


def _load(page, address: str, title: str) -> float:
    start = time.perf_counter()
    page.goto(address)
    _wait_done(page, title)
    return time.perf_counter() - start - 0.1


def browser_table(times: dict[str, dict[str, list[float]]]) -> list[str]:
    lines = ["| page | first load, new browser, median s | round 1 s | first load, returning browser, median s | "
             "switch to it, median s | round 1 s | preview as a funder, median s | round 1 s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for path, title in BROWSER_PAGES:
        first, returning, switch, funder = (times[path][kind] for kind in ("first", "returning", "switch", "funder"))
        lines.append(f"| {title} | {statistics.median(first):.2f} | {first[0]:.2f} | {statistics.median(returning):.2f} | "
                     f"{statistics.median(switch):.2f} | {switch[0]:.2f} | {statistics.median(funder):.2f} | {funder[0]:.2f} |")
    slowest = {kind: max(statistics.median(t[kind]) for t in times.values()) for kind in ("first", "returning", "switch", "funder")}
    lines += ["", f"Slowest first load {slowest['first']:.2f} s in a new browser, {slowest['returning']:.2f} s in a "
                  f"returning one; slowest switch {slowest['switch']:.2f} s; slowest preview as a funder "
                  f"{slowest['funder']:.2f} s (medians of rounds)."]
    return lines


def browser_main(args) -> int:
    from e2e.support import dashboard_server

    work = args.work or Path(tempfile.mkdtemp(prefix="pcr-bench-"))
    datasets = {"sample": SAMPLE_MOTIONS, f"{args.motions:,} motions": args.motions}
    lines = [
        "# Dashboard pages in a browser",
        "",
        f"`bench/dashboard_render.py --browser` on {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        f"(load average {os.getloadavg()[0]:.1f} at the start), Python {platform.python_version()}, Streamlit {st.__version__}. "
        f"`pcr dashboard` (local program-manager view) and headless Chromium, {args.rounds} rounds; **first load** = address "
        "asked for until the run is over and every chart drawn, in a new browser (nothing cached) and in a new tab of a "
        "returning browser (the frontend's JavaScript cached by an earlier visit); **switch** = sidebar click from the "
        "page before it until the same; **preview as a funder** = the page again, suppressed for a funder. Round 1 is "
        "the first visitor after the server started (empty result cache). "
        "Not a timed test.",
        "",
    ]
    floors = floor_times(args.rounds)
    lines += ["## Streamlit's own floor (bench/streamlit_floor.py)", "",
              "The dashboards' sidebar of seven pages in a bare Streamlit app, each page showing only its title, or "
              "its title and one small Plotly chart; measured as the pages below.", "", *floor_table(floors), ""]
    print("\n".join(lines[-5:]), flush=True)
    for name, motions in datasets.items():
        folder = work / name.split()[0].replace(",", "")
        db = build_published_db(folder, motions=motions, full_pipeline=True)
        env = dict(os.environ, PCR_DB=str(db), PCR_DATA_DIR=str(folder / "var"))
        for variable in ("PCR_ROLES_FILE", "PCR_SECRETS_FILE"):
            env.pop(variable, None)
        with dashboard_server(db, folder / "server.log", env) as url:
            times = browser_times(url, rounds=args.rounds)
        lines += [f"## {name}", "", f"Marts: {sizes(db)}.", "", *browser_table(times), ""]
        print("\n".join(lines[-len(BROWSER_PAGES) - 6:]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def sizes(db: Path) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        counts = {t: con.execute(f"SELECT count(*) FROM marts.{t}").fetchone()[0]
                  for t in ("fct_cases", "fct_motions", "fct_time_entries", "mart_time_to_resolution_km")}
    return ", ".join(f"{t} {n:,}" for t, n in counts.items()) + f"; file {db.stat().st_size / 1e6:.0f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000, help="approximate cases of the large dataset")
    parser.add_argument("--work", type=Path, default=None, help="keep the generated databases here (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=None, help="default: bench/results/dashboard_render.md, "
                                                                "with --browser dashboard_browser.md")
    parser.add_argument("--browser", action="store_true", help="time each page in headless Chromium instead of AppTest")
    parser.add_argument("--motions", type=int, default=100_000, help="motions of the large dataset (--browser)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per page (--browser)")
    args = parser.parse_args()
    if args.browser:
        args.out = args.out or PROJECT / "bench" / "results" / "dashboard_browser.md"
        return browser_main(args)
    args.out = args.out or PROJECT / "bench" / "results" / "dashboard_render.md"
    work = args.work or Path(tempfile.mkdtemp(prefix="pcr-bench-"))
    datasets = {
        "sample": SAMPLE_MOTIONS,
        f"{args.cases:,} cases": round(args.cases * MOTIONS_PER_CASE),
    }
    lines = [
        "# Dashboard render time per page",
        "",
        f"`bench/dashboard_render.py` on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, Streamlit {st.__version__}, DuckDB {duckdb.__version__}. "
        "Seconds per page run in AppTest: **cold** = empty query cache, **warm** = same page again "
        "(cached), **query** = DuckDB reads within the cold run. Not a timed test.",
        "",
    ]
    for name, motions in datasets.items():
        folder = work / name.split()[0].replace(",", "")
        started = time.perf_counter()
        db = build_published_db(folder, motions=motions, full_pipeline=False)
        built = time.perf_counter() - started
        roles = write_roles(folder / "roles.yml", busiest_firm(db))
        print(f"{name}: database ready in {built:.0f} s ({sizes(db)})", flush=True)
        results = measure(app_settings(db, roles))
        lines += [f"## {name}", "", f"Marts: {sizes(db)}.", "",
                  "| role | page | cold s | warm s | query s |", "|---|---|---:|---:|---:|"]
        lines += [f"| {r} | {p} | {c:.2f} | {w:.2f} | {q:.2f} |" for r, p, c, w, q in results]
        cold = [c for _, _, c, _, _ in results]
        lines += ["", f"Median cold {statistics.median(cold):.2f} s, slowest {max(cold):.2f} s "
                      f"({max(results, key=lambda r: r[2])[1]}, {max(results, key=lambda r: r[2])[0]}).", ""]
        print("\n".join(lines[-len(results) - 4:]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
