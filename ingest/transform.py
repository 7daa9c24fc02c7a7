"""Set-wise mapping, parsing and validation of one source, as DuckDB SQL generated from the
layout mapping and the contract.

One pass over the source builds its work table (Source.materialise): every trimmed value
c0..cN, the typed value of each mapped contract column that parsing changes (named
"<table>.<column>"), and per contract table a flag _ok_<table> (no rule broken). Everything
else looks only at the few rows that need a closer look, in temp tables:
  <src>_cand     rows that break a rule or whose key repeats (only these can be duplicates,
                 conflicts or repeats)
  <src>_dup      rows identical (after trimming) to an earlier row
  <src>_conf_<t> later rows repeating a key: conflicts (with an error) or plain repeats
  <src>_bad      the rows to quarantine, with all their errors
  <src>_skip_<t> rows whose record is not stored in table t (duplicates, quarantined rows,
                 later rows repeating an identical record)
and the view <src>_rec_<t>: the records of table t to store, with their stored columns.
Nothing here writes to the raw schema; ingest.store does that.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import duckdb

from ingest.contract import TABLE_ORDER, TABLES, Column, Table
from ingest.layouts import DEFAULT_UNKNOWN, ISO_DATE_FORMATS, Layout, Match, norm
from ingest.privacy import normalise_a_number_sql
from ingest.sources import Source

DECIDED = ("granted", "granted_in_part", "denied")
# Excel holds at most 32,767 characters in a cell: no export holds a longer one.
MAX_CELL_CHARS = 32_767
MAX_KEY_CHARS = 64  # ids: client_id, case_id, ... (a program's ids are short)
MAX_CODE_CHARS = 200  # offense codes, firm names
# An export is dated by the day it was made; a date a day or two later is a time-zone or
# clock slip, anything later is not yet known and cannot be true.
FUTURE_TOLERANCE_DAYS = 2
# Dates that may lie after the export date: a hearing is scheduled ahead.
SCHEDULED_DATES = ("hearing_date",)
PII_KINDS = ("pii_drop", "pii_hash", "pii_dob")
MAX_AGE = 110


def lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tuple_sql(values) -> str:
    return "(" + ", ".join(lit(v) for v in values) + ")"


def _err(rule: str, table: str, condition: str, message: str) -> tuple[str, str]:
    return f"({condition})", f"{{'rule': {lit(rule)}, 'tbl': {lit(table)}, 'msg': {message}}}"


def value_type(column: Column) -> str:
    return {"date": "DATE", "pii_dob": "DATE", "bool": "BOOLEAN", "number": "DOUBLE"}.get(column.kind, "VARCHAR")


def stored_type(table: Table, name: str) -> str:
    if name == "age_at_intake":
        return "INTEGER"
    return value_type(table.column(name[: -len("_hash")] if name.endswith("_hash") else name))


def derived_from_pii(name: str) -> bool:
    """Stored columns whose values must never be shown (hashes and the age from the DOB)."""
    return name == "age_at_intake" or name.endswith("_hash")


@dataclass(frozen=True)
class SourceSql:
    source: Source
    match: Match
    vehicles: tuple[str, ...]
    exported_on: dt.date | None = None  # no date in the rows may be later (FUTURE_TOLERANCE_DAYS)

    @property
    def layout(self) -> Layout:
        return self.match.kind.layout

    @property
    def tables(self) -> list[str]:
        return [t for t in TABLE_ORDER if t in self.match.columns]

    def pii_source_columns(self) -> set[int]:
        return {
            idx
            for table, cols in self.match.columns.items()
            for canon, resolved in cols.items()
            if TABLES[table].column(canon).kind in PII_KINDS
            for idx in resolved.indices
        }

    def mapped_source_columns(self) -> list[int]:
        return sorted({idx for cols in self.match.columns.values() for r in cols.values() for idx in r.indices})

    # -- column references in the work table ------------------------------------------------
    def raw(self, table: str, column: str) -> str:
        """The source value of a contract column as its mapping makes it, before parsing: the
        trimmed cell(s), cleaned, with the value for blank (NULL if the source lacks it)."""
        resolved = self.match.columns[table].get(column)
        if resolved is None:
            return "NULL::VARCHAR"
        spec, cells = resolved.spec, [f"c{i}" for i in resolved.indices]
        if spec.source == "value":
            return lit(spec.value)
        if spec.source == "key_from":
            # A stable key from the row's own values: the same row in a later export gets the
            # same key (so it supersedes, and an identical row is a duplicate). Dates and
            # numbers count as read, not as written: 03/18/2016 in a CSV and a date cell of
            # an XLSX, or 3.0 and 3, are the same entry.
            parts = [f"coalesce(CAST({self._as_read(table, i)} AS VARCHAR), '')" for i in resolved.indices]
            return f"('k-' || left(md5({' || chr(31) || '.join(parts)}), 20))"
        if spec.source == "cases":
            branches = " ".join(f"WHEN {' AND '.join(self._holds(c, accepted) for c, accepted in self._rule_cells(rule, resolved))} "
                                f"THEN {lit(rule.then)}" for rule in spec.rules)
            value = f"CASE {branches} ELSE {lit(spec.otherwise) if spec.otherwise is not None else 'NULL'} END"
        else:
            value = f"coalesce({', '.join(self._cleaned(c, spec.clean) for c in cells)})" if len(cells) > 1 \
                else self._cleaned(cells[0], spec.clean)
        blank = spec.blank if spec.blank is not None else self.layout.values.get(column, {}).get("")
        return value if blank is None else f"coalesce({value}, {lit(blank)})"

    def _as_read(self, table: str, index: int) -> str:
        """Source column ``index`` as the table's date or number column read from it alone
        parses it; the trimmed text otherwise."""
        for name, other in self.match.columns[table].items():
            column = TABLES[table].column(name)
            if other.indices == (index,) and other.spec.source == "column" and column.kind in ("date", "number"):
                return self._parsed(column, self._cleaned(f"c{index}", other.spec.clean))
        return f"c{index}"

    @staticmethod
    def _rule_cells(rule, resolved) -> list[tuple[str, object]]:
        positions = dict(zip(resolved.spec.headers, resolved.indices))
        return [(f"c{positions[header]}", accepted) for header, accepted in rule.when]

    def _holds(self, cell: str, accepted) -> str:
        if isinstance(accepted, bool):
            words = self.layout.true_words if accepted else self.layout.false_words
            return f"lower({cell}) IN {tuple_sql(words)}"
        return f"lower({cell}) IN {tuple_sql(accepted)}"

    @staticmethod
    def _cleaned(cell: str, steps) -> str:
        if not steps:
            return cell
        value = cell
        for step in steps:
            if step.step == "case":
                value = f"{step.text}({value})"
            elif step.step == "strip_prefix":
                value = (f"CASE WHEN starts_with(lower({value}), {lit(step.text.lower())}) "
                         f"THEN substr({value}, {len(step.text) + 1}) ELSE {value} END")
            elif step.step == "strip_suffix":
                value = (f"CASE WHEN ends_with(lower({value}), {lit(step.text.lower())}) "
                         f"THEN left({value}, length({value}) - {len(step.text)}) ELSE {value} END")
            else:
                value = f"regexp_replace({value}, {lit(step.text)}, {lit(step.replacement)}, 'g')"
        return f"NULLIF(trim({value}), '')"

    @cached_property
    def typed(self) -> dict[tuple[str, str], str]:
        """(table, column) -> SQL of the typed value, for the mapped columns whose typed value
        is not simply the trimmed one; these become work table columns."""
        out = {}
        for t in self.tables:
            for column in TABLES[t].columns:
                if column.name in self.match.columns[t] and column.kind != "pii_drop":
                    raw = self.raw(t, column.name)
                    parsed = self._parsed(column, raw)
                    if parsed != raw:
                        out[(t, column.name)] = parsed
        return out

    def val(self, table: str, column: str) -> str:
        """The typed value of a contract column."""
        if (table, column) in self.typed:
            return ident(f"{table}.{column}")
        if column in self.match.columns[table] and TABLES[table].column(column).kind != "pii_drop":
            return self.raw(table, column)
        return f"NULL::{value_type(TABLES[table].column(column))}"

    def present(self, table: str) -> str:
        """Whether a row carries a record of the table (a wide row may lack some parts)."""
        tmap = next(m for m in self.match.kind.tables if m.table == table)
        if not tmap.when_present:
            return "true"
        marker = [norm(h) for h in self.source.header].index(norm(tmap.when_present))
        return f"c{marker} IS NOT NULL"

    def valid(self, table: str) -> str:
        """The row carries a record of the table that breaks no rule."""
        return f"{self.present(table)} AND _ok_{table}"

    def key(self, table: str) -> str:
        return self.val(table, TABLES[table].key)

    def stored(self, table: str) -> list[tuple[str, str]]:
        """(stored column, SQL of its value) in the order of the raw table."""
        out = []
        for name in TABLES[table].stored_columns:
            if name == "age_at_intake":
                dob, intake = self.val(table, "date_of_birth"), self.val(table, "intake_date")
                out.append((name, f"date_sub('year', {dob}, {intake})::INTEGER"))
            elif name.endswith("_hash"):
                out.append((name, self.val(table, name[:-5])))
            else:
                out.append((name, self.val(table, name)))
        return out

    # -- parsing ----------------------------------------------------------------------------
    def _date(self, raw: str) -> str:
        """The first format that parses wins. DuckDB's %Y also takes '17' as year 17, so a
        four-digit-year format only counts when it yields a four-digit year ('08/11/17' is
        then read by '%m/%d/%y' if the layout lists it). One CASE, not coalesce() over CASEs:
        DuckDB then tries a later format only on values the earlier ones did not parse (a
        failing try_strptime is ten times dearer than a succeeding one)."""
        branches = []
        for fmt in dict.fromkeys(self.layout.date_formats + ISO_DATE_FORMATS):
            parsed = f"try_strptime({raw}, {lit(fmt)})::DATE"
            parses = f"year({parsed}) >= 1000" if "%Y" in fmt else f"{parsed} IS NOT NULL"
            branches.append(f"WHEN {parses} THEN {parsed}")
        return f"CASE {' '.join(branches)} END"

    def _enum_case(self, column: Column, raw: str, allowed: tuple[str, ...], keep_unmapped: bool) -> str:
        pairs: dict[str, str] = {}
        for source_value, canonical in self.layout.values.get(column.name, {}).items():
            pairs.setdefault(source_value, canonical)
        for canonical in allowed:
            pairs.setdefault(canonical.lower(), canonical)
        if not pairs:
            return raw
        branches = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in pairs.items())
        return f"CASE lower({raw}) {branches} ELSE {raw if keep_unmapped else 'NULL'} END"

    def _parsed(self, column: Column, raw: str) -> str:
        """SQL for the typed value of `column` given its trimmed source value `raw`."""
        kind = column.kind
        if kind == "date" or kind == "pii_dob":
            return self._date(raw)
        if kind == "bool":
            return (f"CASE WHEN lower({raw}) IN {tuple_sql(self.layout.true_words)} THEN true "
                    f"WHEN lower({raw}) IN {tuple_sql(self.layout.false_words)} THEN false END")
        if kind == "number":
            return f"TRY_CAST({raw} AS DOUBLE)"
        if kind == "enum":
            return self._enum_case(column, raw, column.allowed, keep_unmapped=False)
        if column.name == "vehicle":
            return self._enum_case(column, raw, self.vehicles, keep_unmapped=False)
        if kind == "pii_hash" and column.name == "a_number":
            digits = normalise_a_number_sql(raw)
            return f"CASE WHEN regexp_full_match({digits}, '[0-9]{{8,9}}') THEN pcr_hmac(lpad({digits}, 9, '0')) END"
        if kind == "pii_hash":
            return f"pcr_hmac(upper({raw}))"
        return self._enum_case(column, raw, (), keep_unmapped=True)  # text

    # -- rules ------------------------------------------------------------------------------
    def _column_errors(self, table: Table, column: Column) -> list[tuple[str, str]]:
        name, t = column.name, table.name
        raw, val = self.raw(t, name), self.val(t, name)
        header = self.match.columns[t][name].spec.describe()
        shown = f"{lit(name + ' ')} || '''' || {raw} || ''''"
        errors = []
        if column.required:
            errors.append(_err("missing_required", t, f"{raw} IS NULL",
                               lit(f"required {name} is blank ({header})")))
        unparsed = f"{raw} IS NOT NULL AND {val} IS NULL"
        if column.kind == "date":
            errors.append(_err("bad_date", t, unparsed,
                               f"{shown} || {lit(' is not a date in the format(s) ' + ', '.join(self.layout.date_formats))}"))
        elif column.kind == "pii_dob":
            errors.append(_err("bad_date", t, unparsed, lit(f"{name} is not a date in the expected format(s) (value withheld)")))
        elif column.kind == "number":
            errors.append(_err("bad_number", t, unparsed, f"{shown} || ' is not a number'"))
        elif column.kind == "bool":
            errors.append(_err("bad_boolean", t, f"{unparsed} AND lower({raw}) NOT IN {tuple_sql(DEFAULT_UNKNOWN)}",
                               f"{shown} || {lit(' is not yes/no (add it under booleans: in ' + self.layout.shown_path + ')')}"))
        elif column.kind == "enum":
            allowed = ("a California county name" if len(column.allowed) > 12
                       else "allowed: " + ", ".join(column.allowed))
            errors.append(_err("bad_value", t, unparsed,
                               f"{shown} || {lit(f' is not an allowed value ({allowed}; or map it under values: {name} in {self.layout.shown_path})')}"))
        elif name == "vehicle":
            errors.append(_err("unknown_vehicle", t, unparsed,
                               f"{shown} || {lit(' is not in the vehicle taxonomy (seeds/vehicle_taxonomy.csv)')}"))
        elif column.kind == "pii_hash" and name == "a_number":
            errors.append(_err("bad_a_number", t, unparsed,
                               lit("a_number is not an A-number of 8-9 digits (value withheld)")))
        if t == "time_entries" and name == "hours":
            errors.append(_err("bad_hours", t, f"{val} IS NOT NULL AND NOT ({val} > 0 AND {val} <= 24)",
                               f"{shown} || ' is not in (0, 24]'"))
        return errors

    def _check_errors(self, table: Table) -> list[tuple[str, str]]:
        t = table.name
        errors = []
        for check in table.checks:
            if check == "decided_has_date":
                errors.append(_err(
                    "decided_without_date", t,
                    f"{self.val(t, 'outcome')} IN {tuple_sql(DECIDED)} AND {self.val(t, 'decision_date')} IS NULL "
                    f"AND {self.raw(t, 'decision_date')} IS NULL",
                    f"'outcome ' || {self.val(t, 'outcome')} || ' needs a decision_date'"))
                continue
            later, earlier = check.split(">=")
            errors.append(_err(
                "date_order", t, f"{self.val(t, later)} < {self.val(t, earlier)}",
                f"{lit(later + ' ')} || {self.val(t, later)} || {lit(' is before ' + earlier + ' ')} || {self.val(t, earlier)}"))
        if t == "clients":
            dob, intake = self.val(t, "date_of_birth"), self.val(t, "intake_date")
            errors.append(_err("impossible_age", t, f"{dob} > {intake}",
                               lit("date_of_birth is after intake_date (value withheld)")))
            errors.append(_err("impossible_age", t, f"date_sub('year', {dob}, {intake}) > {MAX_AGE}",
                               lit(f"age at intake from date_of_birth is over {MAX_AGE} (value withheld)")))
        return errors

    def _cell_errors(self, table: str) -> list[tuple[str, str]]:
        """Damage in any cell of the row, mapped or not: a NUL byte, a cell longer than any
        export holds. The row is quarantined whole, so these go with its first table."""
        errors = []
        nul_possible = self.source.facts is None or self.source.facts.nul_bytes > 0
        for i, header in enumerate(self.source.header):
            named = lit(f"column {header.strip()!r}")
            if nul_possible:
                errors.append(_err("damaged_cell", table, f"contains(c{i}, chr(0))",
                                   f"'a cell of ' || {named} || ' holds a NUL byte (a damaged export)'"))
            errors.append(_err("oversized_cell", table, f"strlen(c{i}) > {MAX_CELL_CHARS}",
                               f"'a cell of ' || {named} || ' holds ' || format('{{:,}}', length(c{i})) || "
                               f"{lit(f' characters, more than any export holds ({MAX_CELL_CHARS:,})')}"))
        return errors

    def _limit_errors(self, table: Table, column: Column) -> list[tuple[str, str]]:
        """Keys and codes within sane limits; dates no later than the export."""
        t, name, val = table.name, column.name, self.val(table.name, column.name)
        if column.kind == "text" and (name.endswith("_id") or name in ("offense_code", "partner_firm")):
            limit = MAX_KEY_CHARS if name.endswith("_id") else MAX_CODE_CHARS
            return [
                _err("bad_key", t, f"strlen({val}) > {limit}",
                     f"{lit(name + ' is ')} || format('{{:,}}', length({val})) || "
                     f"{lit(f' characters long, more than {limit} (value withheld)')}"),
                _err("bad_key", t, f"regexp_matches({val}, '[\x00-\x1f\x7f]')",
                     lit(f"{name} holds a control character such as a tab or a line break (value withheld)")),
            ]
        if column.kind == "date" and name not in SCHEDULED_DATES and self.exported_on is not None:
            latest = self.exported_on + dt.timedelta(days=FUTURE_TOLERANCE_DAYS)
            return [_err("future_date", t, f"{val} > DATE '{latest.isoformat()}'",
                         f"{lit(name + ' ')} || {val} || {lit(f' is after the export date {self.exported_on.isoformat()}')}")]
        return []

    def errors(self, table: str) -> list[tuple[str, str]]:
        """(condition, error struct) for every rule of the table's record in a row."""
        t = TABLES[table]
        errors = self._cell_errors(table) if table == self.tables[0] else []
        for column in t.columns:
            if column.name in self.match.columns[table]:
                errors += self._column_errors(t, column) + self._limit_errors(t, column)
        return errors + self._check_errors(t)

    # -- step 1: the work table -------------------------------------------------------------
    def work_select(self) -> str:
        """The query Source.materialise runs over the source: trimmed, typed, checked."""
        typed = ", ".join(f"{sql} AS {ident(f'{t}.{c}')}" for (t, c), sql in self.typed.items())
        flags = ", ".join(
            f"({' OR '.join(cond for cond, _ in self.errors(t)) or 'false'}) IS NOT TRUE AS _ok_{t}"
            for t in self.tables)
        inner = f"SELECT *, {typed} FROM {self.source.relation}" if typed else f"SELECT * FROM {self.source.relation}"
        return f"SELECT *, {flags} FROM ({inner})"

    # -- step 2: the rows that need a closer look -------------------------------------------
    def build_candidates(self, con: duckdb.DuckDBPyConnection) -> None:
        """<src>_cand: rows that break a rule, rows whose key repeats among valid rows, and rows
        carrying no record at all. Two identical rows break the same rules and carry the same
        keys, so every duplicate is among these; so is every conflict and repeat."""
        src = self.source.table
        picks = []
        for t in self.tables:
            key = self.key(t)
            picks.append(f"({self.present(t)} AND NOT _ok_{t})")
            picks.append(f"({self.valid(t)} AND {key} IN (SELECT {key} FROM {src}_w WHERE {self.valid(t)} "
                         f"GROUP BY ALL HAVING count(*) > 1))")
        presences = [self.present(t) for t in self.tables]
        if "true" not in presences:
            picks.append(f"NOT ({' OR '.join(presences)})")
        con.execute(f"CREATE OR REPLACE TEMP TABLE {src}_cand AS SELECT * FROM {src} WHERE {' OR '.join(picks)}")

    def build_duplicates(self, con: duckdb.DuckDBPyConnection) -> None:
        """<src>_dup: rows identical (values are trimmed on reading) to an earlier row."""
        src, n = self.source.table, len(self.source.header)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {src}_dup AS SELECT _row FROM ("
            f"SELECT _row, row_number() OVER (PARTITION BY {', '.join(f'c{i}' for i in range(n))} ORDER BY _row) AS n "
            f"FROM {src}_cand) WHERE n > 1"
        )

    def build_conflicts(self, con: duckdb.DuckDBPyConnection, table_name: str) -> None:
        """<src>_conf_<table>: a key seen again among valid records: keep the first version,
        flag later ones that differ from it."""
        table = TABLES[table_name]
        src = self.source.table
        key = ident(table.key)
        stored = self.stored(table_name)
        values = [n for n, _ in stored if n != table.key]
        ref_struct = ", ".join(f"{lit(n)}: {ident(n)}" for n in values + ["_row", "_line"])
        word = self.source.line_word
        diffs = []
        for n in values:
            if derived_from_pii(n):
                diffs.append(f"CASE WHEN r.{ident(n)} IS DISTINCT FROM ref.{ident(n)} THEN {lit(n)} END")
            else:
                diffs.append(
                    f"CASE WHEN r.{ident(n)} IS DISTINCT FROM ref.{ident(n)} THEN {lit(n + ' (')} || "
                    f"coalesce('''' || ref.{ident(n)} || '''', 'blank') || ' then ' || "
                    f"coalesce('''' || r.{ident(n)} || '''', 'blank') || ')' END"
                )
        differs = " OR ".join(f"r.{ident(n)} IS DISTINCT FROM ref.{ident(n)}" for n in values) or "false"
        message = (
            f"{lit(table.key + ' ')} || r.{key} || {lit(' was already given on ' + word + ' ')} || ref._line || "
            f"' with different values: ' || array_to_string(list_filter([{', '.join(diffs)}], lambda x: x IS NOT NULL), ', ') "
            f"|| ' (the first is kept)'"
        )
        conflict = f"{{'rule': 'conflicting_duplicate', 'tbl': {lit(table.name)}, 'msg': {message}}}"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {src}_conf_{table_name} AS "
            f"WITH r AS (SELECT _row, _line, {', '.join(f'{sql} AS {ident(n)}' for n, sql in stored)} "
            f"  FROM {src}_cand WHERE {self.valid(table_name)} AND _row NOT IN (SELECT _row FROM {src}_dup)), "
            f"ref AS (SELECT {key}, arg_min({{{ref_struct}}}, _row) AS ref FROM r GROUP BY {key} HAVING count(*) > 1) "
            f"SELECT r._row, r._line, CASE WHEN {differs} THEN [{conflict}] ELSE [] END AS errs "
            f"FROM r JOIN (SELECT {key}, unnest(ref) FROM ref) ref USING ({key}) WHERE r._row <> ref._row"
        )

    # -- step 3: rows to quarantine, rows not stored ----------------------------------------
    def build_bad_rows(self, con: duckdb.DuckDBPyConnection) -> None:
        src = self.source.table
        parts = []
        for order, t in enumerate(self.tables):
            items = ", ".join(f"CASE WHEN {cond} THEN {struct} END" for cond, struct in self.errors(t))
            parts.append(f"SELECT _row, {order} AS o, list_filter([{items}], lambda x: x IS NOT NULL) AS errs "
                         f"FROM {src}_cand WHERE {self.present(t)} AND NOT _ok_{t} "
                         f"AND _row NOT IN (SELECT _row FROM {src}_dup)")
            parts.append(f"SELECT _row, {order} AS o, errs FROM {src}_conf_{t} WHERE len(errs) > 0")
        pii = self.pii_source_columns()
        pairs = ", ".join(
            f"{lit(self.source.header[i].strip())}, "
            + (f"CASE WHEN s.c{i} IS NOT NULL THEN '[redacted]' END" if i in pii else f"s.c{i}")
            for i in self.mapped_source_columns()
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {src}_bad AS "
            f"WITH e AS (SELECT _row, flatten(list(errs ORDER BY o)) AS errs FROM ({' UNION ALL '.join(parts)}) GROUP BY _row) "
            f"SELECT e._row, s._line, e.errs, json_object({pairs}) AS raw_values "
            f"FROM e JOIN {src}_cand s USING (_row)"
        )

    def build_records(self, con: duckdb.DuckDBPyConnection, table_name: str) -> str:
        """<src>_skip_<table> and the view <src>_rec_<table> (_row, _line, stored columns) of
        the records to store; returns the view's name. A wide source repeats a parent record
        on many rows: it is stored once, from the first row not skipped otherwise, even when
        an earlier row carrying it was quarantined for another part."""
        src = self.source.table
        valid, key = self.valid(table_name), self.key(table_name)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {src}_skip_{table_name} AS "
            f"SELECT _row FROM {src}_dup UNION SELECT _row FROM {src}_bad UNION "
            f"SELECT _row FROM (SELECT _row, row_number() OVER (PARTITION BY {key} ORDER BY _row) AS n FROM {src}_cand "
            f"  WHERE {valid} AND _row NOT IN (SELECT _row FROM {src}_dup) AND _row NOT IN (SELECT _row FROM {src}_bad)) "
            f"WHERE n > 1"
        )
        view = f"{src}_rec_{table_name}"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT _row, _line, "
            f"{', '.join(f'{sql} AS {ident(n)}' for n, sql in self.stored(table_name))} FROM {src} "
            f"WHERE {valid} AND _row NOT IN (SELECT _row FROM {src}_skip_{table_name})"
        )
        return view
