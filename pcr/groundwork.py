"""The run's dbt and Great Expectations work, in two child processes started with the run.

Importing dbt and parsing the project, and importing Great Expectations, cost seconds of
Python whatever the data (bench/findings.md). On a background thread they competed with ingest
for the interpreter; in child processes they run on cores the run's own process leaves free:
dbt's while it ingests, Great Expectations' too when there are cores enough, else while dbt
builds (see Groundwork). Each child does
its start-up once and then waits: the dbt child builds when told (on the manifest it parsed),
the validation child validates. The run's process only orchestrates,
records and publishes: it never imports dbt or Great Expectations.

One writer at a time: the parse opens no database and the imports none, so the children touch
the working database only when told to, after ingest has closed it; each child is ended before
the next step opens the file for writing.

A child dies with the run: Linux kills it when the run's process dies, even by SIGKILL, and a
child that finds its commands' pipe closed ends itself.

Protocol: the parent writes pickles to the child's stdin (its setup, then one (command, kwargs)
per request); the child answers on its stdout, in lines that begin with MARKER, among whatever
dbt or GX print, which the parent passes on as they come, in order.
"""
from __future__ import annotations

import base64
import importlib
import json
import os
import pickle
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

MARKER = b"\x1e pcr-groundwork \x1e"
PROGRESS_EVERY_SECONDS = 5.0
STOP_SECONDS = 60  # a child told to stop that has not ended by then is killed
# Models that read the clock (SQL's current date or time): what a change of day can change.
READS_THE_CLOCK = re.compile(r"\b(current_date|current_timestamp|now\s*\(|today\s*\()", re.IGNORECASE)


class GroundworkFailed(Exception):
    """A child could not do its start-up or its command, or ended: the message says why."""


# -- the run's side ------------------------------------------------------------------------------


class _Child:
    """One child process and its answers."""

    def __init__(self, role: str, setup: dict, say: Callable[[str], None]) -> None:
        self.role = role
        self._say = say
        self._answers: queue.Queue = queue.Queue()
        self._ready: tuple[str, object] | None = None
        self._asked = False
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "pcr.groundwork", role, str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, name=f"pcr-{role}-output", daemon=True).start()
        self._send(setup)

    def _send(self, value: object) -> None:
        try:
            pickle.dump(value, self._proc.stdin)
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # the child ended: _answer says how

    def _read(self) -> None:
        try:
            for line in self._proc.stdout:
                text, marker, answer = line.partition(MARKER)
                if text.strip():
                    self._say("      " + text.decode("utf-8", errors="replace").rstrip())
                if marker:
                    self._answers.put(pickle.loads(base64.b64decode(answer)))
        finally:
            self._answers.put(None)  # also when an answer cannot be read: the stage fails, never hangs
            self._proc.kill()

    def _answer(self) -> tuple[str, object]:
        answer = self._answers.get()
        if answer is None:
            self._answers.put(None)  # every later question gets the same answer
            code = self._proc.wait()
            raise GroundworkFailed(f"the {self.role} process ended unexpectedly (exit code {code})")
        return answer

    def ready(self) -> None:
        """Waits for the child's start-up; raises GroundworkFailed with its error."""
        if self._ready is None:
            self._ready = self._answer()
        kind, error = self._ready
        if error is not None:
            raise GroundworkFailed(error)

    def ask(self, command: str, **kwargs):
        self.ready()
        self._asked = True
        self._send((command, kwargs))
        kind, value = self._answer()
        if kind == "error":
            raise GroundworkFailed(value)
        return value

    def stop(self) -> None:
        """Ends the child and waits for it: its database connections are closed when this
        returns. A child never asked to work (the run failed before its stage) holds no
        database and is killed at once, even in the middle of its start-up."""
        if not self._asked:
            self._proc.kill()
        try:
            self._proc.stdin.close()  # a running child reads the end of its commands and ends
        except OSError:
            pass
        try:
            self._proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


@dataclass
class Built:
    success: bool
    counts: str  # e.g. "3 seeds success, 29 models success, 116 tests pass"
    failed_nodes: list[str]
    skipped_nodes: int
    error: str | None
    models_built: int
    models_total: int


