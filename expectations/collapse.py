"""Suite `collapse`: no plausible wrong number from an export that lost a column.

A layout that stops reading a column (a renamed or misspelled header, a mapping that leaves a
field out, a file left out of the export) does not make the build fail: the column arrives
empty, every count that rests on it becomes 0, and the dashboards show that 0 as if it were
true. This suite stops such a run before it publishes:

- **against the published data**: a headline number (clients served, motions filed / decided /
  granted, vacaturs granted, removal avoided, pro bono hours) or a column the metrics need (the
  number of its values) that was above 0 in the published database and is 0 (or has no value)
  in this run;
- **funnel**: within this run, a step of the case funnel that is 0 while the next step is not
  (motions filed 0 while motions decided are not). Nothing needs a previous version, so this
  holds on a first run too.

A measure resting on a contract column that the layout of this run's exports marks not
available (`{not_available: true}`, marts.mart_column_availability; reports/availability.py
says what each rests on) is not checked: every page and report shows it as "not available in
these exports", not as 0. A column the layout merely leaves out is still checked: that is how
a field is lost without anyone saying so.

Both are one query over the marts (`MEASURES_SQL`), run on the published database through a
short-lived read-only connection and, as the suite's dataset, on the new build. A failing row
carries the sentence printed for it. The user who knows the change is true (a program that
stopped recording hearings) reruns with `pcr run --accept-collapse`: the check then warns,
the run publishes, and the run record keeps the sentences.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import great_expectations as gx

from expectations.dataset import BLOCKING, WARNING, Dataset
from reports.availability import NEEDS, RELATION as AVAILABILITY

SUITE = "collapse"
ACCEPT_FLAG = "--accept-collapse"

# One scan of each mart the measures read.
SOURCES = {
    "cases": "marts.fct_cases",
    "motions": "marts.fct_motions",
    "clients": "marts.dim_clients",
    "convictions": "marts.fct_convictions",
    "immigration_events": "marts.fct_immigration_events",
    "removal": "marts.mart_removal_avoided",
    "time_entries": "marts.fct_time_entries",
}


@dataclass(frozen=True)
class Measure:
    name: str  # its column in MEASURES_SQL
    label: str  # what the printed sentence calls it
    source: str  # a key of SOURCES
    sql: str  # an aggregate over that mart
    lost: str  # what the exports may have lost when it collapses
    # A column's number of values ("went from 812 values to none") rather than a headline number.
    values: bool = False
    # Contract columns ("table.column") it rests on: a measure whose column the layout marks
    # not available in this run is not checked (the pages say "not available" instead of 0).
    needs: tuple[str, ...] = ()


def _values(source: str, column: str, where: str = "", whose: str = "", lost: str = "", needs: str = "") -> Measure:
    condition = f"{column} is not null" + (f" and {where}" if where else "")
    return Measure(f"{source}_{column}_values", f"{column} of {whose or source}", source,
                   f"count(*) filter (where {condition})", lost or f"a column ({column})", values=True,
                   needs=(needs or f"{source}.{column}",))


MEASURES = (
    # Headline numbers, as the dashboards' Overview and the grant reports count them.
    Measure("clients_served", "clients served", "cases", "count(distinct client_id)", "the cases file"),
    Measure("motions_filed", "motions filed", "motions", "count(*) filter (where is_filed)", "a column (filing_date)",
            needs=NEEDS["motions_filed"]),
    Measure("motions_decided", "motions decided", "motions", "count(*) filter (where is_decided)",
            "a column (outcome or decision_date)", needs=NEEDS["motions_decided"]),
    Measure("motions_granted", "motions granted", "motions", "count(*) filter (where is_granted)",
            "a column (outcome) or the mapping of its values", needs=NEEDS["motions_granted"]),
    Measure("vacaturs_granted", "vacaturs granted", "motions", "count(*) filter (where is_vacatur_granted)",
            "a column (result_type)", needs=NEEDS["vacaturs_granted"]),
    Measure("removal_avoided", "removal avoided (confirmed and projected clients)", "removal",
            "count(*) filter (where removal_avoided_status in ('confirmed', 'projected'))",
            "the immigration events file or a column of removal exposure (in_removal_proceedings, "
            "final_removal_order, detained_at_intake, removal_ground)", needs=NEEDS["clients_removal_avoided"]),
    Measure("pro_bono_hours", "pro bono hours", "time_entries", "coalesce(sum(hours), 0)",
            "the time entries file or a column (hours)", needs=NEEDS["pro_bono_hours"]),
    # Steps of the funnel that are not headline numbers.
    Measure("cases_screened", "cases screened", "cases", "count(*)", "the cases file"),
    Measure("cases_eligible", "cases eligible", "cases", "count(*) filter (where eligibility = 'eligible')",
            "a column (eligibility) or the mapping of its values", needs=NEEDS["cases_eligible"]),
    Measure("cases_referred", "cases referred", "cases", "count(*) filter (where referral_date is not null)",
            "a column (referral_date)", needs=NEEDS["cases_referred"]),
    # Columns the metrics need, by their number of values (filing dates are motions filed).
    _values("motions", "decision_date"),
    _values("motions", "result_type", "is_granted", "granted motions"),
    _values("motions", "grant_ground", "is_granted", "granted motions"),
    _values("cases", "partner_firm"),
    _values("clients", "immigration_status"),
    _values("clients", "in_removal_proceedings"),
    _values("clients", "final_removal_order"),
    _values("clients", "detained_at_intake"),
    _values("clients", "age_at_intake", lost="a column (date_of_birth)", needs="clients.date_of_birth"),
    _values("convictions", "removal_ground"),
    Measure("immigration_events", "immigration events", "immigration_events", "count(*)",
            "the immigration events file", needs=("immigration_events.event_type",)),
)
BY_NAME = {m.name: m for m in MEASURES}
# The case funnel's steps, each counted on its own (not nested as in mart_funnel, where a
# step that lost its column would take every later step down to 0 with it).
FUNNEL = ("cases_screened", "cases_eligible", "cases_referred", "motions_filed", "motions_decided", "motions_granted")

MEASURES_SQL = "select * from " + ", ".join(
    "(select " + ", ".join(f"cast({m.sql} as double) as {m.name}" for m in MEASURES if m.source == source)
    + f" from {table})"
    for source, table in SOURCES.items()
)


@dataclass
class Published:
    """The published version's measures (empty when they could not be read: `note` says why)."""
    run_id: str | None
    values: dict[str, float] = field(default_factory=dict)
    note: str | None = None


