"""Where one `pcr run` spends its wall time, sampled by py-spy.

The profiled run is an extra run, not one of the timed ones (sampling slows it a little). py-spy
records every Python thread of the run and of its helper processes (pcr/groundwork.py: the dbt
build and the validation run there) with `--idle`, so time a main thread spends waiting inside
DuckDB (which runs its SQL in native threads py-spy cannot see) is counted, on the Python line
that issued the SQL. The summary keeps each process's main thread only (dbt's own worker threads
are better read per node from its run_results.json), and leaves out the run's own waiting for a
helper's answer, which the helper's samples account for. The helpers' start-up overlaps ingest,
so the stages can add up to more than the run's wall time.
"""
from __future__ import annotations

import re
import shutil
import sys
from collections import Counter
from pathlib import Path

RATE = 50  # samples per second
PROJECT_PACKAGES = ("ingest/", "pcr/", "expectations/", "dashboards/", "reports/")
STAGE_FRAMES = {"Pipeline._prepare": "prepare", "Pipeline._ingest": "ingest", "Pipeline._build": "build",
                "Pipeline._validate": "validate", "publish": "publish",
                # in the helper processes
                "_DbtWork.__init__": "dbt import and parse (helper)", "_DbtWork.build": "build",
                "_ValidationWork.__init__": "GX import (helper)", "_ValidationWork.validate": "validate"}
WAITING_FOR_A_HELPER = "_Child._answer"
FRAME = re.compile(r"^(?P<function>.+) \((?P<file>[^():]+):(?P<line>\d+)\)$")


def py_spy() -> str | None:
    here = Path(sys.executable).with_name("py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


def command(raw_out: Path, cmd: list[str]) -> list[str]:
    """`cmd` under py-spy, writing collapsed stacks (flamegraph.pl / speedscope input) to `raw_out`."""
    return [py_spy() or "py-spy", "record", "--idle", "--threads", "--subprocesses", "--rate", str(RATE),
            "--format", "raw",
            "--nonblocking", "-o", str(raw_out), "--", *cmd]


def _project_frame(frame: str) -> str | None:
    m = FRAME.match(frame)
    if not m or not m["file"].startswith(PROJECT_PACKAGES):
        return None
    return f"{m['function']} ({m['file']}:{m['line']})"


def _main_thread(frames: list[str]) -> bool:
    """With --subprocesses a stack starts `process PID:"cmd";...;thread (TID)[: name]`: a
    process's main thread has its pid as thread id."""
    processes = [f for f in frames if f.startswith("process ")]
    thread = next((f for f in frames if f.startswith("thread (")), "")
    if not processes:
        return "MainThread" in thread
    pid = processes[-1].split()[1].split(":")[0]
    return thread.startswith(f"thread ({pid})")


def summarise(raw: Path, top: int = 12) -> dict:
    """Seconds of the main threads per stage, and the project lines they waited on the longest.

    Each sample goes to the deepest frame in this project's code: the line that issued the SQL
    or called into dbt / GX / pandas."""
    stages: Counter[str] = Counter()
    lines: Counter[tuple[str, str]] = Counter()
    total = 0
    for record in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = record.rpartition(" ")
        frames = stack.split(";")
        if not count.isdigit() or not _main_thread(frames):
            continue
        frames = [f for f in frames if not f.startswith(("process ", "thread ("))]
        if any(f.startswith(WAITING_FOR_A_HELPER + " ") for f in frames):
            continue
        n = int(count)
        total += n
        names = [FRAME.match(f)["function"] if FRAME.match(f) else f for f in frames]
        stage = next((STAGE_FRAMES[f] for f in reversed(names) if f in STAGE_FRAMES), "start-up and records")
        stages[stage] += n
        own = [p for p in map(_project_frame, frames) if p]
        lines[(stage, own[-1] if own else "outside the project's code")] += n
    return {
        "rate": RATE,
        "main_thread_seconds": total / RATE,
        "stages": {s: n / RATE for s, n in stages.most_common()},
        "lines": [{"stage": s, "where": w, "seconds": n / RATE} for (s, w), n in lines.most_common(top)],
    }
