"""Every setting of a run, read once from the environment by the command line (`pcr`) and the
dashboards' entry script, then handed to the packages that need a part of it. No other module
reads a `PCR_*` variable: a package receives a path, a key file or a limit as an argument.

| variable | setting | default |
| --- | --- | --- |
| PCR_DATA_DIR | data_dir | `var/` in the project |
| PCR_DB | published_db | `<data_dir>/pcr.duckdb`; on the postgres target the dashboards' copy of its publish, `<data_dir>/postgres-published.duckdb` |
| PCR_SCRATCH_DB | scratch_db | `<data_dir>/scratch.duckdb` |
| PCR_ACCESS_LOG | access_log | `<data_dir>/access_log.jsonl` |
| PCR_LAYOUTS_DIR | program_layouts_dir | `<data_dir>/layouts` |
| PCR_HMAC_KEY_FILE | hmac_key_file | `~/.config/pcr/hmac.key` |
| PCR_DBT_PARSE_CACHE | dbt_parse_cache | `$XDG_CACHE_HOME/pcr/dbt-parse` |
| PCR_ROLES_FILE | roles_file | none (the dashboards' local program-manager view) |
| PCR_GRANTS_FILE | grants_file | `config/grants.yml` |
| PCR_SECRETS_FILE | secrets_file | none (Streamlit's own `.streamlit/secrets.toml`) |
| PCR_MEMORY_LIMIT | memory_limit | `1GB` |
| PCR_DBT_THREADS | dbt_threads | `2` |
| PCR_TARGET | target | `duckdb`; `postgres` builds and publishes in the PG* database (docs/postgres.md) |
| PGHOST, PGPORT, PGUSER, PGDATABASE | postgres | none (no PostgreSQL target; docs/postgres.md) |

A PostgreSQL password is no setting: dbt's profile reads `PGPASSWORD` when it connects, and
libpq reads `~/.pgpass`, so no file pcr writes holds it.
"""
from __future__ import annotations

import dataclasses
import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("duckdb", "postgres")
# The published database's file in the data directory, per target: on postgres it is the
# dashboards' and reports' copy of the PostgreSQL publish (pcr/postgres_mirror.py).
PUBLISHED_FILES = {"duckdb": "pcr.duckdb", "postgres": "postgres-published.duckdb"}


@dataclass(frozen=True)
class PostgresConnection:
    """Where dbt's `postgres` target builds (libpq's PG* variables), without the password."""
    host: str
    port: int
    user: str
    dbname: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PostgresConnection | None:
        if not env.get("PGDATABASE"):
            return None
        # libpq's own defaults: Debian's socket directory, the user running the process.
        return cls(host=env.get("PGHOST") or "/var/run/postgresql", port=int(env.get("PGPORT") or 5432),
                   user=env.get("PGUSER") or getpass.getuser(), dbname=env["PGDATABASE"])


