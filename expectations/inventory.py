"""Every check of the quality gate, one line each: dbt's data tests and unit tests (from dbt's
manifest.json) and the Great Expectations suites (from expectations/, on a built database).

A data test that checks several columns at once (macros/test_model_checks.sql) is listed as
the assertions it makes, in the same form as one generic test per assertion, so two versions of
the project that check the same things give the same lines however the tests are grouped:

    python -m expectations.inventory <manifest.json> <database> > bench/results/checks-before.txt
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from pathlib import Path

import duckdb

# The one generic test that holds several assertions of a model (macros/test_model_checks.sql).
MODEL_CHECKS = "model_checks"
# Any day: the staged suite's "not in the future" checks take it as their bound, listed as "today".
TODAY = dt.date(2000, 1, 1)


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _data_test_line(model: str, column: str, kind: str, arguments: dict, severity: str, where: str | None) -> str:
    line = (f"dbt data test | model={model} | column={column} | test={kind} | "
            f"arguments={_json(arguments)} | severity={severity.lower()}")
    return line + (f" | where={where}" if where else "")


def _rule(rule: str | dict) -> tuple[str, dict]:
    """A model_checks rule: a bare name (`not_null`) or {name: its argument(s)}."""
    if isinstance(rule, str):
        return rule, {}
    ((kind, argument),) = rule.items()
    if kind == "accepted_values":
        return kind, {"values": argument}
    if kind == "unique_combination":
        return kind, {"columns": argument}
    return kind, dict(argument)


def dbt_checks(manifest: dict) -> list[str]:
    lines = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test":
            continue
        metadata, config = node["test_metadata"], node["config"]
        model = node["attached_node"].split(".")[-1] if node.get("attached_node") else ""
        arguments = {k: v for k, v in metadata["kwargs"].items() if k not in ("model", "column_name")}
        if metadata["name"] != MODEL_CHECKS:
            lines.append(_data_test_line(model, node.get("column_name") or "", metadata["name"], arguments,
                                         config["severity"], config.get("where")))
            continue
        for column, rules in (arguments.get("columns") or {}).items():
            for rule in rules:
                kind, args = _rule(rule)
                lines.append(_data_test_line(model, column, kind, args, config["severity"], config.get("where")))
        for columns in arguments.get("unique_combinations") or []:
            lines.append(_data_test_line(model, "", "unique_combination", {"columns": columns},
                                         config["severity"], config.get("where")))
    for test in manifest.get("unit_tests", {}).values():
        # What the test feeds and expects, so a changed fixture shows as a changed line.
        fixture = hashlib.sha256(_json([test["given"], test["expect"], test.get("overrides")]).encode()).hexdigest()
        lines.append(f"dbt unit test | model={test['model']} | name={test['name']} | fixture_sha256={fixture[:16]}")
    return lines


def gx_checks(db: Path) -> list[str]:
    """The expectations of every suite as the gate builds them for `db` (the privacy suite's
    datasets depend on which text columns the marts have)."""
    import pandas as pd

    from expectations import collapse
    from expectations.dataset import BLOCKING
    from expectations.runner import SUITE_MODULES

    with duckdb.connect(str(db), read_only=True) as con:
        datasets = [d for module in SUITE_MODULES for d in module.datasets(con, TODAY)]
    datasets += collapse.datasets(None)
    today = str(pd.Timestamp(TODAY))
    lines = []
    for d in datasets:
        for e in d.expectations:
            kwargs = {k: v for k, v in e.configuration.kwargs.items() if k not in ("batch_id", "result_format")}
            shown = _json(kwargs).replace(f'"{today}"', '"today"')
            lines.append(f"gx expectation | suite={d.suite} | dataset={d.name} | expectation={e.expectation_type} | "
                         f"kwargs={shown} | severity={'blocking' if e.severity == BLOCKING else 'warning'} | "
                         f"description={e.description}")
    return lines


def checks(manifest_json: Path, db: Path) -> list[str]:
    """Every check, sorted; a check listed twice is listed twice."""
    manifest = json.loads(Path(manifest_json).read_text(encoding="utf-8"))
    return sorted(dbt_checks(manifest) + gx_checks(db))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m expectations.inventory <dbt target/manifest.json> <built database>")
    sys.stdout.write("".join(line + "\n" for line in checks(Path(sys.argv[1]), Path(sys.argv[2]))))
