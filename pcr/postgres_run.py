"""`pcr run --target postgres`: the run's stages with PostgreSQL as the published database.

The stages and what they print are the DuckDB run's (pcr/pipeline.py); what differs is where
they build and what publishing is:

- prepare: take the database's run lock, drop what an earlier run left (build and retired
  schemas, pcr/publish_postgres.py), start a working copy of the DuckDB file that keeps the
  loads (<data dir>/postgres-loads.duckdb: ingest's record versions and load manifest, from
  which each run copies the raw schema).
- ingest: as on DuckDB, into that working copy (no name, date of birth or plain A-number gets
  past ingest on either engine).
- build: copy the working copy's raw schema into raw__build with COPY (ingest/postgres.py),
  then dbt builds every other schema into <schema>__build, ending with the roles, grants and
  row-level security of macros/row_security.sql. Every run builds every model: the build
  schemas start empty.
- validate: every Great Expectations suite on the build schemas (pcr/postgres_validate.py).
- publish: copy the run records (the pipeline schema of the working copy, this run's record
  among them) into pipeline__build, replace the loads file with the working copy, then rename
  the build schemas over the published ones in one transaction. A run that fails or dies before the swap commits
  leaves the published schemas as they were.
"""
from __future__ import annotations

from pathlib import Path

import psycopg2

from ingest.postgres import copy_raw_schema
from pcr import dbt
from pcr.groundwork import Built, GroundworkFailed, Validated, dbt_counts
from pcr.pipeline import Pipeline, StageFailed, _say
from pcr.publish import RunLocked, kill_point, publish, start_working_copy
from pcr.publish_postgres import BUILD_SUFFIX, BUILD_VARS, build_schema, connect, run_lock, swap, sweep
from pcr.settings import Settings

LOADS_FILE = "postgres-loads.duckdb"
REBUILD_ALL = "a run on PostgreSQL builds every schema anew"


def loads_file(settings: Settings) -> Path:
    """The DuckDB file that keeps a PostgreSQL deployment's loads (never read by a dashboard)."""
    return settings.data_dir / LOADS_FILE


class _PostgresWork:
    """The build and validate steps of a run on PostgreSQL, in this process (the interface of
    pcr.groundwork.Groundwork, which the stages call)."""

    def __init__(self, connection, working: Path, dbt_work_dir: Path, settings: Settings) -> None:
        self.connection, self.working, self.dbt_work_dir, self.settings = connection, working, dbt_work_dir, settings

    def build(self, select: list[str] | None, day_changed: bool, **flags) -> Built:
        from ingest.postgres import copy_raw_schema

        if not self.working.exists():
            raise GroundworkFailed("no loads to build from: give export files")
        try:
            copied = copy_raw_schema(self.working, self.connection, into_schema=build_schema("raw"))
        except psycopg2.Error as e:
            raise GroundworkFailed(f"copying the raw schema into PostgreSQL failed: {str(e).strip()}") from e
        _say(f"      copied {sum(copied.values()):,} rows of {len(copied)} raw table(s) into "
             f"{build_schema('raw')} with COPY")
        result = dbt.build(self.working, self.settings, dbt_vars=BUILD_VARS, work_dir=self.dbt_work_dir,
                           target=dbt.POSTGRES_TARGET, **flags)
        counts, kinds = dbt_counts(self.dbt_work_dir / "target" / "run_results.json")
        return Built(result.success, counts, result.failed_nodes, result.skipped_nodes, result.error,
                     kinds["model"], kinds["model"])

    def validate(self, db: Path, docs_dir: Path, published: Path, accept_collapse: bool) -> Validated:
        from pcr.postgres_validate import validate

        try:
            v = validate(self.connection, BUILD_SUFFIX, docs_dir, accept_collapse)
        except Exception as e:  # noqa: BLE001 - a failed read must close the gate, not crash the run
            raise GroundworkFailed(f"validation could not read the build from PostgreSQL: {e}") from e
        return Validated(v.results, v.data_docs, v.rows_checked, list(v.notes))


