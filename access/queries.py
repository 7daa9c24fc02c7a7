"""Scoped query building: the only way pages and reports turn a question into SQL on the
published database.

* ``program_manager`` — every row.
* ``partner`` — its own firm's rows only. The firm filter is applied to every relation a query
  reads, *before* any aggregation, so no total ever includes another firm. A mart aggregated by
  one dimension at a time (``dimension`` / ``dimension_value`` columns, e.g. the Kaplan-Meier
  marts) is limited to its ``partner_firm`` rows for the firm; any other relation without a
  ``partner_firm`` column (e.g. a mart pre-aggregated over all firms) is refused. Row-level
  queries also leave out PC 236.14/236.15 survivor cases (statutory confidentiality: below the
  aggregate level for program managers only); aggregates count them.
* ``funder`` — de-identified aggregates only, through ``aggregate`` and ``summary``, which write
  the GROUP BY themselves and pass every count through disclosure control (access/disclosure.py).
  ``query`` (row-level or free-form SQL) is refused, and so is any identifier-like column
  (``*_id``, ``*_hash``).

SQL is written against placeholders: ``SELECT county, count(*) FROM {fct_motions} GROUP BY 1``.
Each ``{name}`` becomes a scoped subquery over ``<schema>.<name>``; a template that names any
table directly is refused (the SQL guard, ``_direct_sources``), and the connection cannot read
files (access/reader.py), so the scope cannot be bypassed by accident. Parameters are DuckDB
named parameters (``$name``).
"""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import duckdb
import pandas as pd

from access.disclosure import (
    REVEALS, SMALL, SMALL_GROUP, Address, LinkedTables, SuppressedTable, marker, suppress, unsuppressed,
)
from access.reader import DataUnavailable, DbVersion, db_version, read_published
from access.scope import AccessDenied, Role, Scope

FIRM_COLUMN = "partner_firm"
# Flags the marts carry for PC 236.14 / 236.15 survivor cases (motion grain, case/client grain).
SURVIVOR_COLUMNS = ("is_confidential_survivor_vehicle", "involves_confidential_survivor_vehicle")
NONE_LABEL = "(none)"
# Marts aggregated by one dimension at a time: a partner may read the rows of its own firm.
DIMENSION_COLUMNS = frozenset({"dimension", "dimension_value"})

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PARAMETER = re.compile(r"\$[A-Za-z0-9_]+")
_HARMLESS_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IDENTIFYING_COLUMN = re.compile(r"(_id|_hash|^id)$", re.IGNORECASE)


