"""The JSON Schema of layout files (ingest/layout.schema.json), built from the contract, and
reading a layout file against it.

The schema is generated from ingest/contract.py so that it names every contract table and
column, with its meaning and allowed values: an editor with a YAML language server completes
and checks a mapping as it is typed (docs/your-export.md), and `load_layout` refuses the same
mistakes with the layout file, the key and its line. `python -m ingest.layout_schema` rewrites
the shipped file; a test checks that it holds exactly this rendering.

Messages: a schema node may carry "x-message", a message for any keyword failing there (a
string) or per keyword (a mapping); it is an extension keyword, ignored by other validators.
A message that begins with the name of the key it is about is reported at the mapping that
holds the key ("clean[0]: case is upper or lower")."""
from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml

from ingest.contract import TABLE_ORDER, TABLES, Column

SCHEMA_FILE = Path(__file__).resolve().parent / "layout.schema.json"
SOURCES = ("column", "first_of", "value", "key_from", "cases", "not_available")
MAX_MESSAGES = 20

_KIND_TEXT = {"text": "text", "date": "a date", "bool": "yes/no", "number": "a number",
              "enum": "one of the allowed values", "pii_drop": "a name (PII: never stored)",
              "pii_hash": "PII: stored only as a keyed hash", "pii_dob": "a date of birth (PII: becomes age at intake)"}


class LayoutError(ValueError):
    """A mapping file is wrong (a problem for whoever wrote the YAML). Defined here, where
    layout files are first read; ingest.layouts raises it too."""


def _column_text(table: str, column: Column) -> str:
    parts = [f"{table}.{column.name}: {_KIND_TEXT[column.kind]}"]
    if column.required:
        parts.append("required")
    if column.name == TABLES[table].key:
        parts.append("the table's key")
    text = ", ".join(parts) + "."
    if column.doc:
        text += " " + column.doc
    if column.kind == "enum" and len(column.allowed) <= 12:
        text += " Allowed: " + ", ".join(column.allowed) + "."
    return text


def _constant(column: Column) -> dict:
    """What a mapping may write as a value of the column itself (value:, blank:, else:, then:,
    the target of a values: entry): the canonical value, so an editor offers it."""
    if column.kind == "enum":
        return {"enum": list(column.allowed),
                "x-message": {"enum": f"is not an allowed value of {column.name} "
                                      + ("(a California county name)" if len(column.allowed) > 12
                                         else f"(allowed: {', '.join(column.allowed)})")}}
    if column.kind == "bool":
        return {"type": ["string", "boolean", "number"],
                "description": "yes or no (or a word of the layout's booleans)."}
    if column.kind == "number":
        return {"type": ["number", "string"]}
    if column.name == "vehicle":
        return {"type": "string", "description": "A vehicle of seeds/vehicle_taxonomy.csv, e.g. 'PC 1473.7(a)(1)'."}
    return {"type": ["string", "number"]}


def _entry(table: str, column: Column) -> dict:
    """The schema of one column map entry: a source header, or a mapping saying how to make the
    value (docs/data-contract.md, "A column map entry")."""
    const = {"$ref": f"#/definitions/value.{column.name}"}
    rules: list[dict] = [
        {"$ref": "#/definitions/column_mapping"},
        {"properties": {"value": const, "blank": const, "else": const,
                        "cases": {"items": {"properties": {"then": const}}}}},
    ]
    if column.name != TABLES[table].key:
        rules.append({"not": {"required": ["key_from"]},
                      "x-message": f"key_from makes a row key: only for {TABLES[table].key}"})
    if column.required:
        rules.append({"not": {"required": ["not_available"]},
                      "x-message": "a required column cannot be not available (give it a value: or map a column)"})
    return {
        "description": _column_text(table, column),
        "if": {"type": "object"},
        "then": {"allOf": rules},
        "else": {"$ref": "#/definitions/header_entry"},
    }