@dataclass
class Validated:
    """expectations.runner.Validation's values, each result with the attributes of its
    CheckResult: the run's process reads them without importing Great Expectations."""
    results: list[SimpleNamespace]
    data_docs: Path
    rows_checked: int
    notes: list[str] = field(default_factory=list)

    @property
    def blocking_failures(self) -> list[SimpleNamespace]:
        return [r for r in self.results if not r.success and r.severity == "blocking"]

    @property
    def warnings(self) -> list[SimpleNamespace]:
        return [r for r in self.results if not r.success and r.severity == "warning"]


class Groundwork:
    """Starts the dbt child at once, to import dbt and parse the project for a build on `db`,
    and the validation child, which imports Great Expectations, at `validation_starts`:

    - "run": at once, beside the dbt child, on a machine with a core for each of the run's
      three processes;
    - "build": when the build is asked for. On two cores the import would compete with ingest
      and dbt's start-up; once ingest has ended, dbt's build, mostly its own Python on one
      core, leaves the other one to it;
    - "after_build": when the build has ended, so the child's memory (some 200 MB once Great
      Expectations is imported) is not added to the build's, for builds that take DuckDB to its
      memory limit (pcr.pipeline.LARGE_RUN_BYTES).

    Asked to validate before that, the child starts then."""

    def __init__(self, db: Path, work_dir: Path, settings, say: Callable[[str], None] = print,
                 validation_starts: str = "run") -> None:
        if validation_starts not in ("run", "build", "after_build"):
            raise ValueError(f"validation_starts must be run, build or after_build, not {validation_starts!r}")
        self._say = say
        self._validation_starts = validation_starts
        self._gx: _Child | None = None
        self._dbt = _Child("dbt", {"db": db, "work_dir": work_dir, "settings": settings}, say)
        if validation_starts == "run":
            try:
                self._validation()
            except BaseException:
                self._dbt.stop()
                raise

    def _validation(self) -> _Child:
        if self._gx is None:
            self._gx = _Child("validation", {}, self._say)
        return self._gx

    def build(self, select: list[str] | None = None, day_changed: bool = False, **flags) -> Built:
        """dbt build on the parsed project (`select`: dbt selectors, None: everything;
        `day_changed`: also the models that read the clock, and what depends on them); ends
        the dbt child. Raises GroundworkFailed when the parse failed or the child ended."""
        if self._validation_starts == "build":
            self._validation()
        try:
            return self._dbt.ask("build", select=select, day_changed=day_changed, flags=flags)
        finally:
            self._dbt.stop()

    def validation_ready(self) -> None:
        """Waits for the Great Expectations import; raises GroundworkFailed with its error."""
        self._validation().ready()

    def validate(self, db: Path, docs_dir: Path, published: Path, accept_collapse: bool) -> Validated:
        child = self._validation()
        try:
            value = child.ask("validate", db=db, docs_dir=docs_dir, published=published,
                              accept_collapse=accept_collapse)
        finally:
            child.stop()
        return Validated([SimpleNamespace(**r) for r in value["results"]], Path(value["data_docs"]),
                         value["rows_checked"], value["notes"])

    def stop(self) -> None:
        self._dbt.stop()
        if self._gx is not None:
            self._gx.stop()


# -- the children's side -------------------------------------------------------------------------


def _every_few_seconds(started: float):
    """A progress line for dbt's build: how many nodes are done, at most every few seconds."""
    last = started

    def say(done: int, total: int) -> None:
        nonlocal last
        now = time.perf_counter()
        if now - last >= PROGRESS_EVERY_SECONDS:
            last = now
            print(f"build: {done} of {total} nodes done, {now - started:.0f} s", flush=True)
    return say


