"""Set-wise mapping, parsing and validation of one source, as DuckDB SQL generated from the
layout mapping and the contract.

For a source table (c0..cN VARCHAR, _row, _line) this builds, in temp tables:
  <src>_dup      rows identical (after trimming) to an earlier row
  <src>_rec_<t>  one record per row for each contract table the file kind produces, with the
                 stored (privacy-transformed) columns, _record_hash and a list of errors
  <src>_conf_<t> later rows repeating a key: conflicts (with an error) or plain repeats
  <src>_bad      the rows to quarantine, with all their errors
Nothing here writes to the raw schema; ingest.store does that.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb

from ingest.contract import TABLE_ORDER, TABLES, Column, Table
from ingest.layouts import DEFAULT_UNKNOWN, ISO_DATE_FORMATS, Layout, Match, norm
from ingest.privacy import normalise_a_number_sql
from ingest.sources import Source

DECIDED = ("granted", "granted_in_part", "denied")
PII_KINDS = ("pii_drop", "pii_hash", "pii_dob")
MAX_AGE = 110


def lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _err(rule: str, table: str, condition: str, message: str) -> tuple[str, str]:
    return f"({condition})", f"{{'rule': {lit(rule)}, 'tbl': {lit(table)}, 'msg': {message}}}"


def errors_sql(errors: list[tuple[str, str]]) -> str:
    """List of error structs; built only for rows that break a rule (most rows don't)."""
    if not errors:
        return "[]"
    items = ", ".join(f"CASE WHEN {cond} THEN {struct} END" for cond, struct in errors)
    return (f"CASE WHEN {' OR '.join(cond for cond, _ in errors)} "
            f"THEN list_filter([{items}], lambda x: x IS NOT NULL) ELSE [] END")


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
            for canon, idx in cols.items()
            if TABLES[table].column(canon).kind in PII_KINDS
        }

    def mapped_source_columns(self) -> list[int]:
        return sorted({idx for cols in self.match.columns.values() for idx in cols.values()})

    # -- step 1: exact duplicate rows -------------------------------------------------------
    def build_duplicates(self, con: duckdb.DuckDBPyConnection) -> None:
        """<src>_dup: rows identical (values are trimmed on reading) to an earlier row.
        Candidates share a 64-bit hash; each is then compared column by column with the first
        of its group."""
        src, n = self.source.table, len(self.source.header)
        same = " AND ".join(f"a.c{i} IS NOT DISTINCT FROM b.c{i}" for i in range(n))
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {src}_dup AS "
            f"WITH h AS (SELECT _row, hash({', '.join(f'c{i}' for i in range(n))}) AS h FROM {src}), "
            f"pairs AS (SELECT _row AS later, min(_row) OVER (PARTITION BY h) AS first FROM h "
            f"  WHERE h IN (SELECT h FROM h GROUP BY h HAVING count(*) > 1)) "
            f"SELECT b._row FROM pairs JOIN {src} a ON a._row = pairs.first JOIN {src} b ON b._row = pairs.later "
            f"WHERE pairs.later <> pairs.first AND {same}"
        )

    # -- step 2: one record per row and table, with its errors ------------------------------
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
        if kind == "text":
            return self._enum_case(column, raw, (), keep_unmapped=True)
        return "NULL"  # pii_drop: never carried further

    def _errors(self, table: Table, column: Column, header: str) -> list[tuple[str, str]]:
        raw, val, name, t = f"r_{column.name}", ident(column.name), column.name, table.name
        shown = f"{lit(name + ' ')} || '''' || {raw} || ''''"
        errors = []
        if column.required:
            errors.append(_err("missing_required", t, f"{raw} IS NULL",
                               lit(f"required {name} is blank (column {header!r})")))
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
                               f"{shown} || {lit(' is not yes/no (add it under booleans: in ' + self.layout.path.name + ')')}"))
        elif column.kind == "enum":
            allowed = ("a California county name" if len(column.allowed) > 12
                       else "allowed: " + ", ".join(column.allowed))
            errors.append(_err("bad_value", t, unparsed,
                               f"{shown} || {lit(f' is not an allowed value ({allowed}; or map it under values: {name} in ingest/layouts/{self.layout.path.name})')}"))
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
        errors = []
        for check in table.checks:
            if check == "decided_has_date":
                errors.append(_err(
                    "decided_without_date", table.name,
                    f"outcome IN {tuple_sql(DECIDED)} AND decision_date IS NULL AND r_decision_date IS NULL",
                    "'outcome ' || outcome || ' needs a decision_date'"))
                continue
            later, earlier = check.split(">=")
            errors.append(_err(
                "date_order", table.name, f"{ident(later)} < {ident(earlier)}",
                f"{lit(later + ' ')} || {ident(later)} || {lit(' is before ' + earlier + ' ')} || {ident(earlier)}"))
        if table.name == "clients":
            errors.append(_err("impossible_age", "clients", "date_of_birth > intake_date",
                               lit("date_of_birth is after intake_date (value withheld)")))
            errors.append(_err("impossible_age", "clients", f"date_sub('year', date_of_birth, intake_date) > {MAX_AGE}",
                               lit(f"age at intake from date_of_birth is over {MAX_AGE} (value withheld)")))
        return errors

    def build_records(self, con: duckdb.DuckDBPyConnection, table_name: str) -> None:
        """<src>_rec_<table>: one record per (non-duplicate) row, in one pass: trimmed values,
        typed values, stored values with their errors, then the record hash."""
        table = TABLES[table_name]
        mapped = self.match.columns[table_name]
        tmap = next(m for m in self.match.kind.tables if m.table == table_name)
        src = self.source.table
        trimmed, parsed, errors = [], [], []
        for column in table.columns:
            raw = f"r_{column.name}"
            if column.name in mapped:
                trimmed.append(f"c{mapped[column.name]} AS {raw}")
                parsed.append(f"{self._parsed(column, raw)} AS {ident(column.name)}")
                errors += self._errors(table, column, self.source.header[mapped[column.name]])
            else:
                trimmed.append(f"NULL::VARCHAR AS {raw}")
                parsed.append(f"NULL::{value_type(column)} AS {ident(column.name)}")
        where = f"_row NOT IN (SELECT _row FROM {src}_dup)"
        if tmap.when_present:
            marker = [norm(h) for h in self.source.header].index(norm(tmap.when_present))
            where += f" AND c{marker} IS NOT NULL"
        errors += self._check_errors(table)
        stored = []
        for name in table.stored_columns:
            if name == "age_at_intake":
                stored.append("date_sub('year', date_of_birth, intake_date)::INTEGER AS age_at_intake")
            elif name.endswith("_hash"):
                stored.append(f"{ident(name[:-5])} AS {ident(name)}")
            else:
                stored.append(ident(name))
        # Unit separator between values, NUL for NULL: distinct records hash differently.
        hashed = ", chr(31), ".join(f"coalesce(CAST({ident(n)} AS VARCHAR), chr(0))" for n in table.stored_columns)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {src}_rec_{table_name} AS "
            f"SELECT *, md5(concat({hashed})) AS _record_hash FROM ("
            f" SELECT _row, _line, {', '.join(stored)}, {errors_sql(errors)} AS errs FROM ("
            f"  SELECT *, {', '.join(parsed)} FROM ("
            f"   SELECT _row, _line, {', '.join(trimmed)} FROM {src} WHERE {where})))"
        )
        self._flag_conflicts(con, table)

    def _flag_conflicts(self, con: duckdb.DuckDBPyConnection, table: Table) -> None:
        """A key seen again with different values: keep the first valid version, flag later ones."""
        rec = f"{self.source.table}_rec_{table.name}"
        key = ident(table.key)
        values = [n for n in table.stored_columns if n != table.key]
        ref_struct = ", ".join(f"{lit(n)}: {ident(n)}" for n in values + ["_row", "_line", "_record_hash"])
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
        message = (
            f"{lit(table.key + ' ')} || r.{key} || {lit(' was already given on ' + word + ' ')} || ref._line || "
            f"' with different values: ' || array_to_string(list_filter([{', '.join(diffs)}], lambda x: x IS NOT NULL), ', ') "
            f"|| ' (the first is kept)'"
        )
        conflict = f"{{'rule': 'conflicting_duplicate', 'tbl': {lit(table.name)}, 'msg': {message}}}"
        # Only keys seen more than once need a look; later rows of a key are either conflicts
        # (quarantined) or repeats of the first version (loaded, stored once).
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {self.source.table}_conf_{table.name} AS "
            f"WITH r AS (SELECT * FROM {rec} WHERE len(errs) = 0 AND {key} IN "
            f"  (SELECT {key} FROM {rec} WHERE len(errs) = 0 GROUP BY {key} HAVING count(*) > 1)), "
            f"ref AS (SELECT {key}, arg_min({{{ref_struct}}}, _row) AS ref FROM r GROUP BY {key}) "
            f"SELECT r._row, r._line, CASE WHEN r._record_hash <> ref._record_hash THEN [{conflict}] "
            f"ELSE [] END AS errs FROM r JOIN (SELECT {key}, unnest(ref) FROM ref) ref USING ({key}) "
            f"WHERE r._row <> ref._row"
        )

    # -- step 3: rows to quarantine ----------------------------------------------------------
    def build_bad_rows(self, con: duckdb.DuckDBPyConnection) -> None:
        src = self.source.table
        parts = " UNION ALL ".join(
            f"SELECT _row, _line, {order} AS o, errs FROM {src}_{part}_{t} WHERE len(errs) > 0"
            for order, t in enumerate(self.tables) for part in ("rec", "conf")
        )
        pii = self.pii_source_columns()
        pairs = ", ".join(
            f"{lit(self.source.header[i].strip())}, "
            + (f"CASE WHEN s.c{i} IS NOT NULL THEN '[redacted]' END" if i in pii else f"s.c{i}")
            for i in self.mapped_source_columns()
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {src}_bad AS "
            f"WITH e AS (SELECT _row, min(_line) AS _line, flatten(list(errs ORDER BY o)) AS errs FROM ({parts}) GROUP BY _row) "
            f"SELECT e._row, e._line, e.errs, json_object({pairs}) AS raw_values "
            f"FROM e JOIN {src} s USING (_row)"
        )


def tuple_sql(values) -> str:
    return "(" + ", ".join(lit(v) for v in values) + ")"
