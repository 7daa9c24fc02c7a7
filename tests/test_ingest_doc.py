"""docs/data-contract.md stays in step with the code."""
from __future__ import annotations

import re

import duckdb

from ingest.docs import DOC, generated_section, render_tables
from ingest.engine import Ingestor
from ingest.layouts import load_layout, load_layouts
from pcr.settings import Settings


def test_doc_holds_exactly_the_rendered_contract_tables():
    assert generated_section(DOC.read_text(encoding="utf-8")) == render_tables()


def test_worked_example_layout_loads_its_example_files(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    example = text[text.index("### Worked example"):]
    blocks = re.findall(r"```(\w*)\n(.*?)```", example, flags=re.S)
    csv_blocks = [body for lang, body in blocks if not lang]
    yaml_block = next(body for lang, body in blocks if lang == "yaml")
    (tmp_path / "people.csv").write_text(csv_blocks[0], encoding="utf-8")
    (tmp_path / "petitions.csv").write_text(csv_blocks[1], encoding="utf-8")
    layout_file = tmp_path / "program_db.yml"
    layout_file.write_text(re.sub(r"(?m)^   ", "", yaml_block), encoding="utf-8")
    settings = Settings.from_env()
    ingestor = Ingestor(tmp_path / "db.duckdb", layouts=load_layouts() + [load_layout(layout_file)],
                        hmac_key_file=settings.hmac_key_file, memory_limit=settings.memory_limit)
    try:
        results = [ingestor.ingest_file(tmp_path / name) for name in ("people.csv", "petitions.csv")]
    finally:
        ingestor.close()
    assert [(r.status, r.sources[0].layout, r.sources[0].rows_loaded) for r in results] == [
        ("loaded", "program_db", 1), ("loaded", "program_db", 1)]
    with duckdb.connect(str(tmp_path / "db.duckdb"), read_only=True) as con:
        assert con.execute("SELECT client_id, immigration_status, county_of_residence FROM raw.clients").fetchall() == [
            ("P-17", "lpr", "Alameda")]
        assert con.execute("SELECT motion_id, vehicle, outcome FROM raw.motions").fetchall() == [
            ("PT-3", "PC 1473.7(a)(1)", "granted")]