def published_measures(published: Path | None) -> Published | None:
    """The measures of the published database, read through a short-lived read-only
    connection; None when there is no published version yet."""
    if published is None or not published.exists():
        return None
    with duckdb.connect(str(published), read_only=True) as con:
        try:
            (run_id,) = con.execute(
                "select max_by(run_id, finished_at) from pipeline.runs where status = 'published'").fetchone()
        except duckdb.Error:
            run_id = None  # built outside `pcr run`: no run record
        try:
            relation = con.execute(MEASURES_SQL)
            names = [d[0] for d in relation.description]
            values = dict(zip(names, relation.fetchone()))
        except duckdb.Error as e:
            # Marts of an older version of the project: nothing to compare until this run publishes.
            return Published(run_id, note=f"the published database could not be measured "
                                          f"({str(e).splitlines()[0]}): only the funnel was checked")
    return Published(run_id, values)


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _number(column: str) -> str:
    """A count with thousands separators; hours keep one decimal where they have one."""
    return (f"case when {column} = round({column}) then format('{{:,}}', cast({column} as bigint)) "
            f"else format('{{:,.1f}}', {column}) end")


def datasets(published: Published | None, accept: bool = False) -> list[Dataset]:
    """`published`: what published_measures() read (None on a first run); `accept`: the user
    accepted the collapse (`--accept-collapse`), so the check warns instead of blocking."""
    advice = f"accepted with {ACCEPT_FLAG}" if accept else f"rerun with {ACCEPT_FLAG} if this is true"
    against = f"against the published data (run {published.run_id})" if published and published.run_id \
        else "against the published data"
    previous = [(name, value) for name, value in (published.values if published else {}).items()
                if name in BY_NAME and value is not None]
    described = ", ".join(f"({_text(m.name)}, {_text(m.label)}, {_text(m.lost)}, {str(m.values).lower()}, "
                          f"cast([{', '.join(_text(c) for c in m.needs)}] as varchar[]))"
                          for m in MEASURES)
    steps = ", ".join(f"({i}, {_text(name)})" for i, name in enumerate(FUNNEL))
    sql = f"""
        with this_run as (
            unpivot ({MEASURES_SQL}) on columns(*) into name measure value value
        ),
        described(measure, label, lost, is_values, needs) as (values {described}),
        -- Columns the layouts of this run's exports mark not available: what rests on them is
        -- "not available" on every page and report, not a number that collapsed.
        declared as (
            select contract_table || '.' || contract_column as needed from marts.{AVAILABILITY} where marked_not_available
        ),
        checked as (
            select d.*, not exists (select 1 from declared where list_contains(d.needs, declared.needed)) as is_checked
            from described d
        ),
        published(measure, value) as (
            {"values " + ", ".join(f"({_text(n)}, cast({v!r} as double))" for n, v in previous) if previous
             else "select null::varchar, null::double where false"}
        ),
        steps(step, measure) as (values {steps}),
        -- Each checked step against the next checked one.
        checked_steps as (
            select s.step, s.measure, lead(s.measure) over (order by s.step) as next_measure
            from steps s join checked c using (measure) where c.is_checked
        ),
        against_published as (
            select 'against published' as "check", d.measure, p.value as published, t.value as this_run,
                   null::double as next_step,
                   case when d.is_checked and p.value > 0 and coalesce(t.value, 0) = 0 then
                       d.label || ' went from ' || {_number('p.value')}
                       || case when d.is_values then ' values to none ' else ' to 0 ' end
                       || {_text(against)} || ': the exports may have lost ' || d.lost || '; ' || {_text(advice)}
                   end as collapse
            from checked d join published p using (measure) left join this_run t using (measure)
        ),
        funnel as (
            select 'funnel' as "check", d.measure, null::double, t.value, n.value,
                   case when t.value = 0 and n.value > 0 then
                       d.label || ' is 0 while ' || dn.label || ' is ' || {_number('n.value')}
                       || ' in this run: the exports may have lost ' || d.lost || '; ' || {_text(advice)}
                   end
            from checked_steps s
            join described d on d.measure = s.measure
            join described dn on dn.measure = s.next_measure
            join this_run t on t.measure = s.measure
            join this_run n on n.measure = s.next_measure
        )
        select * from against_published union all select * from funnel
        order by "check", measure
    """
    return [
        Dataset(
            SUITE,
            "measures",
            sql,
            key=("check", "measure"),
            message="collapse",
            expectations=[
                gx.expectations.ExpectColumnValuesToBeNull(
                    column="collapse", severity=WARNING if accept else BLOCKING,
                    description="A headline number or a column the metrics need went from values to none "
                                "against the published data, or a funnel step is 0 while the next is not",
                ),
            ],
        )
    ]