class DataAccess:
    """Scoped reads for one visitor (cached when the caller installed a cache, access/reader.py)."""

    def __init__(self, scope: Scope, db_path: Path | str, schema: str = "marts") -> None:
        if not isinstance(scope, Scope):
            raise AccessDenied("no scope: no data")
        self.scope = scope
        self.db_path = Path(db_path)
        self.schema = schema

    # -- public API --

    def query(self, sql_template: str, params: Mapping[str, object] | None = None) -> pd.DataFrame:
        """Rows for program managers and partners (a partner's: own firm, no survivor cases)."""
        if self.scope.role is Role.FUNDER:
            raise AccessDenied("Funders see aggregates only: row-level and free-form queries are not available.")
        return self._run(sql_template, params, row_level=True)

    def aggregate(
        self,
        relation: str,
        rows: str | Sequence[str],
        columns: str | None = None,
        *,
        distinct: str | None = None,
        weight: str | None = None,
        where: str | None = None,
        params: Mapping[str, object] | None = None,
        with_margins: bool = True,
        into: "LinkedAggregates | None" = None,
        into_key: str = "",
    ) -> SuppressedTable | None:
        """Counts of ``relation``'s rows (or of distinct ``distinct`` values, e.g. client_id for
        clients) by ``rows`` and optionally ``columns``, with totals computed in SQL (correct
        for distinct counts too). Funders get it suppressed; others get the same shape.

        ``weight``: a pre-aggregated relation's count column, summed instead of counting rows.
        With ``distinct`` too, the count is the distinct values plus the weights: rows with a
        weight stand for values that no other row holds (mart_dashboard_clients)."""
        row_dims = [rows] if isinstance(rows, str) else list(rows)
        dims = row_dims + ([columns] if columns else [])
        for name in [relation, *dims, *([distinct] if distinct else []), *([weight] if weight else [])]:
            self._check_identifier(name)
        if len(set(dims)) != len(dims):
            raise ValueError(f"aggregate: each dimension once, got {dims}")
        if self.scope.suppresses:
            self._refuse_identifying(dims)
        quoted = [f'"{d}"' for d in dims]
        measure = f'count(DISTINCT "{distinct}")' if distinct else "count(*)"
        if weight:
            measure = f'CAST({measure + " + " if distinct else ""}coalesce(sum("{weight}"), 0) AS BIGINT)'
        row_set = ", ".join(f'"{d}"' for d in row_dims)
        sets = [f"({', '.join(quoted)})", "()"]
        if columns:
            sets += [f"({row_set})", f'("{columns}")']
        sql = (
            f"SELECT {', '.join(quoted)}, {measure} AS n, "
            f"grouping({quoted[0]}) AS row_margin, {f'grouping({quoted[-1]})' if columns else '1'} AS column_margin "
            f"FROM {{{relation}}} AS source WHERE ({where or 'true'}) GROUP BY GROUPING SETS ({', '.join(sets)})"
        )
        counts = self._run(sql, params, row_level=False)
        pivoted = _pivot(counts, row_dims, columns)
        if into is not None:
            into.tables[into_key] = (pivoted, with_margins)
            return None
        return self._publish(pivoted, with_margins)

    def linked(self) -> "LinkedAggregates":
        """Tables of one page whose numbers add up across tables (a status table and the same
        statuses by quarter), to be published as one system: ``aggregate(..., into=page,
        into_key=...)`` each, ``link`` the sums, then ``publish``."""
        return LinkedAggregates(self)

    def summary(
        self,
        relation: str,
        by: str | Sequence[str],
        stats: Mapping[str, str],
        *,
        distinct: str | None = None,
        weight: str | None = None,
        where: str | None = None,
        params: Mapping[str, object] | None = None,
        unit: str = "cases",
    ) -> SuppressedTable:
        """One row per group of ``by`` (one overall row when ``by`` is empty): ``n`` (rows,
        distinct ``distinct`` values, or the sum of ``weight`` for a pre-aggregated relation
        such as a Kaplan-Meier mart's ``at_risk``) and each
        statistic, given as an aggregate SQL expression, e.g.
        ``{"median_days": "median(days_to_decision)"}`` (the layer writes the GROUP BY, so a
        statistic cannot list rows). For funders a group whose ``n`` is suppressed has every
        statistic suppressed, and ``n`` is protected as if its total were published elsewhere.
        ``unit``: what ``n`` counts, named where a statistic is withheld ("fewer than 11 cases")."""
        keys = [by] if isinstance(by, str) else list(by)
        if distinct and weight:
            raise ValueError("summary: count distinct values or sum a weight, not both")
        for name in [relation, *keys, *stats, *([distinct] if distinct else []), *([weight] if weight else [])]:
            self._check_identifier(name)
        if self.scope.suppresses:
            self._refuse_identifying(keys)
        quoted = ", ".join(f'"{k}"' for k in keys)
        measure = f'count(DISTINCT "{distinct}")' if distinct else f'CAST(coalesce(sum("{weight}"), 0) AS BIGINT)' if weight else "count(*)"
        selected = ", ".join(f'({expression}) AS "{name}"' for name, expression in stats.items())
        grouping = f" GROUP BY {quoted} ORDER BY {quoted}" if keys else ""
        sql = (
            f"SELECT {quoted + ', ' if keys else ''}{measure} AS n{', ' + selected if selected else ''} "
            f"FROM {{{relation}}} AS source WHERE ({where or 'true'}){grouping}"
        )
        frame = self._run(sql, params, row_level=False)
        if not self.scope.suppresses:
            return SuppressedTable(frame.astype(str), frame, pd.DataFrame(False, index=frame.index, columns=frame.columns), None)
        counts = suppress(frame["n"].astype("int64"), threshold=self.scope.threshold)
        count_reasons = counts.reasons.iloc[:-1].to_numpy()  # its Total entry is not published here
        hidden_rows = count_reasons != ""
        mask = pd.DataFrame(False, index=frame.index, columns=frame.columns)
        mask.loc[hidden_rows, [c for c in frame.columns if c not in keys]] = True
        # n keeps its count marker; a statistic over a small group says so, one hidden only
        # to protect another group's n is withheld.
        reasons = pd.DataFrame("", index=frame.index, columns=frame.columns, dtype=object)
        for column in frame.columns:
            if column == "n":
                reasons[column] = count_reasons
            elif column not in keys:
                reasons[column] = [SMALL_GROUP if r == SMALL else REVEALS if r else "" for r in count_reasons]
        markers = reasons.map(lambda r: marker(r, self.scope.threshold, unit))
        display = frame.astype(str).mask(mask, markers)
        return SuppressedTable(display, frame.mask(mask), mask, self.scope.threshold, reasons)

    def version(self) -> DbVersion:
        return db_version(self.db_path)

    # -- scoping --

    def _run(self, sql_template: str, params: Mapping[str, object] | None, *, row_level: bool) -> pd.DataFrame:
        params = dict(params or {})
        if any(k.startswith("scope_") for k in params):
            raise ValueError("parameter names starting with 'scope_' are reserved for the access layer")
        relations = _PLACEHOLDER.findall(sql_template)
        stray = _direct_sources(_PLACEHOLDER.sub(lambda m: f"__relation_{m.group(1)}", sql_template))
        if stray:
            raise AccessDenied(f"query reads {', '.join(stray)} directly: write relations as {{name}} so the scope applies")
        columns = {name: self._columns(name) for name in set(relations)}
        sql = _PLACEHOLDER.sub(lambda m: self._scoped_relation(m.group(1), columns[m.group(1)], row_level), sql_template)
        if self.scope.role is Role.PARTNER and relations:
            params["scope_firm"] = self.scope.firm
        return read_published(self.db_path, sql, params)

    def _columns(self, relation: str) -> frozenset[str]:
        self._check_identifier(relation)
        # The whole schema in one read (cached like any query): a page reads 4-6 relations, and
        # each information_schema query costs ~5 ms whatever it asks for.
        found = read_published(
            self.db_path,
            "SELECT table_name, list(column_name) AS columns FROM information_schema.columns WHERE table_schema = $schema GROUP BY 1",
            {"schema": self.schema},
        )
        columns = found.loc[found.table_name == relation, "columns"]
        if columns.empty:
            raise DataUnavailable(f"{self.schema}.{relation} is not in the published database")
        return frozenset(columns.iloc[0])

    def _scoped_relation(self, relation: str, columns: frozenset[str], row_level: bool) -> str:
        source = f'"{self.schema}"."{relation}"'
        if self.scope.role is not Role.PARTNER:
            return f"(SELECT * FROM {source})"
        if FIRM_COLUMN not in columns and DIMENSION_COLUMNS <= columns:
            return f"(SELECT * FROM {source} WHERE dimension = '{FIRM_COLUMN}' AND dimension_value = $scope_firm)"
        if FIRM_COLUMN not in columns:
            raise AccessDenied(f"{relation} has no {FIRM_COLUMN} column, so it cannot be limited to one firm's cases")
        conditions = [f'"{FIRM_COLUMN}" = $scope_firm']
        if row_level:
            conditions += [f'NOT coalesce("{c}", false)' for c in SURVIVOR_COLUMNS if c in columns]
        return f"(SELECT * FROM {source} WHERE {' AND '.join(conditions)})"

    def _publish(self, pivoted: tuple, with_margins: bool) -> SuppressedTable:
        interior, margins = _margins(pivoted, with_margins)
        if self.scope.suppresses:
            return suppress(interior, self.scope.threshold, with_margins, **margins)
        return unsuppressed(interior, with_margins, **margins)

    @staticmethod
    def _check_identifier(name: str) -> None:
        if not _IDENTIFIER.match(name or ""):
            raise ValueError(f"not a plain column or relation name: {name!r}")

    @staticmethod
    def _refuse_identifying(columns: Sequence[str]) -> None:
        identifying = [c for c in columns if _IDENTIFYING_COLUMN.search(str(c))]
        if identifying:
            raise AccessDenied(f"Funders see de-identified aggregates only: {', '.join(identifying)} identifies cases or people.")


