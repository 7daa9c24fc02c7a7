"""What `pcr layout list|draft|check` do: the layouts in use, a first draft of a mapping from
export files, and a dry run of a mapping on export files (docs/your-export.md). Folders, the key
file and the memory limit are arguments; the command line is pcr/commands/layout.py."""
from __future__ import annotations

import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from ingest import store
from ingest.contract import TABLES
from ingest.engine import FileResult, Ingestor, collect_files
from ingest.layout_schema import SCHEMA_FILE
from ingest.layouts import BUNDLED_LAYOUTS_DIR, Layout, LayoutError, layout_files, load_layout, load_layouts
from ingest.sources import FileProblem
from ingest.transform import ident

SHOWN_VALUES = 3
SHOWN_EXAMPLES = 5
# Reasons ingest gives a value no vocabulary maps (ingest.transform: bad_value, unknown_vehicle).
UNMAPPED = re.compile(r"(?:^|: |; )([a-z_]+) '(.*?)' is not (?:an allowed value|in the vehicle taxonomy)")


def list_layouts(program_dir: Path, program_dir_origin: str, bundled_dir: Path = BUNDLED_LAYOUTS_DIR) -> int:
    """Print the layouts in use; 1 when one cannot be used. ``program_dir_origin`` says where the
    program's folder was named (--layouts, PCR_LAYOUTS_DIR, the data directory)."""
    bundled = {p.name: p for p in sorted(bundled_dir.glob("*.yml"))}
    print(f"Bundled layouts:        {bundled_dir}")
    print(f"Program's layouts:      {program_dir} (from {program_dir_origin})"
          + ("" if program_dir.is_dir() else " - no such folder yet: create it and keep your layouts there"))
    print(f"Schema for editors:     {SCHEMA_FILE}")
    failed = 0
    in_use = layout_files(program_dir, bundled_dir)
    for path in in_use:
        own = path.parent.resolve() != bundled_dir.resolve()
        origin = "program's own" if own else "bundled"
        try:
            layout = load_layout(path)
        except LayoutError as e:
            failed += 1
            print(f"\n{path.name} ({origin}, {path}): ERROR, not usable:\n  {e}")
            continue
        print(f"\n{layout.name} ({origin}, {path})")
        if own and path.name in bundled:
            print(f"  replaces the bundled {bundled[path.name]}")
        if layout.description:
            print(f"  {layout.description}")
        for kind in layout.kinds:
            tables = ", ".join(t.table for t in kind.tables)
            print(f"  {kind.kind}: signature {', '.join(repr(s) for s in kind.signature)} -> {tables}")
    replaced = [p for name, p in bundled.items() if p not in in_use]
    if replaced:
        print("\nNot used (replaced by the program's file of the same name): " + ", ".join(str(p) for p in replaced))
    if not failed:
        try:
            load_layouts(program_dir, bundled_dir)
        except LayoutError as e:
            print(f"\nERROR: {e}", file=sys.stderr)
            return 1
    if failed:
        print(f"\nERROR: {failed} layout file(s) cannot be used; ingest refuses to start until they are fixed",
              file=sys.stderr)
        return 1
    return 0


# -- draft ---------------------------------------------------------------------------------
def draft(files_given: list[Path], name: str | None, out: Path | None, layouts: Callable[[], list[Layout]]) -> int:
    """Print or write (``out``) a draft layout for the files; ``layouts``: those in use, read
    once the arguments are known to be good."""
    from ingest.layout_draft import draft_layout

    name = name or (out.stem if out else "my_export")
    if not re.fullmatch(r"[A-Za-z][\w\-]*", name):
        print(f"ERROR: --name {name!r}: use letters, digits, - and _ (e.g. my_cms)", file=sys.stderr)
        return 1
    if out is not None and out.exists():
        print(f"ERROR: {out} exists; it is never overwritten (choose another --out, or remove it)", file=sys.stderr)
        return 1
    files, missing = collect_files(files_given)
    for result in missing:
        print(f"ERROR: {result.path}: {result.message}", file=sys.stderr)
    if missing or not files:
        return 1
    try:
        text, summary = draft_layout(files, name, layouts())
    except FileProblem as e:
        print(f"ERROR: {e}", file=sys.stderr)
        return 1
    except LayoutError as e:
        print(f"ERROR: bad layout mapping: {e}", file=sys.stderr)
        return 1
    todos = sum("TODO" in line for line in text.splitlines())
    for line in summary:
        print(line, file=sys.stderr)
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    print(f"{todos} line(s) with a TODO to decide; then: pcr layout check {out or 'LAYOUT.yml'} "
          f"{' '.join(str(f) for f in files_given)}", file=sys.stderr)
    return 0