@dataclass(frozen=True)
class Settings:
    project_root: Path
    data_dir: Path
    """Working and published databases, run records, Data Docs."""
    published_db: Path
    scratch_db: Path
    """Where stand-alone `pcr ingest` / `pcr build` write: never the published file, which only
    `pcr run` replaces, after its checks pass."""
    access_log: Path
    """Who opened which dashboard page and downloaded what."""
    hmac_key_file: Path
    """Outside the project tree by default: deleting var/ must not lose the key, or the same
    client would hash differently in the next export and de-duplication would break."""
    dbt_parse_cache: Path
    """dbt's saved parse of this project, shared by every data directory."""
    bundled_layouts_dir: Path
    program_layouts_dir: Path
    """A program's own layouts, beside its data and outside the installed package; one of the
    same name as a bundled layout replaces it."""
    roles_file: Path | None
    grants_file: Path
    secrets_file: Path | None
    memory_limit: str
    """DuckDB's memory limit for ingest and the dbt build: without one DuckDB may take 80% of
    RAM; above it, it spills to `<database>.tmp` beside the file."""
    dbt_threads: int = 2
    """dbt's threads: models built at the same time, each one DuckDB connection."""
    postgres: PostgresConnection | None = None
    """dbt's `postgres` target, when PGDATABASE is set."""
    target: str = "duckdb"
    """Where `pcr run` builds and publishes: "duckdb" (the published file) or "postgres"
    (schemas in the `postgres` database)."""
    kill_at_for_tests: str | None = None
    """A publish step at which the process kills itself (the atomic-publish tests)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def path(name: str, default: Path | None) -> Path | None:
            value = env.get(name)
            return Path(value).expanduser() if value else default

        data_dir = path("PCR_DATA_DIR", PROJECT_ROOT / "var")
        target = env.get("PCR_TARGET") or "duckdb"
        if target not in TARGETS:
            raise ValueError(f"PCR_TARGET={target!r}: expected one of {', '.join(TARGETS)}")
        cache_home = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cls(
            project_root=PROJECT_ROOT,
            data_dir=data_dir,
            published_db=path("PCR_DB", data_dir / PUBLISHED_FILES[target]),
            scratch_db=path("PCR_SCRATCH_DB", data_dir / "scratch.duckdb"),
            access_log=path("PCR_ACCESS_LOG", data_dir / "access_log.jsonl"),
            hmac_key_file=path("PCR_HMAC_KEY_FILE", Path.home() / ".config" / "pcr" / "hmac.key"),
            dbt_parse_cache=path("PCR_DBT_PARSE_CACHE", cache_home / "pcr" / "dbt-parse"),
            bundled_layouts_dir=PROJECT_ROOT / "ingest" / "layouts",
            program_layouts_dir=path("PCR_LAYOUTS_DIR", data_dir / "layouts"),
            roles_file=path("PCR_ROLES_FILE", None),
            grants_file=path("PCR_GRANTS_FILE", PROJECT_ROOT / "config" / "grants.yml"),
            secrets_file=path("PCR_SECRETS_FILE", None),
            memory_limit=env.get("PCR_MEMORY_LIMIT") or "1GB",
            dbt_threads=int(env.get("PCR_DBT_THREADS") or 2),
            postgres=PostgresConnection.from_env(env),
            kill_at_for_tests=env.get("PCR_TEST_KILL_AT") or None,
            target=target,
        )

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)

    def with_target(self, target: str | None) -> Settings:
        """These settings for a command's `--target` (None: as they are); a published database
        left at its default follows the target."""
        if target is None or target == self.target:
            return self
        default = self.data_dir / PUBLISHED_FILES[self.target]
        published = self.data_dir / PUBLISHED_FILES[target] if self.published_db == default else self.published_db
        return self.replace(target=target, published_db=published)

    def environment(self) -> dict[str, str]:
        """These settings as the variables a child process (the dashboards' Streamlit server,
        a worker) reads them back from with `from_env`."""
        values = {
            "PCR_DATA_DIR": self.data_dir, "PCR_DB": self.published_db, "PCR_SCRATCH_DB": self.scratch_db,
            "PCR_ACCESS_LOG": self.access_log, "PCR_HMAC_KEY_FILE": self.hmac_key_file,
            "PCR_DBT_PARSE_CACHE": self.dbt_parse_cache, "PCR_LAYOUTS_DIR": self.program_layouts_dir,
            "PCR_ROLES_FILE": self.roles_file, "PCR_GRANTS_FILE": self.grants_file,
            "PCR_SECRETS_FILE": self.secrets_file, "PCR_MEMORY_LIMIT": self.memory_limit,
            "PCR_DBT_THREADS": self.dbt_threads, "PCR_TARGET": self.target,
        }
        if self.postgres is not None:
            values.update(PGHOST=self.postgres.host, PGPORT=self.postgres.port, PGUSER=self.postgres.user,
                          PGDATABASE=self.postgres.dbname)
        return {name: str(value) for name, value in values.items() if value is not None}
