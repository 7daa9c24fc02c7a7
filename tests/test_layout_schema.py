"""The JSON Schema of layout files: the shipped file is the contract's rendering, every bundled
layout passes it, and a layout's mistakes are refused by a real `pcr ingest` with the layout
file, the key path and the line it is written on."""
from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from ingest.layout_schema import SCHEMA_FILE, render
from ingest.layouts import LayoutError, layout_files, load_layout
from pcr.settings import Settings

# Each mistake sits on a known line (the number at the end of the comment).
BROKEN = """\
layout: broken
date_formats: ["%m/%d/%Y", "mm/dd/yyyy"]
files:
  motions:
    signature: ["Petition", "Count"]
    tables:
      motions:
        motion_id: "Petition"
        conviction_id: "Count"
        vehicle: {column: "Statute", clean: [{case: title}]}
        outcome: {column: "Result", blank: pendng}
        filling_date: "Filed"
        grant_ground:
          cases:
            - {when: {"Defect": yes}, then: legal_defect}
          els: unknown
values:
  outcome:
    "Won": granted
    "Lost": lost
"""
EXPECTED = [
    (2, "date_formats[1]: expected strftime codes such as '%m/%d/%Y'"),
    (10, "files.motions.tables.motions.vehicle.clean[0]: case is upper or lower"),
    (11, 'files.motions.tables.motions.outcome.blank: "pendng" is not an allowed value of outcome'),
    (12, "files.motions.tables.motions: filling_date not in the contract table motions"),
    (16, "files.motions.tables.motions.grant_ground: unknown key(s) els"),
    (20, 'values.outcome.Lost: "lost" is not an allowed value of outcome'),
]


def test_the_shipped_schema_is_the_rendering_of_the_contract():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), "run: python -m ingest.layout_schema"
    jsonschema.Draft7Validator.check_schema(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def test_every_bundled_layout_passes_the_shipped_schema():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    bundled = sorted(Settings.from_env().bundled_layouts_dir.glob("*.yml"))
    assert len(bundled) >= 3
    for path in bundled:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["booleans"] = {str(k).lower(): v for k, v in (doc.get("booleans") or {}).items()}
        jsonschema.Draft7Validator(schema).validate(doc)
        assert load_layout(path).name == doc["layout"]


def test_mistakes_name_the_layout_file_the_key_and_its_line(tmp_path, run_pcr):
    layouts = tmp_path / "layouts"
    layouts.mkdir()
    (layouts / "broken.yml").write_text(BROKEN, encoding="utf-8")
    export = tmp_path / "motions.csv"
    export.write_text("Petition,Count,Statute,Result\nM1,V1,PC 17(b),Won\n", encoding="utf-8")
    result = run_pcr("ingest", export, "--db", tmp_path / "db.duckdb", "--layouts", layouts)
    assert result.code == 1
    for line, message in EXPECTED:
        assert f"{layouts / 'broken.yml'}:{line}: {message}" in result.err, result.err
    assert "(did you mean: 'filling_date' -> 'filing_date'?)" in result.err
    assert f"{len(EXPECTED)} problems:" in result.err
    assert not (tmp_path / "db.duckdb").exists()  # refused before any database is opened


def test_a_yaml_syntax_error_names_its_line(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("layout: bad\nfiles:\n  motions:\n    signature: [a, b\n    tables: {}\n", encoding="utf-8")
    with pytest.raises(LayoutError, match=rf"^{path}:5: not readable YAML"):
        load_layout(path)


def test_a_check_of_the_loader_that_no_schema_expresses_names_its_line_too(tmp_path):
    # A regular expression without a group around the date: the loader's own check.
    text = (Settings.from_env().bundled_layouts_dir / "cms_report.yml").read_text(encoding="utf-8")
    text = text.replace(r"file_name: '_(\d{8})\.[A-Za-z]+$'", r"file_name: '_\d{8}\.[A-Za-z]+$'")
    path = tmp_path / "cms_report.yml"
    path.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.strip().startswith("file_name:"))
    with pytest.raises(LayoutError) as error:
        load_layout(path)
    assert str(error.value) == f"{path}:{line}: export_date.file_name: needs a group, in parentheses, around the date"


def test_unquoted_yes_and_no_keys_are_read_as_the_loader_reads_them(tmp_path):
    # YAML reads `true:` and `yes:` as booleans; the schema sees the words the loader uses.
    path = tmp_path / "words.yml"
    path.write_text("layout: words\nbooleans:\n  true: [CHECKED]\n  false: [UNCHECKED]\nfiles:\n  people:\n"
                    "    signature: [Ref, Opened]\n    tables:\n      clients: {client_id: Ref, intake_date: Opened}\n"
                    "values:\n  immigration_status:\n    yes: lpr\n", encoding="utf-8")
    layout = load_layout(path)
    assert "checked" in layout.true_words and layout.values["immigration_status"] == {"true": "lpr"}
    assert [p.name for p in layout_files(tmp_path)][-1] == "words.yml"