_parser = duckdb.connect(":memory:")  # holds no data: only parses the pages' SQL
_parser_lock = threading.Lock()


def _direct_sources(sql: str) -> list[str]:
    """What the SQL reads other than the scoped placeholders and its own CTEs: tables named
    directly and table functions (which could read a table by name, e.g. query_table)."""
    with _parser_lock:  # a cursor per call, as sessions run in threads; a new instance costs ~15 ms
        parser = _parser.cursor()
    with parser:
        # The parser takes no parameters: probe with NULL in their place. Parsing only, no binding.
        tree = json.loads(parser.execute("SELECT json_serialize_sql($sql)", {"sql": _PARAMETER.sub("NULL", sql)}).fetchone()[0])
    if tree.get("error"):
        raise ValueError(f"SQL does not parse: {tree.get('error_message')}")
    if len(tree["statements"]) != 1:
        raise AccessDenied("one SELECT statement per query")
    ctes: set[str] = set()
    sources: list[tuple[str, str]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "cte_map" in node:
                ctes.update(entry["key"].lower() for entry in node["cte_map"]["map"])
            if node.get("type") == "BASE_TABLE":
                qualified = ".".join(p for p in (node.get("catalog_name"), node.get("schema_name"), node["table_name"]) if p)
                sources.append((qualified, node["table_name"]))
            elif node.get("type") == "TABLE_FUNCTION":
                name = node["function"].get("function_name", "?")
                if name not in _HARMLESS_TABLE_FUNCTIONS:
                    sources.append((f"{name}()", f"{name}()"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree["statements"][0]["node"])
    return sorted({q for q, name in sources if not (q == name and (name.startswith("__relation_") or name.lower() in ctes))})


def _margins(pivoted: tuple, with_margins: bool) -> tuple[pd.Series | pd.DataFrame, dict]:
    interior, row_totals, column_totals, grand_total = pivoted
    if not with_margins:
        return interior, {}
    if isinstance(interior, pd.Series):
        return interior, dict(grand_total=grand_total)
    return interior, dict(row_totals=row_totals, column_totals=column_totals, grand_total=grand_total)


class LinkedAggregates:
    """A page's tables published as one system (access.disclosure.LinkedTables): for
    funders no hidden count can be worked out by combining one table with another."""

    def __init__(self, access: "DataAccess"):
        self.access = access
        self.tables: dict[str, tuple[tuple, bool]] = {}
        self._links: list[tuple[list[Address], Address]] = []
        self._derived_sums: dict[str, dict[Hashable, list[Address]]] = {}

    def link(self, parts: Sequence[Address], total: Address) -> None:
        """``total`` (an entry of one table) is the sum of ``parts`` (entries of others)."""
        self._links.append((list(parts), total))

    def same(self, first: Address, second: Address) -> None:
        """Two entries of different tables that are one number."""
        self.link([first], second)

    def add_derived_sums(self, key: str, sums: Mapping[Hashable, Sequence[Address]]) -> None:
        """Sums of entries a page shows beside its tables (LinkedTables.add_derived_sums): exact
        for managers and partners; for funders shown wherever what is published fixes them."""
        self._derived_sums[key] = {label: list(parts) for label, parts in sums.items()}

    def interior(self, key: str) -> pd.Series | pd.DataFrame:
        """A table's exact counts without margins: its labels, to link entries by. Never shown."""
        (interior, *_), _ = self.tables[key]
        return interior

    def regroup_rows(self, key: str, group) -> None:
        """Replace table ``key`` by its rows added up into coarser ones (``group`` maps a row
        label to its group, e.g. a quarter to its year), from the exact counts, before anything
        is suppressed. Only for tables whose rows count disjoint things (each client or motion in
        one row): the groups' sums are then their true counts; the columns' and grand totals
        stay what SQL counted. Nothing of the finer table is published."""
        (interior, row_totals, column_totals, grand_total), with_margins = self.tables[key]
        labels = [group(label) for label in interior.index]
        regrouped = interior.groupby(labels, sort=True).sum()
        if isinstance(interior, pd.DataFrame):
            regrouped.index.name, regrouped.columns.name = interior.index.name, interior.columns.name
            row_totals = row_totals.reindex(interior.index).groupby(labels, sort=True).sum() if row_totals is not None else None
        else:
            regrouped.name = interior.name
        self.tables[key] = ((regrouped, row_totals, column_totals, grand_total), with_margins)

    def publish(self) -> dict[str, SuppressedTable]:
        suppresses = self.access.scope.suppresses
        linked = LinkedTables(self.access.scope.threshold if suppresses else None)
        for key, (pivoted, with_margins) in self.tables.items():
            interior, margins = _margins(pivoted, with_margins)
            linked.add(key, interior, with_margins, **margins)
        if suppresses:  # the links tell the suppression what a reader can add up; nothing is hidden otherwise
            for parts, total in self._links:
                linked.link(parts, total)
        for key, sums in self._derived_sums.items():
            linked.add_derived_sums(key, sums)
        return linked.publish()


def _pivot(counts: pd.DataFrame, row_dims: list[str], column: str | None):
    """Split the GROUPING SETS result into interior, row totals, column totals, grand total."""
    for dim in row_dims + ([column] if column else []):
        counts[dim] = counts[dim].astype(object).where(counts[dim].notna(), NONE_LABEL)
    interior_rows = counts[(counts.row_margin == 0) & (counts.column_margin == 0)] if column else counts[counts.row_margin == 0]
    grand_rows = counts[(counts.row_margin == 1) & (counts.column_margin == 1)]
    grand_total = int(grand_rows.n.iloc[0]) if len(grand_rows) else 0
    index = row_dims[0] if len(row_dims) == 1 else row_dims
    if not column:
        interior = interior_rows.set_index(index)["n"].sort_index()
        return interior, None, None, grand_total
    interior = interior_rows.pivot_table(index=index, columns=column, values="n", aggfunc="sum", fill_value=0).sort_index()
    interior = interior.sort_index(axis=1)
    interior.columns.name = column
    row_totals = counts[(counts.row_margin == 0) & (counts.column_margin == 1)].set_index(index)["n"]
    column_totals = counts[(counts.row_margin == 1) & (counts.column_margin == 0)].set_index(column)["n"]
    return interior, row_totals, column_totals, grand_total
