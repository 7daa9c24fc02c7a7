"""The classes of a grant report's decisions and their words, read from the published database
(the seed reference.decision_classes, seeds/decision_classes.csv) for the reports and the
dashboards: the vacatur classes are the recognition classes the models give a motion, under the
same codes, so a class is named once."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from access.reader import DataUnavailable, read_published

RELATION = "reference.decision_classes"


@dataclass(frozen=True)
class DecisionClasses:
    labels: dict[str, str]  # class -> what the report calls it, in report order
    tables: dict[str, tuple[str, ...]]  # report table (vacaturs, beside, not_granted) -> its classes, in order
    short_labels: dict[str, str]  # class -> what a dashboard's column header or chart legend calls it

    def of(self, table: str) -> tuple[str, ...]:
        return self.tables.get(table, ())


def read(db: Path | str) -> DecisionClasses:
    try:
        frame = read_published(Path(db), f"SELECT decision_class, report_table, label, short_label FROM {RELATION} "
                                         "ORDER BY sort_order")
    except (duckdb.CatalogException, duckdb.BinderException) as error:  # a database built before the seed (or its column) existed
        raise DataUnavailable(f"{db} has no {RELATION} as this version reads it: rebuild it with `pcr run` ({error})") from None
    tables: dict[str, tuple[str, ...]] = {}
    for code, table in zip(frame["decision_class"], frame["report_table"]):
        tables[table] = (*tables.get(table, ()), code)
    return DecisionClasses(dict(zip(frame["decision_class"], frame["label"])), tables,
                           dict(zip(frame["decision_class"], frame["short_label"])))