def _table(table: str) -> dict:
    t = TABLES[table]
    properties = {"when_present": {
        "$ref": "#/definitions/header",
        "description": "Make a record of this table only from rows where this source column is not blank "
                       "(a wide export's rows without a conviction or motion)."}}
    properties |= {c.name: {"$ref": f"#/definitions/entry.{table}.{c.name}"} for c in t.columns}
    return {
        "description": f"{table}: {t.doc} Key: {t.key}. `same_names` when the export names its columns as the "
                       "contract does; else contract column -> source column (or a mapping).",
        "if": {"type": "string"},
        "then": {"const": "same_names", "x-message": "write same_names (columns named as in the contract) or a column map"},
        "else": {"type": "object", "additionalProperties": False, "properties": properties,
                 "x-message": {"type": "expected same_names or a column map (contract column: source column)",
                               "additionalProperties": f"{{extra}} not in the contract table {table} "
                                                       f"(its columns: {', '.join(c.name for c in t.columns)})"}},
    }


def _vocabulary(columns: list[Column]) -> dict:
    """values.<column>: source spelling -> canonical value."""
    column = columns[0]
    kinds = {c.kind for c in columns}
    text = (f"{column.name}: source value (any case) -> canonical value. The entry \"\" is the value of a blank "
            "cell.")
    if kinds <= {"enum", "text"}:
        return {"description": text, "type": "object", "additionalProperties": {"$ref": f"#/definitions/value.{column.name}"},
                "x-message": {"type": "expected a mapping of source values to canonical values"}}
    return {"description": f"{column.name} is {_KIND_TEXT[column.kind]}: only the entry \"\" (the value of a "
                           "blank cell) is read.",
            "type": "object",
            "propertyNames": {"const": "", "x-message": f"{column.name} is not a vocabulary: only the entry \"\" "
                                                        "(a blank cell) is read here (yes/no words go under booleans:)"},
            "additionalProperties": {"$ref": f"#/definitions/value.{column.name}"},
            "x-message": {"type": "expected a mapping of source values to canonical values"}}


