"""Demographic breakdowns of a grant report: clients represented and clients whose removal was
avoided in the period, by one client attribute at a time (age band at intake, primary language,
country of birth, county of residence, immigration status at intake). A grant lists the ones it
wants under ``demographics:`` in the grants file, in the order the report shows them.

Each breakdown is two exact count Series over the same categories, published through
``access.disclosure.suppress`` one column at a time, each with its Total: the two columns
count different groups of clients (a client whose removal was avoided in the period need not
have been represented in it), so no equation links them. Their Totals are the report's headline
numbers "Clients represented" and "Removal avoided"; where the report hides one of those while
the column would show its Total, the column is withheld whole, or its Total would give the
number away.

A dimension that no client of the exports has a value for (the exports did not carry the
column) is reported as "not available in these exports", never as zeros.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from access.disclosure import COMPLEMENT, TOTAL_LABEL, SuppressedTable, marker, suppress
from reports.availability import NOT_AVAILABLE
from reports.dimensions import DIMENSIONS, Dimension
from reports.metrics import CLIENTS_REPRESENTED_CASES, REMOVAL_AVOIDED as AVOIDED_STATUSES
from reports.scoped import Scoped
from reports.tables import ReportTable

NOT_RECORDED = "Not recorded"
REPRESENTED = "Clients represented"
REMOVAL_AVOIDED = "Removal avoided"


@dataclass
class Breakdown:
    """Exact counts of one dimension for one date range (None: not in these exports)."""

    key: str
    represented: pd.Series | None
    removal_avoided: pd.Series | None
    no_clients: bool = False  # not available because the exports hold no client at all

    @property
    def dimension(self) -> Dimension:
        return DIMENSIONS[self.key]


def breakdown(scoped: Scoped, key: str) -> Breakdown:
    """Exact counts by ``key`` for the grant's scope and the period of ``scoped``."""
    dimension = DIMENSIONS[key]
    clients, recorded = scoped.access.query(f"SELECT count(*), count({dimension.column}) FROM {{dim_clients}}").iloc[0]
    if not recorded:
        return Breakdown(key, None, None, no_clients=not clients)
    statuses = ", ".join(f"'{status}'" for status in AVOIDED_STATUSES)
    groups = {
        "represented": f"SELECT client_id FROM {{fct_cases}} WHERE {CLIENTS_REPRESENTED_CASES} AND {scoped.where('case')}",
        "removal_avoided": f"SELECT client_id FROM {{mart_removal_avoided}} WHERE removal_avoided_status IN ({statuses}) "
                           f"AND status_date BETWEEN $range_start AND $range_end AND {scoped.where('client')}",
    }
    counts = {}
    for name, clients in groups.items():
        frame = scoped.query(f"SELECT {dimension.column} AS category, count(*) AS n, {dimension.sort_key or 'NULL'} AS sort_key "
                             f"FROM {{dim_clients}} WHERE client_id IN ({clients}) GROUP BY 1")
        frame["category"] = [NOT_RECORDED if pd.isna(v) else dimension.value_labels.get(v, v) for v in frame["category"]]
        counts[name] = frame.set_index("category")
    # Categories in the dimension's own order (age), else most clients first; "Not recorded" last.
    both = pd.concat(counts.values()).groupby(level=0).agg(n=("n", "sum"), sort_key=("sort_key", "min"))
    both = both.assign(unrecorded=both.index == NOT_RECORDED, fewer=-both["n"], name=both.index)
    order = both.sort_values(["unrecorded", *(["sort_key"] if dimension.sort_key else []), "fewer", "name"]).index
    series = {name: frame["n"].reindex(order, fill_value=0).astype("int64").rename_axis(dimension.label)
              for name, frame in counts.items()}
    return Breakdown(key, series["represented"], series["removal_avoided"])


