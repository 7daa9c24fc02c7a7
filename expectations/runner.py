"""Run the suites against a DuckDB file with GX Core and build Data Docs.

Importing this module imports GX (2-3 s) and compiles Data Docs' templates: the pipeline's
validation helper imports it while dbt builds.
The database is read one dataset at a time (see _Reader), its rows in memory only while GX checks them.
GX sees only the rows that could fail where expectations/pushdown.py has a plan (see README).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import great_expectations as gx
import jinja2
import pandas as pd
from great_expectations.data_context import EphemeralDataContext, set_context
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView

from expectations import collapse, marts, privacy, pushdown, staged
from expectations.dataset import BLOCKING, Dataset

SUITE_MODULES = (staged, marts, privacy)
EXAMPLE_ROWS = 3
DOCS_SITE = "pcr"
# DuckDB types that reach pandas as a nullable dtype when the column holds a NULL.
NULLABLE_DTYPE = re.compile(r"^(?:U?(?:TINYINT|SMALLINT|INTEGER|BIGINT)|BOOLEAN)$")


@dataclass
class CheckResult:
    suite: str
    dataset: str
    expectation: str  # GX expectation type
    description: str
    columns: str
    severity: str  # "blocking" or "warning"
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    examples: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    # For a dataset with a message column: the sentence of every failing row.
    messages: list[str] = field(default_factory=list)


@dataclass
class Validation:
    results: list[CheckResult]
    data_docs: Path
    rows_checked: int
    notes: list[str] = field(default_factory=list)  # what the gate could not check, and why

    @property
    def blocking_failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity == "blocking"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity == "warning"]


class _UnsavedContext(EphemeralDataContext):
    """GX's in-memory context, without saving its configuration on each change.

    An ephemeral context 'saves' its whole configuration, serialised as YAML, into an in-memory
    store that nothing reads, on every datasource change: two per dataset (its asset and its
    batch definition), 0.13 s of the 2 s validation of the samples took. The configuration
    object itself, which everything reads, is still updated by GX."""

    def _save_project_config(self) -> None:
        return None


class _CompiledTemplates(jinja2.BytecodeCache):
    """Data Docs' Jinja templates, compiled once per process.

    GX gives each part of a Data Docs site (suites, validation results, index) a Jinja
    environment of its own, made again for every build, so every build compiled each template
    it used once per part (51 compilations, two fifths of building the samples' Data Docs).
    Jinja checks a compiled template against its source before using it."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self._code:
            bucket.bytecode_from_string(self._code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED_TEMPLATES = _CompiledTemplates()


class _SharesCompiledTemplates:
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env.bytecode_cache = _COMPILED_TEMPLATES


class PageView(_SharesCompiledTemplates, DefaultJinjaPageView):
    """GX's view of a Data Docs page (a suite, a validation result), on the shared templates."""


class IndexPageView(_SharesCompiledTemplates, DefaultJinjaIndexPageView):
    """GX's view of the Data Docs index, on the shared templates."""


def _compile_data_docs_templates() -> None:
    """Compile the HTML templates now: importing this module is what the validation helper
    does while dbt builds (pcr/groundwork.py), so the validation stage does not wait for it."""
    env = PageView().env
    for name in env.list_templates(filter_func=lambda n: n.endswith(".j2") and not n.startswith("markdown_")):
        env.get_template(name)


_compile_data_docs_templates()


def _context(docs_dir: Path) -> gx.data_context.AbstractDataContext:
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,  # nothing leaves the machine
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            DOCS_SITE: {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "view": {"module_name": __name__, "class_name": IndexPageView.__name__},
                },
                "site_section_builders": {
                    section: {"view": {"module_name": __name__, "class_name": PageView.__name__}}
                    for section in ("expectations", "validations", "profiling")
                },
            }
        },
    )
    context = _UnsavedContext(project_config=config)
    # What gx.get_context does besides building it: validation definitions and suites find
    # their stores through the current context.
    set_context(context)
    return context


def _columns(expectation: gx.expectations.Expectation) -> list[str]:
    names = [getattr(expectation, a, None) for a in ("column", "column_A", "column_B")]
    return [n for n in names if n] + list(getattr(expectation, "column_list", None) or [])


def _examples(df: pd.DataFrame, dataset: Dataset, columns: list[str], index: list) -> list[dict[str, str]]:
    wanted = [c for c in dict.fromkeys([*dataset.key, *columns]) if c in df.columns]
    rows = df.loc[list(index)[:None if dataset.message else EXAMPLE_ROWS], wanted]
    return [{k: _show(v) for k, v in row.items()} for row in rows.to_dict("records")]


