"""Which files under the paths a user gives are exports. Light on purpose (no DuckDB, no
reader): `pcr run` asks it before deciding whether anything needs loading at all."""
from __future__ import annotations

from pathlib import Path

SUFFIXES = (".csv", ".xlsx")


def export_files(inputs: list[Path]) -> tuple[list[Path], list[Path]]:
    """CSV and XLSX files under the inputs (folders recurse; Excel's `~$` lock files and other
    files are ignored), each once, and the inputs that do not exist."""
    files: list[Path] = []
    missing: list[Path] = []
    for item in inputs:
        if item.is_dir():
            files += sorted(p for p in item.rglob("*")
                            if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith("~$"))
        elif item.is_file():
            files.append(item)
        else:
            missing.append(item)
    return list(dict.fromkeys(files)), missing
