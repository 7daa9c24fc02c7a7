"""`python -m bench`: what the pipeline costs from 1,000 to 1,000,000 motions, against DuckDB's
own floor. See bench/README.md.

For each size it generates canonical CSV exports with `pcr samples` (cached under
var/bench/data/, regenerated when the generator (synth/) changes), then, several times, in separate
processes so each has its own peak memory:
  reference  bench/reference.sql: the headline marts by hand from the same CSV files
  read_csv   DuckDB's read_csv of the same files into tables (the ingest floor), in memory and
             into a database file
  pcr ingest ingest alone into a new database file (no dbt or GX imported beside it)
  pcr run    --fresh: ingest -> dbt build -> validation -> publish; stage times from the run
             record the pipeline writes into the published database
  dashboard  each page's queries against the published database (bench/dashboard_render.py)
With `--targets duckdb,postgres` each run also does, right after the DuckDB one, on the same
exports:
  pcr run --target postgres --fresh  into the PostgreSQL database of the PG* variables
             (docs/postgres.md): ingest -> COPY into PostgreSQL -> dbt build there -> validation
             -> the schema swap; stage times from the run record in its loads file
  copy       the dashboards' copy of that publish (pcr/postgres_mirror.py), in its own process
Start-up costs that do not grow with data are measured once, apart. At the largest size one more
run goes under py-spy (bench/profile.py), untimed. Results go to bench/results/ (README.md,
results.json, bench.png)."""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bench.common import GENERATOR, SAVED_PARSE, bench_dir
from pcr.settings import PROJECT_ROOT

SIZES = (1_000, 10_000, 100_000, 1_000_000)
SEED = 2026
RESULTS = Path(__file__).with_name("results")
STAGES = ("ingest", "build", "validate", "publish")
PYTHON = sys.executable


def default_runs(motions: int) -> int:
    return 3 if motions <= 100_000 else 1


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    output: str
    returncode: int = 0


def measure(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None,
            check: bool = True) -> Measured:
    """Run `cmd`; wall time and the peak resident memory of the process and every process it
    starts (`pcr run` does its build and validation in helper processes running beside it), so
    other processes on the machine do not count."""
    log = log or bench_dir() / "last.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                cwd=PROJECT_ROOT, start_new_session=True)
        tree = _TreeMemory(proc.pid)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)  # an interrupted bench leaves no run or helper behind
            raise
        finally:
            tree_peak_mb = tree.stop()
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(encoding="utf-8", errors="replace")
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}); output in {log}:\n{text[-3000:]}")
    # The sampled sum can miss a short peak between samples; the process's own rusage cannot.
    return Measured(seconds, max(tree_peak_mb, usage.ru_maxrss / 1024), text, proc.returncode)