def _show(value: object) -> str:
    if pd.isna(value):
        return ""
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.date().isoformat()
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _hidden_value_locations(df: pd.DataFrame, dataset: Dataset, expectation) -> list[dict[str, str]]:
    """For a failed privacy regex check: which locations hold matching values, and how many.

    GX keeps counts only for these checks (so no value reaches Data Docs); this re-applies the
    expectation's own patterns, the way GX's pandas engine does (str.contains), to say where."""
    patterns = getattr(expectation, "regex_list", None) or [getattr(expectation, "regex", None)]
    if None in patterns or not dataset.key:
        return []
    values = df[expectation.column].dropna().astype(str)
    matched = pd.Series(False, index=values.index)
    for pattern in patterns:
        matched |= values.str.contains(pattern, regex=True)
    counts = df.loc[matched[matched].index].groupby(list(dataset.key)).size().sort_values(ascending=False)
    return [
        {**dict(zip(dataset.key, key if isinstance(key, tuple) else (key,))), "matching_values": str(n)}
        for key, n in counts.head(EXAMPLE_ROWS).items()
    ]


def _error_result(dataset: Dataset, expectation: gx.expectations.Expectation | None, message: str) -> CheckResult:
    return CheckResult(
        suite=dataset.suite,
        dataset=dataset.name,
        expectation=expectation.expectation_type if expectation else "query",
        description=expectation.description if expectation else "Dataset query failed",
        columns=", ".join(_columns(expectation)) if expectation else "",
        severity="blocking" if expectation is None or expectation.severity == BLOCKING else "warning",
        success=False,
        error=message,
    )


@dataclass
class _Frame:
    rows: pd.DataFrame  # what GX checks
    population: int  # rows of the dataset
    # Per expectation, when `rows` holds only the candidate rows: (element_count, rows judged)
    # over the whole population, as GX would have counted them.
    counts: list[tuple[int, int]] | None = None