class PostgresPipeline(Pipeline):
    def __init__(self, exports: list[Path], fresh: bool, settings: Settings, **options) -> None:
        super().__init__(loads_file(settings).absolute(), exports, fresh, settings,
                         **{**options, "rebuild_all": REBUILD_ALL, "day_changed": False})
        self.dbt_work_dir = self.published.parent / "dbt-postgres"
        self.database = f"{settings.postgres.dbname} on {settings.postgres.host}:{settings.postgres.port}"

    def execute(self) -> int:
        kill_at = self.settings.kill_at_for_tests
        _say(f"pcr run {self.run_id}: building in PostgreSQL database {self.database}, publishing its schemas "
             "if every gate passes")
        lock = connect(self.settings.postgres)
        lock.autocommit = True
        work = connect(self.settings.postgres)
        try:
            with run_lock(lock):
                self.groundwork = _PostgresWork(work, self.working, self.dbt_work_dir, self.settings)
                failed_stage = None
                try:
                    self._prepare_postgres(work)
                    kill_point("after_prepare", kill_at)
                    self._ingest()
                    kill_point("after_ingest", kill_at)
                    self._build()
                    kill_point("after_build", kill_at)
                    self._validate()
                    kill_point("after_validate", kill_at)
                except StageFailed as e:
                    failed_stage = self.stages[-1].name
                    _say(f"\nFAILED at {failed_stage}: {e}")
                # The run's record goes into the loads file, published with it.
                self._record(failed_stage)
                kill_point("after_record", kill_at)
                if failed_stage is None:
                    try:
                        with self.stage("publish", f"renaming the build schemas over the published ones "
                                                   f"in {self.database}, in one transaction") as s:
                            # The loads first: killed or failing between the two, the kept loads
                            # are this run's validated ones and the next run publishes them.
                            # The run records the dashboards show, this run's among them.
                            copy_raw_schema(self.working, work, into_schema=build_schema("pipeline"),
                                            from_schema="pipeline")
                            publish(self.working, self.published, kill_at)
                            swap(work, self.run_id, kill_at)
                            s.detail = f"schemas raw, reference, staging, intermediate, marts of {self.database}"
                    except (psycopg2.Error, RuntimeError) as e:
                        failed_stage = "publish"
                        _say(f"\nFAILED at publish: {str(e).strip()}")
                    else:
                        self._prune_data_docs()
                self._summary(failed_stage)
                if failed_stage is None:
                    _say(f"Published the schemas of PostgreSQL database {self.database}.")
                else:
                    _say(f"The published schemas of {self.database} are unchanged; the build schemas "
                         f"(*{BUILD_SUFFIX}) stay for inspection until the next run.")
                return 0 if failed_stage is None else 1
        except RunLocked as e:
            _say(f"pcr run: refused: {e}")
            return 1
        finally:
            work.close()
            lock.close()

    def _prepare_postgres(self, connection) -> None:
        with self.stage("prepare", f"build schemas in {self.database}, working copy {self.working}") as s:
            left = sweep(connection)
            if not self.exports and (self.fresh or not self.published.exists()):
                raise StageFailed(f"no export files given and no loads kept in {self.published} to rebuild from")
            copied = start_working_copy(self.published, self.working, self.fresh)
            s.detail = ((f"dropped what an earlier run left: {', '.join(left)}; " if left else "")
                        + ("copied the kept loads" if copied else "starting from no loads"))


def run_on_postgres(args, settings: Settings) -> int:
    """`pcr run --target postgres` with the parsed arguments of `pcr run` (pcr/commands/run.py)."""
    from pcr.commands.ingest import layouts_in_use
    from pcr.freshness import current_fingerprint
    from pcr.publish import RunLock, lock_path

    if settings.postgres is None:
        _say("pcr run: the postgres target needs a database: set PGDATABASE (and PGHOST, PGPORT, PGUSER as "
             "needed; docs/postgres.md)")
        return 1
    loads = loads_file(settings)
    loads.parent.mkdir(parents=True, exist_ok=True)
    try:
        # The file lock keeps two runs from one data directory off the working copy; the
        # database's advisory lock (in execute) keeps runs from any machine apart.
        with RunLock(lock_path(loads)):
            return PostgresPipeline(list(args.paths), args.fresh, settings, exported_at=args.exported_at,
                                    accept_collapse=args.accept_collapse,
                                    fingerprint=current_fingerprint(settings.project_root),
                                    layouts=lambda: layouts_in_use(args, settings)).execute()
    except RunLocked as e:
        _say(f"pcr run: refused: {e}")
        return 1
