"""Shared test fixtures: an isolated environment, a CLI runner, and the small hand-written
dataset of tests/small_dataset.py."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pytest

from pcr import cli
from small_dataset import DATASET


@pytest.fixture(scope="session", autouse=True)
def dbt_parse_cache(tmp_path_factory):
    """dbt's saved parse (pcr.dbt), shared by the tests of a run and its xdist workers, so only
    the first build parses the whole project; never the user's own cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PCR_DBT_PARSE_CACHE", str(tmp_path_factory.getbasetemp().parent / "pcr-dbt-parse"))
        yield


@pytest.fixture(autouse=True)
def pcr_env(tmp_path, monkeypatch):
    """Every test gets its own HMAC key and data directory: the real ones are never touched."""
    monkeypatch.setenv("PCR_HMAC_KEY_FILE", str(tmp_path / "secrets" / "hmac.key"))
    monkeypatch.setenv("PCR_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("PCR_DB", raising=False)
    monkeypatch.delenv("PCR_SCRATCH_DB", raising=False)
    return tmp_path


@dataclass
class CliRun:
    code: int
    out: str
    err: str


@pytest.fixture
def run_pcr(capsys):
    def run(*argv: str | Path) -> CliRun:
        capsys.readouterr()
        code = cli.main([str(a) for a in argv])
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)
    return run


@pytest.fixture
def dataset():
    return copy.deepcopy(DATASET)