class _Reader:
    """Opens `db` read-only for one dataset at a time (`with reader.dataset() as con:`).

    Opening a DuckDB connection takes ~20 ms (a new instance builds its catalog of built-in
    functions), a fifth of validation's time on the samples with one per dataset. A small
    database is read through one connection for every dataset. An open connection keeps the
    memory its worker threads freed (about 100 MB after reading the motions of 100,000), and at
    a million motions validation's peak is about 50 MB under the run's bound, so a larger
    database is read through a connection per dataset, closed after the read. Either way only
    one dataset's rows are held at a time: holding every dataset's cost gigabytes at a million
    motions."""

    # The samples' database is 15 MB, 100,000 motions' about 90 MB.
    SHARED_UP_TO_BYTES = 64 * 2**20

    def __init__(self, db: Path) -> None:
        self.db = db
        small = db.is_file() and db.stat().st_size <= self.SHARED_UP_TO_BYTES
        self._shared = duckdb.connect(str(db), read_only=True) if small else None

    @contextmanager
    def dataset(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._shared is None:
            with duckdb.connect(str(self.db), read_only=True) as con:
                yield con
            return
        try:
            yield self._shared
        finally:
            self._shared.execute("drop table if exists temp.main.population")  # left by _read

    def close(self) -> None:
        if self._shared is not None:
            self._shared.close()


def _read(con: duckdb.DuckDBPyConnection, d: Dataset, push_down: bool) -> _Frame:
    relation = con.sql(d.sql)
    types = dict(zip(relation.columns, map(str, relation.types)))
    plans = [pushdown.plan(e, types) for e in d.expectations] if push_down else []
    if not plans or None in plans:
        rows = con.execute(d.sql).df()
        return _Frame(rows, len(rows))
    # Held once in a temporary table: counting and selecting then scan it instead of running
    # the dataset's joins or aggregation twice. A newline ends the SQL: it may end in a comment.
    con.execute(f"create temporary table population as\n{d.sql}\n")
    nullable = [c for c, t in types.items() if NULLABLE_DTYPE.match(t)]
    counts = con.execute(
        "select count(*)"
        + "".join(f", count({pushdown.quote(c)})" for c in nullable)
        + "".join(f", count(*) filter (where {p.domain}), count(*) filter (where {p.domain} and {p.judged})"
                  for p in plans)
        + " from population"
    ).fetchone()
    rows = con.execute("select * from population where " + " or ".join(f"({p.candidates})" for p in plans)).df()
    # DuckDB hands an integer or boolean column with a NULL to pandas as a nullable dtype (Int64,
    # boolean) and GX compares those differently (a pd.NA can make it fail): give the candidates
    # the dtype the whole frame would have had.
    for column, non_null in zip(nullable, counts[1:]):
        dtype = rows[column].dtype
        if non_null < counts[0] and dtype.kind in "iub":
            rows[column] = rows[column].astype(
                "boolean" if dtype.kind == "b" else f"{'U' if dtype.kind == 'u' else ''}Int{dtype.itemsize * 8}"
            )
    per_plan = counts[1 + len(nullable):]
    return _Frame(rows, counts[0], list(zip(per_plan[0::2], per_plan[1::2])))


def _restate(result: dict, element_count: int, judged: int) -> None:
    """GX counted the candidate rows only: restate its counts over the whole population with
    the formulas of GX's `_format_map_output`, so Data Docs and the run record show them."""
    unexpected = result.get("unexpected_count")

    def share(n: int, of: int) -> float | None:
        return n / of * 100 if unexpected is not None and of else None

    result["element_count"] = element_count
    if "missing_count" in result:
        result["missing_count"] = element_count - judged
        result["missing_percent"] = share(element_count - judged, element_count)
        result["unexpected_percent_total"] = share(unexpected, element_count)
        result["unexpected_percent_nonmissing"] = result["unexpected_percent"] = share(unexpected, judged)
    else:
        result["unexpected_percent"] = share(unexpected, element_count)


def validate(db: Path, docs_dir: Path, today: dt.date | None = None, push_down: bool = True,
             published: Path | None = None, accept_collapse: bool = False) -> Validation:
    """Validate every suite against `db`; write Data Docs into `docs_dir` (replaced).

    `published`: the published database the collapse suite compares `db` with (None, or no
    file: a first run, checked for funnel breaks only); `accept_collapse`: its failures warn
    instead of blocking. `push_down=False` hands GX every row of every dataset: the reference
    the tests hold the pushed-down verdicts to (see expectations/pushdown.py)."""
    today = today or dt.date.today()
    previous = collapse.published_measures(published)
    reader = _Reader(db)
    try:
        with reader.dataset() as con:
            datasets = [d for module in SUITE_MODULES for d in module.datasets(con, today)]
        datasets += collapse.datasets(previous, accept_collapse)
        validation = check(db, datasets, docs_dir, push_down, reader)
    finally:
        reader.close()
    if previous and previous.note:
        validation.notes.append(previous.note)
    return validation


def check(db: Path, datasets: list[Dataset], docs_dir: Path, push_down: bool = True,
          reader: _Reader | None = None) -> Validation:
    """Check `datasets` against `db` with GX; write Data Docs into `docs_dir` (replaced).
    `reader`: what reads `db` (validate's, or one of its own when None)."""
    if reader is None:
        reader = _Reader(db)
        try:
            return check(db, datasets, docs_dir, push_down, reader)
        finally:
            reader.close()
    results: list[CheckResult] = []
    rows_checked = 0
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    shutil.rmtree(docs_dir, ignore_errors=True)
    context = _context(docs_dir)
    source = context.data_sources.add_pandas("pcr")
    for d in datasets:
        try:
            with reader.dataset() as con:
                frame = _read(con, d, push_down)
        except duckdb.Error as e:
            # A missing model or column must fail the gate, not crash the run.
            results.append(_error_result(d, None, str(e).splitlines()[0]))
            continue
        df = frame.rows
        rows_checked += frame.population
        batch = source.add_dataframe_asset(f"{d.suite}.{d.name}").add_batch_definition_whole_dataframe("all rows")
        suite = context.suites.add(gx.ExpectationSuite(name=f"{d.suite}.{d.name}", expectations=list(d.expectations)))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{d.suite}.{d.name}", data=batch, suite=suite)
        )
        outcome = definition.run(
            batch_parameters={"dataframe": df},
            result_format={
                "result_format": "SUMMARY",
                "partial_unexpected_count": (max(len(df), 1) if d.message else EXAMPLE_ROWS) if d.show_values else 0,
            },
        )
        position = {e.id: i for i, e in enumerate(suite.expectations)}
        if frame.counts:
            for r in outcome.results:
                if r.result:
                    _restate(r.result, *frame.counts[position[r.expectation_config.id]])
            _store_again(context, suite.name, outcome)
        for r in outcome.results:
            expectation = suite.expectations[position[r.expectation_config.id]]
            if r.exception_info and r.exception_info.get("raised_exception"):
                results.append(_error_result(d, expectation, r.exception_info["exception_message"]))
                continue
            columns = _columns(expectation)
            examples = ([] if r.success
                        else _examples(df, d, columns, r.result.get("partial_unexpected_index_list") or [])
                        if d.show_values
                        else _hidden_value_locations(df, d, expectation))
            results.append(
                CheckResult(
                    suite=d.suite,
                    dataset=d.name,
                    expectation=expectation.expectation_type,
                    description=expectation.description or expectation.expectation_type,
                    columns=", ".join(columns),
                    severity="blocking" if expectation.severity == BLOCKING else "warning",
                    success=bool(r.success),
                    element_count=r.result.get("element_count"),
                    unexpected_count=r.result.get("unexpected_count"),
                    examples=examples,
                    messages=[e[d.message] for e in examples if e.get(d.message)] if d.message else [],
                    # GX reports a comparison it could not make (e.g. mismatched types) as a
                    # failure with an empty result: say so rather than show "0 unexpected".
                    error=None if r.success or r.result else "GX returned no result (type mismatch?)",
                )
            )
    context.build_data_docs(site_names=[DOCS_SITE])
    return Validation(results=results, data_docs=docs_dir / "index.html", rows_checked=rows_checked)


def _store_again(context: gx.data_context.AbstractDataContext, suite_name: str, outcome) -> None:
    """Replace the results GX stored for this suite (Data Docs are built from the store)."""
    store = context.validation_results_store
    (key,) = [k for k in store.list_keys() if k.expectation_suite_identifier.name == suite_name]
    store.set(key, outcome)
