"""Row accounting holds for messy exports: read = loaded + quarantined + duplicate, and every
quarantined row says why."""
from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import duckdb
from small_dataset import DATASET, write_layout
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.engine import Ingestor
from ingest.layouts import load_layouts
from pcr.settings import Settings

MESSY_VALUES = ["", " ", "  padded  ", "2020-13-45", "01/02/2020", "31/12/2020", "2021-02-03", "02/30/2021",
                "granted", " Denied ", "grnted", "Motion granted", "PC 1473.9", "pc 1018", "1016.5",
                "yes", "maybe", "Y", "0", "-3", "25", "7.5", "A12", "A-123-456-789", "Fresno", "Narnia"]


def _load(path: Path) -> tuple[tuple, list[tuple], set[str]]:
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "db.duckdb"
        settings = Settings.from_env()
        ingestor = Ingestor(db, layouts=load_layouts(), hmac_key_file=settings.hmac_key_file,
                            memory_limit=settings.memory_limit)
        try:
            result = ingestor.ingest_file(path)
        finally:
            ingestor.close()
        assert result.status == "loaded", result.message
        with duckdb.connect(str(db), read_only=True) as con:
            manifest = con.execute("SELECT sum(rows_read), sum(rows_loaded), sum(rows_quarantined), "
                                   "sum(rows_duplicate) FROM raw.load_manifest").fetchall()[0]
            quarantine = con.execute("SELECT line, reason, len(rules) FROM raw.quarantine").fetchall()
            tables = {t for (t,) in con.execute(
                "SELECT DISTINCT target FROM (SELECT unnest(target_tables) AS target FROM raw.quarantine)").fetchall()}
    return manifest, quarantine, tables


def _expected_duplicates(rows: list[list[str]]) -> int:
    seen, duplicates = set(), 0
    for row in rows:
        key = tuple(v.strip() or None for v in row)
        duplicates += key in seen
        seen.add(key)
    return duplicates


def _check(path: Path, rows: list[list[str]]) -> None:
    (read, loaded, quarantined, duplicate), quarantine, _ = _load(path)
    assert read == len(rows)
    assert read == loaded + quarantined + duplicate
    assert duplicate == _expected_duplicates(rows)
    assert len(quarantine) == quarantined
    lines = [line for line, _, _ in quarantine]
    assert len(set(lines)) == len(lines) and all(2 <= line <= len(rows) + 1 for line in lines)
    for line, reason, rules in quarantine:
        assert reason.startswith(f"line {line}: ") and len(reason) > len(f"line {line}: ") + 5
        assert rules >= 1


def _mutated(base: list[list[str]], picks, mutations) -> list[list[str]]:
    rows = []
    for index, changes in zip(picks, mutations):
        row = list(base[index % len(base)])
        for column, value in changes:
            row[column % len(row)] = value
        rows.append(row)
    return rows


def _rows_strategy(width: int):
    change = st.tuples(st.integers(0, width - 1), st.sampled_from(MESSY_VALUES))
    return st.integers(1, 40).flatmap(lambda n: st.tuples(
        st.lists(st.integers(0, 10), min_size=n, max_size=n),
        st.lists(st.lists(change, max_size=3), min_size=n, max_size=n)))


def _base(layout: str, kind: str, tmp: Path) -> tuple[list[str], list[list[str]]]:
    write_layout(DATASET, layout, tmp)
    with (tmp / f"{kind}.csv").open(encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    return header, rows


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


_SETTINGS = settings(max_examples=15, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@_SETTINGS
@given(data=_rows_strategy(6))
def test_messy_canonical_motions_are_fully_accounted_for(data):
    picks, mutations = data
    with tempfile.TemporaryDirectory() as d:
        header, base = _base("canonical", "motions", Path(d) / "base")
        rows = _mutated(base, picks, [[(c % len(header), v) for c, v in m] for m in mutations])
        path = Path(d) / "motions.csv"
        _write(path, header, rows)
        _check(path, rows)


@_SETTINGS
@given(data=_rows_strategy(42))
def test_messy_tracker_rows_are_fully_accounted_for(data):
    picks, mutations = data
    with tempfile.TemporaryDirectory() as d:
        header, base = _base("case_tracker", "tracker", Path(d) / "base")
        rows = _mutated(base, picks, mutations)
        path = Path(d) / "tracker.csv"
        _write(path, header, rows)
        _check(path, rows)