def build_schema() -> dict:
    by_name: dict[str, list[Column]] = {}
    for table in TABLE_ORDER:
        for column in TABLES[table].columns:
            by_name.setdefault(column.name, []).append(column)
    words = {"type": "array", "items": {"type": ["string", "number", "boolean"]},
             "x-message": {"type": "expected a list of words"}}
    definitions: dict[str, dict] = {
        "header": {"type": ["string", "number"], "description": "A column name of the export's header "
                                                              "(case and surrounding spaces do not matter)."},
        "headers": {"type": "array", "minItems": 1, "items": {"$ref": "#/definitions/header"},
                    "x-message": {"type": "expected a list of source column names",
                                  "minItems": "expected a list of source column names"}},
        "header_entry": {"type": ["string", "number"],
                         "x-message": "write a source column name, or a mapping (column, first_of, value, key_from, "
                                      "cases, not_available); for a column the export does not carry write "
                                      "{not_available: true}"},
        "clean_step": {
            "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
            "description": "One clean-up step: case, strip_prefix, strip_suffix or replace.",
            "properties": {
                "case": {"enum": ["upper", "lower"], "description": "Upper- or lower-case the value.",
                         "x-message": "case is upper or lower"},
                "strip_prefix": {"type": "string", "description": "Remove this text at the start (any case)."},
                "strip_suffix": {"type": "string", "description": "Remove this text at the end (any case), "
                                                                 "e.g. ' County'."},
                "replace": {"type": "object", "required": ["pattern", "with"], "additionalProperties": False,
                            "description": "Replace every match of a regular expression.",
                            "properties": {"pattern": {"type": "string", "format": "regex"},
                                           "with": {"type": ["string", "number", "null"]}},
                            "x-message": {"required": "replace needs 'pattern' (a regular expression) and 'with'",
                                          "additionalProperties": "replace needs 'pattern' (a regular expression) "
                                                                  "and 'with'"}},
            },
            "x-message": {"minProperties": "expected one of case, strip_prefix, strip_suffix, replace",
                          "maxProperties": "one step per list item: write clean: [{strip_suffix: ...}, {case: ...}]",
                          "type": "expected one of case: ..., strip_prefix: ..., strip_suffix: ..., replace: ..."},
        },
        "column_mapping": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "column": {"$ref": "#/definitions/header", "description": "The source column."},
                "first_of": {"$ref": "#/definitions/headers",
                             "description": "The first non-blank of several source columns, in order."},
                "value": {"description": "A constant: every row gets this value."},
                "key_from": {"$ref": "#/definitions/headers",
                             "description": "Only for a table's key: a stable key made from these columns' "
                                            "values (exports without a row id)."},
                "cases": {"type": "array", "minItems": 1, "items": {"$ref": "#/definitions/case"},
                          "description": "Several columns decide the value: the first case that holds wins.",
                          "x-message": {"type": "expected a list of {when: {column: value}, then: value}",
                                        "minItems": "expected a list of {when: {column: value}, then: value}"}},
                "not_available": {"const": True, "description": "The export does not carry this column: metrics "
                                                               "that need it say 'not available'.",
                                  "x-message": "write 'not_available: true' for a column the export does not carry"},
                "blank": {"description": "The value when the cell (after clean-up) is blank."},
                "clean": {"description": "Clean-up steps applied in order before the vocabulary (values:).",
                          "if": {"type": "array"}, "then": {"items": {"$ref": "#/definitions/clean_step"}},
                          "else": {"$ref": "#/definitions/clean_step"}},
                "else": {"description": "With cases: the value when no case holds (left out: blank)."},
            },
            "oneOf": [{"required": [k]} for k in SOURCES],
            "dependencies": {"else": ["cases"]},
            "allOf": [
                {"if": {"required": ["not_available"]}, "then": {"maxProperties": 1,
                                                                 "x-message": "write 'not_available: true' alone"}},
                {"if": {"required": ["value"]}, "then": {"maxProperties": 1,
                                                         "x-message": "value gives every row the same value: "
                                                                      "blank and clean do not apply to it"}},
                {"if": {"required": ["key_from"]}, "then": {"maxProperties": 1,
                                                            "x-message": "key_from makes a key from the cells as "
                                                                         "they are: blank and clean do not apply"}},
                {"if": {"required": ["cases"]}, "then": {"not": {"required": ["clean"]},
                                                         "x-message": "cases compares the cells as they are: clean "
                                                                      "does not apply"}},
            ],
            "x-message": {"oneOf": "give exactly one of " + ", ".join(SOURCES),
                          "dependencies": "'else' goes with 'cases'"},
        },
        "case": {
            "type": "object", "required": ["when", "then"], "additionalProperties": False,
            "properties": {
                "when": {"type": "object", "minProperties": 1,
                         "description": "Source column -> a word, a list of words, or yes / no (the layout's "
                                        "yes and no words); every one must hold.",
                         "additionalProperties": {
                             "type": ["string", "number", "boolean", "array"], "minItems": 1,
                             "items": {"type": ["string", "number"]}},
                         "x-message": {"type": "expected {column: value, ...}", "minProperties": "expected {column: value, ...}"}},
                "then": {"description": "The value when the case holds."},
            },
            "x-message": {"required": "expected when: {column: value, ...} and then: value",
                          "additionalProperties": "expected when: {column: value, ...} and then: value",
                          "type": "expected when: {column: value, ...} and then: value"},
        },
        "file_kind": {
            "type": "object", "required": ["signature", "tables"], "additionalProperties": False,
            "description": "One kind of export file (or XLSX sheet): how to recognise it and the tables it makes.",
            "properties": {
                "signature": {"type": "array", "minItems": 1, "items": {"type": ["string", "number"]},
                              "description": "Header columns that identify this kind of file; the header is the "
                                             "first of the first rows that holds all of them.",
                              "x-message": {"type": "expected a list of header columns that identify the file",
                                            "minItems": "needs a signature (header columns that identify the file)"}},
                "tables": {"type": "object", "minProperties": 1, "additionalProperties": False,
                           "description": "The contract tables this kind of file makes.",
                           "properties": {t: {"$ref": f"#/definitions/table.{t}"} for t in TABLE_ORDER},
                           "x-message": {"additionalProperties": "unknown table {extra} (contract tables: {allowed})",
                                         "minProperties": "maps no tables",
                                         "type": "expected contract table: column map"}},
            },
            "x-message": {"required": "needs {missing}", "type": "expected signature: [...] and tables: {...}"},
        },
    }
    for name, columns in by_name.items():
        definitions[f"value.{name}"] = _constant(columns[0])
    for table in TABLE_ORDER:
        definitions[f"table.{table}"] = _table(table)
        for column in TABLES[table].columns:
            definitions[f"entry.{table}.{column.name}"] = _entry(table, column)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "PCR outcomes: an export layout",
        "description": "How one system's exports map onto the data contract (docs/data-contract.md).",
        "type": "object",
        "required": ["files"],
        "additionalProperties": False,
        "properties": {
            "layout": {"type": "string", "description": "The layout's name (shown in the load manifest); default: "
                                                        "the file name."},
            "description": {"type": "string", "description": "What exports this layout describes."},
            "date_formats": {"type": "array",
                             "items": {"type": "string", "pattern": "%",
                                       "x-message": {"pattern": "expected strftime codes such as '%m/%d/%Y'"}},
                             "description": "Date formats (strftime codes, e.g. '%m/%d/%Y'), tried in order; ISO "
                                            "dates are always accepted.",
                             "x-message": {"type": "expected a list of formats such as ['%m/%d/%Y']"}},
            "booleans": {"type": "object", "additionalProperties": False,
                         "description": "Extra yes and no words, on top of yes/no, y/n, true/false, t/f, 1/0, x.",
                         "properties": {"true": words, "false": words}},
            "export_date": {
                "type": "object", "required": ["file_name", "format"], "additionalProperties": False,
                "description": "Where the system puts the export date in its file names.",
                "properties": {"file_name": {"type": "string", "format": "regex",
                                             "description": "A regular expression searched in the file name; its "
                                                            "first group is the date."},
                               "format": {"type": "string", "pattern": "%",
                                          "description": "strftime codes of the group, e.g. '%m%d%Y'.",
                                          "x-message": {"pattern": "expected strftime codes such as '%m%d%Y'"}}},
                "x-message": {"required": "expected 'file_name' (a regular expression whose first group is the date) "
                                          "and 'format' (its strftime codes, e.g. '%Y%m%d')",
                              "additionalProperties": "expected only 'file_name' and 'format'"}},
            "files": {"type": "object", "minProperties": 1, "additionalProperties": {"$ref": "#/definitions/file_kind"},
                      "description": "The kinds of file this system exports, by a name of your choice.",
                      "x-message": {"minProperties": "lists no file kinds"}},
            "values": {"type": "object", "additionalProperties": False,
                       "description": "Vocabularies: per contract column, source spelling -> canonical value.",
                       "properties": {name: _vocabulary(columns) for name, columns in by_name.items()},
                       "x-message": {"additionalProperties": "{extra} is not a contract column"}},
        },
        "x-message": {"type": "a layout is a mapping with 'layout' and 'files'", "required": "a layout needs 'files'"},
        "definitions": definitions,
    }