def _withheld_whole(table: SuppressedTable) -> SuppressedTable:
    """Every entry withheld: the column's total is withheld elsewhere in the report."""
    mask = table.suppressed_mask.copy()
    mask[:] = True
    reasons = mask.map(lambda _: COMPLEMENT).astype(object)
    return SuppressedTable(reasons.map(lambda r: marker(r, table.threshold)), table.numeric.mask(mask), mask,
                           table.threshold, reasons)


def report_table(result: Breakdown, threshold: int, withheld_totals: frozenset[str] = frozenset()) -> ReportTable:
    """The published table of one breakdown. ``withheld_totals``: the columns (REPRESENTED,
    REMOVAL_AVOIDED) whose total the report withholds elsewhere; they are withheld whole."""
    dimension = result.dimension
    key, title = f"demographics_{result.key}", f"Clients by {dimension.label[0].lower()}{dimension.label[1:]}"
    if result.represented is None:
        display = pd.DataFrame({dimension.label: ["All clients"], REPRESENTED: [NOT_AVAILABLE], REMOVAL_AVOIDED: [NOT_AVAILABLE]})
        why = "they hold no client records" if result.no_clients else "no export recorded it"
        return ReportTable(key, title, f"{dimension.label} is {NOT_AVAILABLE}: {why}.", display, None)
    published = {}
    for column, counts in ((REPRESENTED, result.represented), (REMOVAL_AVOIDED, result.removal_avoided)):
        table = suppress(counts, threshold)
        # A Total hidden here already (fewer than the threshold) hides nothing more: every
        # positive entry under it is small and hidden too.
        shown_total = not table.suppressed_mask.loc[TOTAL_LABEL]
        published[column] = _withheld_whole(table) if column in withheld_totals and shown_total else table
    note = (f"{REPRESENTED}: distinct clients with a case referred to a partner firm by the period's end and not "
            f"closed before its start. {REMOVAL_AVOIDED}: clients with removal exposure at intake whose removal was "
            "avoided (confirmed or projected) in the period. Each column is protected on its own.")
    display = pd.DataFrame({c: t.display for c, t in published.items()}).rename_axis(dimension.label)
    numeric = pd.DataFrame({c: t.numeric for c, t in published.items()})
    reasons = pd.DataFrame({c: t.reasons for c, t in published.items()})
    return ReportTable(key, title, f"{dimension.note} {note}".strip(), display.reset_index().astype(str), numeric, reasons)


def report_tables(scoped: Scoped, keys: tuple[str, ...], threshold: int, headline_values: dict[str, float],
                  removal_not_available: str = "") -> list[ReportTable]:
    """The grant's breakdowns for the period of ``scoped``. ``headline_values``: the report's
    published numbers by metric (NaN where withheld), whose totals these tables repeat.
    ``removal_not_available``: the sentence saying why the exports cannot give removal avoided
    ("" when they can); its column then says so on every row."""
    withheld = frozenset(column for column, metric in ((REPRESENTED, "clients_represented"),
                                                        (REMOVAL_AVOIDED, "clients_removal_avoided"))
                         if math.isnan(headline_values[metric]))
    tables = [report_table(breakdown(scoped, key), threshold, withheld) for key in keys]
    return [_removal_not_available(t, removal_not_available) for t in tables] if removal_not_available else tables


def _removal_not_available(table: ReportTable, sentence: str) -> ReportTable:
    """The removal-avoided column of a breakdown as "not available in these exports" (it would
    count no client: the exposure is not in the exports), with the sentence in the note."""
    display = table.display.copy()
    display[REMOVAL_AVOIDED] = NOT_AVAILABLE
    numeric, reasons = table.numeric, table.reasons
    if numeric is not None:
        numeric = numeric.assign(**{REMOVAL_AVOIDED: float("nan")})
    if reasons is not None:
        reasons = reasons.drop(columns=[REMOVAL_AVOIDED])  # nothing of it is published
    return ReportTable(table.key, table.title, f"{table.note} {sentence}".strip(), display, numeric, reasons)
