"""Where things live. Every path can be overridden by an environment variable."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


def data_dir() -> Path:
    """Working and published databases, run artefacts."""
    return _env_path("PCR_DATA_DIR", PROJECT_ROOT / "var")


def published_db() -> Path:
    return _env_path("PCR_DB", data_dir() / "pcr.duckdb")


def access_log() -> Path:
    """Who opened which dashboard page and downloaded what (dashboards/access_log.py)."""
    return _env_path("PCR_ACCESS_LOG", data_dir() / "access_log.jsonl")


def scratch_db() -> Path:
    """Where stand-alone `pcr ingest` / `pcr build` write: never the published file, which
    only `pcr run` replaces, after its checks pass."""
    return _env_path("PCR_SCRATCH_DB", data_dir() / "scratch.duckdb")


def hmac_key_file() -> Path:
    # Outside the project tree by default: deleting var/ must not lose the key, or the same
    # client would hash differently in the next export and de-duplication would break.
    return _env_path("PCR_HMAC_KEY_FILE", Path.home() / ".config" / "pcr" / "hmac.key")


def dbt_parse_cache() -> Path:
    """dbt's saved parse of this project, shared by every data directory (pcr.dbt)."""
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return _env_path("PCR_DBT_PARSE_CACHE", cache_home / "pcr" / "dbt-parse")


def layouts_dir() -> Path:
    """The layouts that come with the project."""
    return PROJECT_ROOT / "ingest" / "layouts"


def program_layouts_dir() -> Path:
    """A program's own layouts, beside its data and outside the installed package; one of the
    same name as a bundled layout replaces it (`--layouts DIR` on the commands overrides)."""
    return _env_path("PCR_LAYOUTS_DIR", data_dir() / "layouts")


def vehicle_taxonomy_csv() -> Path:
    return PROJECT_ROOT / "seeds" / "vehicle_taxonomy.csv"