def dbt_counts(run_results: Path) -> tuple[str, Counter]:
    """E.g. '3 seeds success, 29 models success, 116 tests pass' from dbt's run_results.json,
    and how many nodes of each kind ran."""
    try:
        results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    except (OSError, ValueError, KeyError):
        return "no dbt run results", Counter()
    # Exposures document who reads what (models/exposures.yml); dbt lists each as a no-op.
    counts = Counter((r["unique_id"].split(".")[0], r["status"]) for r in results
                     if not r["unique_id"].startswith("exposure."))
    kinds = Counter(r["unique_id"].split(".")[0] for r in results)
    return ", ".join(f"{n} {kind}s {status}" for (kind, status), n in sorted(counts.items())), kinds


class _DbtWork:
    def __init__(self, db: Path, work_dir: Path, settings) -> None:
        from pcr import dbt

        self.db, self.work_dir, self.settings = db, work_dir, settings
        self.manifest, self.error = None, None
        try:
            self.manifest = dbt.parse(db, settings, work_dir=work_dir)
        except dbt.DbtFailed as e:
            self.error = str(e)
        except Exception as e:  # noqa: BLE001 - said in the build stage, which needs the parse
            self.error = f"dbt could not parse the project: {e!r}"

    def build(self, select: list[str] | None, day_changed: bool, flags: dict) -> Built:
        from pcr import dbt

        models = [n for n in self.manifest.nodes.values() if str(n.resource_type) == "model"]
        if select is not None and day_changed:
            select = select + [f"{n.name}+" for n in models if READS_THE_CLOCK.search(n.raw_code or "")]
        result = dbt.build(self.db, self.settings, select=select, work_dir=self.work_dir, manifest=self.manifest,
                           on_node_done=_every_few_seconds(time.perf_counter()), **flags)
        counts, kinds = dbt_counts(self.work_dir / "target" / "run_results.json")
        return Built(result.success, counts, result.failed_nodes, result.skipped_nodes, result.error,
                     kinds["model"], len(models))


class _ValidationWork:
    def __init__(self) -> None:
        self.error = None
        try:
            importlib.import_module("expectations.runner")
        except Exception as e:  # noqa: BLE001 - said in the validate stage, which needs it
            self.error = f"Great Expectations could not be imported: {e!r}"

    def validate(self, db: Path, docs_dir: Path, published: Path, accept_collapse: bool) -> dict:
        import dataclasses

        from expectations.runner import validate

        v = validate(db, docs_dir, published=published, accept_collapse=accept_collapse)
        return {"results": [dataclasses.asdict(r) for r in v.results], "data_docs": str(v.data_docs),
                "rows_checked": v.rows_checked, "notes": list(v.notes)}



ROLES = {"dbt": _DbtWork, "validation": _ValidationWork}


def _end_without_teardown() -> None:
    """Ends this child without the interpreter's teardown when it holds no database file open.
    The run waits for its children to end (the build's before validation, validation's before
    the publish), and taking dbt, Great Expectations, pandas and DuckDB apart object by object
    took 0.4-0.6 s of each stage on the samples. Every answer's files are written before it is
    sent; a database still open (DuckDB writes its file as it closes) gets the normal exit."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:  # no /proc: the normal exit
        return
    held = []
    for fd in fds:
        try:
            held.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:  # the listing's own descriptor, closed since
            continue
    if any(name.endswith((".duckdb", ".duckdb.wal")) for name in held):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _die_with(parent: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the run died before the line above
        os._exit(1)


def _answer(kind: str, value: object) -> None:
    sys.stderr.flush()
    sys.stdout.flush()
    sys.stdout.buffer.write(MARKER + base64.b64encode(pickle.dumps((kind, value))) + b"\n")
    sys.stdout.buffer.flush()


def main(role: str, parent: str) -> int:
    _die_with(int(parent))
    commands = sys.stdin.buffer
    work = ROLES[role](**pickle.load(commands))
    _answer("ready", work.error)
    while True:
        try:
            command, kwargs = pickle.load(commands)
        except EOFError:  # the run is done with this child, or ended
            _end_without_teardown()
            return 0
        try:
            _answer("done", getattr(work, command)(**kwargs))
        except Exception as e:  # noqa: BLE001 - the run's stage fails with it
            _answer("error", f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    # Through the module's own name, so the answers pickle as pcr.groundwork's classes.
    from pcr.groundwork import main as child_main

    sys.exit(child_main(*sys.argv[1:]))