class _TreeMemory:
    """Samples, every 50 ms, the resident memory of a process and all its descendants together
    (from /proc), keeping the largest sum. Pages shared between them count once per process, so
    the figure errs high, never low."""

    def __init__(self, pid: int):
        self._root = pid
        self._peak_kb = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self._peak_kb / 1024

    def _sample(self) -> None:
        while not self._done.wait(0.05):
            self._peak_kb = max(self._peak_kb, sum(_rss_kb(pid) for pid in _descendants(self._root)))


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # The parent id is the second field after the command name, which may hold spaces.
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _generator_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(GENERATOR.rglob("*.py")):
        digest.update(path.relative_to(GENERATOR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def exports(motions: int, say) -> Path:
    """Canonical CSV exports of ~`motions` motions; generated once per generator version."""
    out = bench_dir() / "data" / f"m{motions}"
    stamp = out / "bench_stamp.json"
    want = {"motions": motions, "seed": SEED,
            "synth_sha256": _generator_digest()}
    if stamp.exists() and json.loads(stamp.read_text()) == want:
        return out / "canonical" / "csv"
    say(f"  generating {motions:,} motions into {out} (cached for later runs)")
    subprocess.run([PYTHON, "-m", "pcr.cli", "samples", "--out", str(out), "--motions", str(motions),
                    "--seed", str(SEED), "--layouts", "canonical", "--formats", "csv"],
                   check=True, stdout=subprocess.DEVNULL, cwd=PROJECT_ROOT)
    stamp.write_text(json.dumps(want))
    return out / "canonical" / "csv"


def floor(what: str, export_dir: Path) -> dict:
    m = measure([PYTHON, "-m", "bench.floors", what, str(export_dir)])
    return {"seconds": json.loads(m.output.strip().splitlines()[-1])["seconds"], "wall": m.seconds,
            "peak_mb": m.peak_mb}


def pipeline_run(export_dir: Path, work: Path, target: str = "duckdb") -> dict:
    """One `pcr run --fresh` on `target`. A run that a gate stops is still measured (it did the
    work up to the gate): its stage times come from the record in the working file it leaves
    behind (on postgres, the loads file's: pcr/postgres_run.py)."""
    from pcr.postgres_run import LOADS_FILE
    from pcr.publish import working_path

    work.mkdir(parents=True, exist_ok=True)
    published = work / ("pcr.duckdb" if target == "duckdb" else LOADS_FILE)
    env = {"PCR_DATA_DIR": str(work), "PCR_TARGET": target}
    if target == "duckdb":
        env["PCR_DB"] = str(published)
    m = measure([PYTHON, "-m", "pcr.cli", "run", "--fresh", str(export_dir)], env=env, log=work / "pcr_run.log",
                check=False)
    failed = re.search(r"^FAILED at .*$", m.output, re.MULTILINE)
    if m.returncode != 0 and not failed:
        raise RuntimeError(f"pcr run crashed ({m.returncode}); output in {work / 'pcr_run.log'}:\n{m.output[-3000:]}")
    con = duckdb.connect(str(working_path(published) if failed else published), read_only=True)
    try:
        stages = dict(con.execute(
            "SELECT stage, seconds FROM pipeline.run_stages WHERE run_id = "
            "(SELECT run_id FROM pipeline.runs ORDER BY started_at DESC LIMIT 1)").fetchall())
    finally:
        con.close()
    # Publish comes after the run record is written: its time is only in the printed summary.
    publish = re.search(r"^\s*publish done in ([0-9.]+) s", m.output, re.MULTILINE)
    stages["publish"] = float(publish.group(1)) if publish else None
    return {"wall": m.seconds, "peak_mb": m.peak_mb, **{s: stages.get(s) for s in STAGES},
            "failed": failed.group(0) if failed else None}


def postgres_copy(work: Path) -> dict:
    """The dashboards' copy of the PostgreSQL publish, made anew in its own process."""
    copy = work / "postgres-published.duckdb"
    copy.unlink(missing_ok=True)
    code = ("import json, time; from pcr.settings import Settings; from pcr.postgres_mirror import copy_published; "
            "s = Settings.from_env(); copy_published(s); t = time.perf_counter(); copy_published(s); "
            "print(json.dumps({'seconds': time.perf_counter() - t}))")
    # Twice: the first pays for rendering the Kaplan-Meier macros once per project version.
    m = measure([PYTHON, "-c", code], env={"PCR_DATA_DIR": str(work), "PCR_TARGET": "postgres"},
                log=work / "copy.log")
    return {"seconds": json.loads(m.output.strip().splitlines()[-1])["seconds"], "peak_mb": m.peak_mb,
            "mb": copy.stat().st_size / 1e6}


def ingest_alone(export_dir: Path, work: Path) -> dict:
    """`pcr ingest` into a new database file: ingest without dbt and Great Expectations being
    imported beside it, as they are in `pcr run`. `seconds` is ingest's own time, as it prints it."""
    db = work / "ingest_alone.duckdb"
    db.unlink(missing_ok=True)
    m = measure([PYTHON, "-m", "pcr.cli", "ingest", "--db", str(db), str(export_dir)],
                env={"PCR_DATA_DIR": str(work)}, log=work / "pcr_ingest.log")
    own = re.search(r"; ([0-9.]+) s, [0-9,]+ rows/s", m.output)
    db.unlink(missing_ok=True)
    return {"seconds": float(own.group(1)) if own else m.seconds, "wall": m.seconds, "peak_mb": m.peak_mb}


def slowest_dbt_nodes(work: Path, top: int = 10) -> list[dict]:
    """dbt's own per-node times from the last build (it runs two threads: they overlap)."""
    run_results = work / "dbt" / "target" / "run_results.json"
    if not run_results.exists():
        return []
    nodes = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    nodes.sort(key=lambda n: n["execution_time"], reverse=True)
    return [{"node": n["unique_id"].split(".", 1)[0] + " " + n["unique_id"].split(".")[2],
             "seconds": n["execution_time"]} for n in nodes[:top]]


def profiled_run(export_dir: Path, work: Path, say) -> dict:
    """One extra, untimed `pcr run --fresh` under py-spy; the summary of where its time went.
    The collapsed stacks stay in the work folder (megabytes: not for the repository)."""
    from bench import profile

    if profile.py_spy() is None:
        return {"error": "py-spy is not installed (pip install -e '.[bench]')"}
    raw = work / "profile.txt"
    say(f"  profiling one more run with py-spy into {raw}")
    m = measure(profile.command(raw, [PYTHON, "-m", "pcr.cli", "run", "--fresh", str(export_dir)]),
                env={"PCR_DATA_DIR": str(work), "PCR_DB": str(work / "pcr.duckdb")},
                log=work / "pcr_run_profiled.log", check=False)
    if not raw.exists():
        # e.g. ptrace not permitted in this container: the timed results stand without it.
        return {"error": f"py-spy wrote no profile (exit {m.returncode}); see {work / 'pcr_run_profiled.log'}"}
    return {"file": str(raw.relative_to(PROJECT_ROOT) if raw.is_relative_to(PROJECT_ROOT) else raw),
            "wall": m.seconds, **profile.summarise(raw)}


def dashboard_pages(db: Path) -> dict[str, float]:
    """Seconds of DuckDB reads per dashboard page (bench/pages.py)."""
    m = measure([PYTHON, "-m", "bench.pages", str(db)])
    return json.loads(m.output.strip().splitlines()[-1])


def _dbt_parse(folder: Path, new: bool) -> str:
    """Python that runs pcr.dbt.parse, as `pcr run` does, for a database in a folder with its own
    work folder and shared-parse cache: `folder` itself, or (new) a new empty one inside it, so
    that nothing saved is reused."""
    where = f"Path(tempfile.mkdtemp(dir={str(folder)!r}))" if new else f"Path({str(folder)!r})"
    return ("import tempfile; from pathlib import Path; from pcr import dbt; from pcr.settings import Settings; "
            f"w = {where}; s = Settings.from_env().replace(dbt_parse_cache=w / 'cache'); "
            "dbt.parse(w / 'startup.duckdb', s, work_dir=w)")


def startup_costs() -> dict[str, float]:
    """Costs paid once per run whatever the data size, each in a fresh process."""
    baseline = min(measure([PYTHON, "-c", "pass"]).seconds for _ in range(3))
    out = {"python start": baseline}
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved"
        saved.mkdir()
        measure([PYTHON, "-c", _dbt_parse(saved, new=False)])  # leaves a saved parse, as every build does
        code = {
            "python + pcr CLI": "import pcr.cli",
            "dbt import": "import dbt.cli.main",
            "dbt import + full parse (a new checkout's first build)": _dbt_parse(Path(tmp), new=True),
            SAVED_PARSE: _dbt_parse(saved, new=False),
            "Great Expectations import": "import great_expectations",
        }
        for name, snippet in code.items():
            out[name] = min(measure([PYTHON, "-c", snippet]).seconds for _ in range(2)) - baseline
    return out


def summarise(values: list[float]) -> dict:
    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def machine() -> dict:
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 ** 2, 1), "cpu": model,
            "python": platform.python_version(), "duckdb": duckdb.__version__, "platform": platform.platform()}


