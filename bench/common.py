"""What several bench modules share, in a module that imports none of them (no import circle)."""
from __future__ import annotations

from pathlib import Path

from pcr.settings import PROJECT_ROOT, Settings

SAVED_PARSE = "dbt import + parse from the saved parse (every later build)"
GENERATOR = PROJECT_ROOT / "synth"
"""The sample generator: the bench's exports are made again when a file of it changes."""


def bench_dir() -> Path:
    return Settings.from_env().data_dir / "bench"