# -- check ---------------------------------------------------------------------------------
def _layouts_for_check(given: str, layouts: Callable[[], list[Layout]]) -> tuple[Layout, list[Layout]]:
    """The layout checked and every layout in use beside it (ingest reads a file with whichever
    layout's signature fits best, so the check does too). A layout file given replaces the one
    in use of the same file name or layout name."""
    candidate = Path(given)
    if candidate.suffix.lower() in (".yml", ".yaml") or candidate.exists():
        if not candidate.is_file():
            raise LayoutError(f"{candidate}: no such layout file")
        checked = load_layout(candidate)
        others = [layout for layout in layouts()
                  if layout.path.name != candidate.name and layout.name != checked.name
                  and layout.path.resolve() != candidate.resolve()]
        return checked, others + [checked]
    in_use = layouts()
    checked = next((layout for layout in in_use if layout.name == given), None)
    if checked is None:
        raise LayoutError(f"{given!r} is neither a layout file nor a layout in use "
                          f"({', '.join(layout.name for layout in in_use)})")
    return checked, in_use


def _values(con, table: str, column: str, load_id: int) -> str:
    """A few of the values a column got, as the database would hold them."""
    rows = con.execute(
        f"SELECT {ident(column)}::VARCHAR AS v, count(*) AS n FROM raw.{table} WHERE _load_id = ? AND {ident(column)} "
        f"IS NOT NULL GROUP BY 1 ORDER BY n DESC, min(_source_line) LIMIT {SHOWN_VALUES + 1}", [load_id]).fetchall()
    (filled, total), = con.execute(
        f"SELECT count({ident(column)}), count(*) FROM raw.{table} WHERE _load_id = ?", [load_id]).fetchall()
    if not rows:
        return f"blank in all {total:,}"
    shown = ", ".join(f"{v} ({n:,})" if n > 1 else v for v, n in rows[:SHOWN_VALUES])
    more = ", ..." if len(rows) > SHOWN_VALUES else ""
    return f"{shown}{more}" + (f"; blank in {total - filled:,} of {total:,}" if filled < total else "")


def _pii_values(con, table: str, column: str, kind: str, load_id: int) -> str:
    """What a PII column became, never its values."""
    if kind == "pii_drop":
        return "[name: read for nothing, never stored]"
    stored = "age_at_intake" if kind == "pii_dob" else f"{column}_hash"
    (filled, total), = con.execute(
        f"SELECT count({ident(stored)}), count(*) FROM raw.{table} WHERE _load_id = ?", [load_id]).fetchall()
    what = "an age at intake" if kind == "pii_dob" else "a keyed hash"
    return f"[redacted: stored as {what}; {filled:,} of {total:,} records have one]"


def _describe_source(con, layouts: list[Layout], load_id: int, sheet: str | None, layout_name: str,
                     kind_name: str) -> list[str]:
    layout = next(layout for layout in layouts if layout.name == layout_name)
    kind = next(k for k in layout.kinds if k.kind == kind_name)
    how = {(t, c): s for t, c, s in con.execute(
        "SELECT table_name, column_name, source FROM raw.load_columns WHERE load_id = ? AND sheet IS NOT DISTINCT FROM ?",
        [load_id, sheet]).fetchall()}
    lines = []
    for tmap in kind.tables:
        table = TABLES[tmap.table]
        for column in table.columns:
            source = how.get((tmap.table, column.name), "absent")
            if source == "absent":
                where, shown = "not mapped", ""
            elif source == "not_available":
                where, shown = "not available (the mapping says so)", ""
            else:
                spec = tmap.columns[column.name] if tmap.columns is not None else None
                where = spec.describe() if spec is not None else f"column {column.name!r}"
                if spec is not None and spec.blank is not None:
                    where += f", blank = {spec.blank!r}"
                if spec is not None and spec.clean:
                    where += ", cleaned"
                shown = (_pii_values(con, tmap.table, column.name, column.kind, load_id) if column.kind.startswith("pii")
                         else _values(con, tmap.table, column.name, load_id))
            name = f"{tmap.table}.{column.name}"
            if len(where) > 44 and shown:  # a long description: the values go on a line of their own
                lines += [f"    {name:<38} {where}", f"    {'':<38} {'':<44} {shown}"]
            else:
                lines.append(f"    {name:<38} {where:<44} {shown}".rstrip())
    return lines


