"""The contract's column tables for docs/data-contract.md, rendered from ingest/contract.py.

`python -m ingest.docs` rewrites the generated section of the document; a test checks the
document holds exactly this rendering, so the two cannot drift."""
from __future__ import annotations

from pathlib import Path

from ingest.contract import TABLE_ORDER, TABLES, Column

BEGIN = "<!-- BEGIN GENERATED: contract tables (python -m ingest.docs) -->"
END = "<!-- END GENERATED -->"
DOC = Path(__file__).resolve().parent.parent / "docs" / "data-contract.md"

_KIND_TEXT = {
    "text": "text",
    "date": "date",
    "bool": "yes/no",
    "number": "number",
    "enum": "one of the allowed values",
    "pii_drop": "text (PII)",
    "pii_hash": "text (PII)",
    "pii_dob": "date (PII)",
}
_STORED = {
    "pii_drop": "never stored",
    "pii_hash": "stored as `{name}_hash` (keyed HMAC-SHA256)",
    "pii_dob": "never stored; becomes `age_at_intake`",
}


def _allowed(column: Column) -> str:
    if column.name == "vehicle":
        return "a `vehicle` of seeds/vehicle_taxonomy.csv"
    if len(column.allowed) > 12:
        return "a California county name"
    return ", ".join(f"`{v}`" for v in column.allowed)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_tables() -> str:
    parts = []
    for name in TABLE_ORDER:
        table = TABLES[name]
        parts.append(f"### `{name}`\n")
        parent = f" Parent: `{table.parent[0]}` → `{table.parent[1]}`." if table.parent else ""
        parts.append(f"{table.doc} Key: `{table.key}`.{parent}\n")
        parts.append("| column | type | required | allowed values | stored | meaning |")
        parts.append("|---|---|---|---|---|---|")
        for c in table.columns:
            stored = _STORED.get(c.kind, "as given (typed)").format(name=c.name)
            parts.append(
                f"| `{c.name}` | {_KIND_TEXT[c.kind]} | {'yes' if c.required else ''} | {_cell(_allowed(c))} "
                f"| {stored} | {_cell(c.doc)} |"
            )
        if table.checks:
            parts.append("")
            parts.append("Row rules: " + "; ".join(f"`{check}`" for check in table.checks) + ".")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def generated_section(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip("\n") + "\n"


def main() -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    DOC.write_text(text[:start] + "\n" + render_tables() + text[end:], encoding="utf-8")


if __name__ == "__main__":
    main()