def postgres_server() -> dict:
    """What the PostgreSQL runs ran on: its version and the settings that weigh on a build."""
    from pcr.publish_postgres import connect
    from pcr.settings import Settings

    pg = Settings.from_env().postgres
    if pg is None:
        raise SystemExit("--targets postgres needs a database: set PGDATABASE (and PGHOST, PGPORT, PGUSER)")
    connection = connect(pg)
    try:
        with connection.cursor() as cursor:
            out = {"where": f"{pg.host}:{pg.port}"}
            for name in ("server_version", "shared_buffers", "work_mem", "fsync", "synchronous_commit", "max_wal_size"):
                cursor.execute(f"show {name}")
                out[name] = cursor.fetchone()[0]
    finally:
        connection.close()
    return out


def bench_size(motions: int, runs: int, say, targets: tuple[str, ...] = ("duckdb",)) -> dict:
    export_dir = exports(motions, say)
    rows = json.loads((export_dir.parent.parent / "generator_manifest.json").read_text())["rows"]
    size_mb = sum(p.stat().st_size for p in export_dir.glob("*.csv")) / 1e6
    work = bench_dir() / "work" / f"m{motions}"
    samples: dict[str, list] = {}
    failures: list[str] = []
    for n in range(runs):
        say(f"  run {n + 1}/{runs}: reference, read_csv, pcr ingest, pcr run, dashboard pages")
        result = {"reference": floor("reference", export_dir), "read_csv": floor("read_csv", export_dir),
                  "read_csv_file": floor("read_csv_file", export_dir), "ingest_alone": ingest_alone(export_dir, work),
                  "pcr_run": pipeline_run(export_dir, work)}
        if "postgres" in targets:
            result["pg_run"] = pipeline_run(export_dir, work.with_name(work.name + "-postgres"), "postgres")
            pg_failed = result["pg_run"].pop("failed")
            result["pg_copy"] = {} if pg_failed else postgres_copy(work.with_name(work.name + "-postgres"))
            if pg_failed:
                failures.append(f"postgres: {pg_failed}")
        failed = result["pcr_run"].pop("failed")
        # A run stopped by a gate published nothing: the pages would read an older database.
        pages = dashboard_pages(work / "pcr.duckdb") if not failed else None
        for what, values in result.items():
            for key, value in values.items():
                samples.setdefault(f"{what}.{key}", []).append(value)
        for page, seconds in (pages or {}).items():
            samples.setdefault(f"page.{page}", []).append(seconds)
        if failed:
            failures.append(failed)
        say(f"    reference {result['reference']['seconds']:.2f} s, read_csv {result['read_csv']['seconds']:.2f} s "
            f"(into a file {result['read_csv_file']['seconds']:.2f} s), "
            f"pcr ingest {result['ingest_alone']['seconds']:.1f} s, "
            f"pcr run {result['pcr_run']['wall']:.1f} s ("
            + ", ".join(f"{s} {result['pcr_run'][s]:.1f}" for s in STAGES if result['pcr_run'][s] is not None)
            + f"), peak {result['pcr_run']['peak_mb']:.0f} MB" + (f"; {failed}" if failed else ""))
        if "pg_run" in result:
            say(f"    pcr run --target postgres {result['pg_run']['wall']:.1f} s ("
                + ", ".join(f"{s} {result['pg_run'][s]:.1f}" for s in STAGES if result['pg_run'][s] is not None)
                + f"), peak {result['pg_run']['peak_mb']:.0f} MB"
                + (f"; dashboards' copy {result['pg_copy']['seconds']:.1f} s, {result['pg_copy']['mb']:.0f} MB"
                   if result["pg_copy"] else ""))
    from bench.agreement import check

    return {"motions_requested": motions, "rows": rows, "csv_mb": round(size_mb, 1), "runs": runs,
            "load_after": os.getloadavg(), "stats": {k: summarise(v) for k, v in samples.items()},
            "failures": failures, "dbt_slowest_nodes": slowest_dbt_nodes(work),
            "reference_disagreements": None if failed else check(work / "pcr.duckdb", export_dir)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="comma-separated motion counts (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per size (default: 3 up to 100k motions, 1 above)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default: bench/results)")
    parser.add_argument("--skip-startup", action="store_true", help="do not measure the fixed start-up costs")
    parser.add_argument("--targets", default="duckdb",
                        help="comma-separated: duckdb, postgres (the PG* variables' database, which each run "
                             "replaces; docs/postgres.md) (default: %(default)s)")
    parser.add_argument("--no-profile", action="store_true",
                        help="skip the extra py-spy run at the largest size")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    if not set(targets) <= {"duckdb", "postgres"} or "duckdb" not in targets:
        parser.error("--targets: duckdb, optionally with postgres (the DuckDB run is the comparison)")

    def say(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {text}", flush=True)

    started = time.perf_counter()
    report = {"started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine(),
              "load_before": os.getloadavg(), "targets": list(targets), "sizes": {}}
    if "postgres" in targets:
        report["postgres"] = postgres_server()
    say(f"machine: {report['machine']['cores']} cores, {report['machine']['memory_gb']} GB; "
        f"load average {report['load_before'][0]:.2f}")
    if not args.skip_startup:
        say("start-up costs (fixed, whatever the data size)")
    report["startup"] = {} if args.skip_startup else startup_costs()
    for motions in sizes:
        say(f"{motions:,} motions")
        report["sizes"][str(motions)] = bench_size(motions, args.runs or default_runs(motions), say, targets)
    if sizes and not args.no_profile:
        top = max(sizes)
        report["profile"] = {"motions": top, **profiled_run(exports(top, say), bench_dir() / "work" / f"m{top}", say)}
    report["seconds"] = time.perf_counter() - started
    report["load_after"] = os.getloadavg()
    from bench.report import write_report

    write_report(report, args.out)
    say(f"done in {report['seconds'] / 60:.1f} min: {args.out / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