def _unmapped(con, load_id: int) -> Counter:
    found: Counter = Counter()
    for (reason,) in con.execute("SELECT reason FROM raw.quarantine WHERE load_id = ?", [load_id]).fetchall():
        for column, value in set(UNMAPPED.findall(reason)):
            found[(column, value)] += 1
    return found


def _report_file(con, result: FileResult, checked: Layout, layouts: list[Layout]) -> bool:
    """Print what the mapping does with one file; whether it passes."""
    print(f"\n{result.path}")
    if result.status == "failed":
        print(f"  REFUSED: {result.message}")
        return False
    if result.status == "skipped":
        print("  the same file (same sha256) as one above: nothing more to check")
        return True
    ok = True
    for source in result.sources:
        where = f"sheet {source.sheet!r}: " if source.sheet else ""
        print(f"  {where}read as {source.layout}/{source.file_kind}: {source.rows_read:,} rows, "
              f"{source.rows_loaded:,} would load, {source.rows_quarantined:,} quarantined, "
              f"{source.rows_duplicate:,} duplicate")
        if source.layout != checked.name:
            ok = False
            print(f"  NOT READ BY {checked.name}: the signature of {source.layout}/{source.file_kind} fits this header "
                  f"better; check the signatures (pcr layout list)")
        print("  Where each contract column comes from, and a few values it gets:")
        for line in _describe_source(con, layouts, result.load_id, source.sheet, source.layout, source.file_kind):
            print(line)
    unmapped = _unmapped(con, result.load_id)
    if unmapped:
        print(f"  Values with no mapping (add them under values: in {checked.shown_path}):")
        for (column, value), n in sorted(unmapped.items(), key=lambda item: (item[0][0], -item[1], item[0][1])):
            print(f"    {column} {value!r}: {n:,} row(s)")
    quarantined = result.total("rows_quarantined")
    if quarantined:
        ok = False
        print(f"  Rows that would be quarantined: {quarantined:,}; by rule: "
              + ", ".join(f"{rule} {n:,}" for rule, n in result.quarantine_rules.most_common()))
        for example in result.quarantine_examples[:SHOWN_EXAMPLES]:
            print(f"    {example}")
    for warning in result.warnings:
        print(f"  DOUBT: {warning}")
    return ok


def check(given: str, files_given: list[Path], layouts_in_use: Callable[[], list[Layout]], *,
          hmac_key_file: Path, memory_limit: str) -> int:
    """Dry-run the layout ``given`` (a file, or the name of one in use) on the files, in memory;
    0 when every file is read and no row quarantined."""
    try:
        checked, layouts = _layouts_for_check(given, layouts_in_use)
    except LayoutError as e:
        print(f"ERROR: bad layout mapping: {e}", file=sys.stderr)
        return 1
    files, missing = collect_files(files_given)
    for result in missing:
        print(f"ERROR: {result.path}: {result.message}", file=sys.stderr)
    if not files:
        print("ERROR: no .csv or .xlsx files given", file=sys.stderr)
        return 1
    print(f"Checking layout {checked.name} ({checked.shown_path}) on {len(files)} file(s), in memory: "
          "no database file is written")
    passed = not missing
    # An in-memory database and its own spill folder: the check leaves nothing behind.
    with tempfile.TemporaryDirectory(prefix="pcr-layout-check-") as spill:
        ingestor = Ingestor(Path(":memory:"), layouts=layouts, hmac_key_file=hmac_key_file,
                            memory_limit=memory_limit)
        try:
            ingestor.con.execute(f"SET temp_directory = '{spill}'")
            results = [ingestor.ingest_file(path) for path in files]
            for result in results:
                passed &= _report_file(ingestor.con, result, checked, layouts)
            orphans = store.orphans(ingestor.con)
        finally:
            ingestor.close()
    if orphans:
        print("\nRecords whose parent is not in these files (a parent's row quarantined above, or its export "
              "not given to the check):")
        for child, parent, count in orphans:
            column = TABLES[child].parent[0]
            print(f"  {count:,} {child} record(s) whose {column} is in no {parent} record")
    print("\nResult: " + ("the mapping reads every file; nothing would be quarantined" if passed else
                          "NOT READY: a file would be refused or rows quarantined (see above)"))
    return 0 if passed else 1