def render() -> str:
    return json.dumps(build_schema(), indent=1, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft7Validator:
    # The contract as it is now (the shipped file is this rendering, checked by a test).
    return jsonschema.Draft7Validator(build_schema(), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


# -- reading a layout file ------------------------------------------------------------------
def _json_key(key: object) -> str:
    """A YAML key as the schema sees it: PyYAML reads unquoted true/false/yes/no keys as
    booleans, which the loader lower-cases (booleans: true:)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {_json_key(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()  # YAML reads 2024-01-01 as a date; to a layout it is text
    return value


@dataclass
class Lines:
    """Key path -> the line it is written on (1-based), from the YAML's node marks."""
    path: Path
    lines: dict[tuple, int]

    def of(self, key_path: tuple) -> int:
        while key_path not in self.lines and key_path:
            key_path = key_path[:-1]
        return self.lines.get(key_path, 1)

    def locate(self, message: str) -> str:
        """A loader message "<file>: <key path>: ..." with the key's line after the file."""
        prefix = f"{self.path}: "
        if not message.startswith(prefix):
            return message
        rest = message[len(prefix):]
        token = re.match(r"[\w\-]+(?:\.[\w\-]+|\[\d+\])*", rest)
        key_path = tuple(int(p[1:-1]) if p.startswith("[") else p
                         for p in re.findall(r"[\w\-]+|\[\d+\]", token.group(0))) if token else ()
        return f"{self.path}:{self.of(key_path)}: {rest}"


def _walk(node: yaml.Node, at: tuple, lines: dict[tuple, int], constructor: yaml.constructor.SafeConstructor) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            try:
                key = _json_key(constructor.construct_object(key_node, deep=True))
            except Exception:
                continue
            lines.setdefault(at + (key,), key_node.start_mark.line + 1)
            _walk(value_node, at + (key,), lines, constructor)
    elif isinstance(node, yaml.SequenceNode):
        for n, item in enumerate(node.value):
            lines.setdefault(at + (n,), item.start_mark.line + 1)
            _walk(item, at + (n,), lines, constructor)


def key_path_text(key_path: tuple) -> str:
    out = ""
    for part in key_path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][\w\-]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out or "(top level)"


def _message(error: jsonschema.ValidationError) -> tuple[tuple, str, tuple]:
    """(key path to report at, message, key path whose line to give) for one schema error."""
    at = tuple(error.absolute_path)
    instance, keyword, schema = error.instance, error.validator, error.schema
    custom = schema.get("x-message")
    custom = custom.get(keyword) if isinstance(custom, dict) else custom
    extra = allowed = missing = ""
    if keyword == "additionalProperties" and isinstance(instance, dict):
        known = schema.get("properties", {})
        extras = [k for k in instance if k not in known]
        extra, allowed = ", ".join(extras), ", ".join(known)
        if custom is None:
            custom = f"unknown key(s) {extra} (allowed: {allowed})"
        close = [f"{k!r} -> {c[0]!r}" for k in extras for c in [difflib.get_close_matches(k, list(known), n=1, cutoff=0.75)] if c]
        if close:
            custom += f" (did you mean: {'; '.join(close)}?)"
    if keyword == "required" and isinstance(instance, dict):
        missing = ", ".join(repr(k) for k in error.validator_value if k not in instance)
    if custom is not None:
        message = custom.format(extra=extra, allowed=allowed, missing=missing)
        if keyword == "oneOf" and isinstance(instance, dict):
            found = [k for k in SOURCES if k in instance]
            message += f" (found {', '.join(found) or 'none'})"
        if keyword == "enum" and not _names_its_key(at, message):
            message = f"{json.dumps(instance, ensure_ascii=False)} {message}"
    elif keyword == "type":
        names = {"string": "text", "number": "a number", "array": "a list", "object": "a mapping",
                 "boolean": "yes or no", "null": "nothing"}
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        message = f"expected {' or '.join(dict.fromkeys(names[w] for w in wanted))}"
    elif keyword == "required":
        message = f"missing {missing}"
    elif keyword == "enum":
        message = f"{json.dumps(instance, ensure_ascii=False)} is not one of {', '.join(map(str, error.validator_value))}"
    elif keyword == "const":
        message = f"expected {json.dumps(error.validator_value)}"
    elif keyword in ("minItems", "minProperties"):
        message = "must not be empty"
    elif keyword == "format" and error.validator_value == "regex":
        try:
            re.compile(instance)
            problem = "not valid"
        except re.error as e:
            problem = str(e)
        message = f"not a regular expression ({problem})"
    else:
        message = error.message
    if keyword == "additionalProperties" and extra:
        at_line = at + (next(k for k in instance if k not in schema.get("properties", {})),)
        return at, message, at_line
    if _names_its_key(at, message):
        return at[:-1], message, at
    return at, message, at


def _names_its_key(at: tuple, message: str) -> bool:
    return bool(at) and isinstance(at[-1], str) and bool(at[-1]) and message.startswith(at[-1] + " ")


def read_layout(path: Path) -> tuple[object, Lines]:
    """The layout file's YAML, checked against the schema, and where each key is written.
    Raises LayoutError naming the file, the line and the key of every problem found."""
    text = path.read_text(encoding="utf-8")
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        doc = loader.construct_document(root) if root is not None else None
        lines: dict[tuple, int] = {}
        if root is not None:
            _walk(root, (), lines, loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise LayoutError(f"{path}{line}: not readable YAML ({problem})") from None
    finally:
        loader.dispose()
    where = Lines(path, lines)
    if doc is None:
        raise LayoutError(f"{path}:1: the file is empty; a layout needs 'layout' and 'files'")
    found = []
    for error in _validator().iter_errors(_jsonable(doc)):
        at, message, line_at = _message(error)
        found.append((where.of(line_at), f"{path}:{where.of(line_at)}: {key_path_text(at)}: {message}"))
    if found:
        shown = [m for _, m in sorted(dict.fromkeys(found))]
        more = f"\n  ... and {len(shown) - MAX_MESSAGES} more" if len(shown) > MAX_MESSAGES else ""
        head = f"{len(shown)} problems:\n  " if len(shown) > 1 else ""
        raise LayoutError(head + "\n  ".join(shown[:MAX_MESSAGES]) + more)
    return doc, where


if __name__ == "__main__":
    SCHEMA_FILE.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}", file=sys.stderr)
