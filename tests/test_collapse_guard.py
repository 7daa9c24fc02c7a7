"""The collapse guard (expectations/collapse.py): an export that lost a column must not publish
plausible zeros. Real `pcr run` on `pcr samples` exports (real ingest, dbt, GX, publish), and
the suite itself through `expectations.runner.validate` on copies of the published database."""
from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pcr.publish import working_path
from test_pipeline import Env, query, sha256

ADVICE = "rerun with --accept-collapse if this is true"
ACCEPTED = "accepted with --accept-collapse"
MOTIONS = "motions_2026-10-31.csv"
# A later export of the same motions: it supersedes the published versions of every record.
MOTIONS_LATER = "motions_2026-11-01.csv"


def _samples(out: Path) -> Path:
    """One canonical CSV export of a small synthetic program (one file per table)."""
    subprocess.run([sys.executable, "-m", "pcr.cli", "samples", "--out", str(out), "--motions", "150",
                    "--seed", "14", "--layouts", "canonical", "--formats", "csv"],
                   check=True, capture_output=True, text=True)
    return out / "canonical" / "csv"


def _without_filing_date(motions: Path, out_dir: Path) -> Path:
    """The motions file as an export whose layout no longer reads the filing date."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with motions.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and "filing_date" in rows[0]
    columns = [c for c in rows[0] if c != "filing_date"]
    target = out_dir / MOTIONS_LATER
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return target


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Env, Path]:
    """A good run of the generated exports, published."""
    root = tmp_path_factory.mktemp("collapse")
    env = Env(root, root / "hmac.key")
    exports = _samples(root / "samples")
    result = env.run(exports)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "collapse.measures" not in result.stdout
    return env, exports


@pytest.fixture
def env(published, tmp_path) -> Env:
    source, _ = published
    (tmp_path / "var").mkdir()
    shutil.copyfile(source.published, tmp_path / "var" / "pcr.duckdb")
    return Env(tmp_path, source.key)


def _summary_sentences(out: str) -> list[str]:
    """The sentences the run summary lists last, one per collapsed measure."""
    summary = out[out.index("Summary of run"):]
    return [line[4:] for line in summary.splitlines() if line.startswith("  - ")]


def _published_run(db: Path) -> tuple[str, int]:
    (run_id, filed), = query(db, "select (select max_by(run_id, finished_at) from pipeline.runs), "
                                 "(select count(*) from marts.fct_motions where is_filed)")
    return run_id, filed


def test_a_lost_filing_date_column_blocks_the_run_and_names_the_measure(env, published):
    _, exports = published
    run_id, filed = _published_run(env.published)
    assert filed > 0
    before = sha256(env.published)

    result = env.run(_without_filing_date(exports / MOTIONS, env.root / "later"))

    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert sha256(env.published) == before
    working = working_path(env.published)
    (decided,), = query(working, "select count(*) from marts.fct_motions where is_decided")
    assert decided > 0
    against = (f"motions filed went from {filed:,} to 0 against the published data (run {run_id}): "
               f"the exports may have lost a column (filing_date); {ADVICE}")
    funnel = (f"motions filed is 0 while motions decided is {decided:,} in this run: "
              f"the exports may have lost a column (filing_date); {ADVICE}")
    assert f"               {against}\n" in out and f"               {funnel}\n" in out
    assert "FAILED at validate: 1 blocking expectation(s) failed" in out and "NOT published" in out
    # The summary, last, names each measure again, and nothing else collapsed.
    assert "BLOCKING collapse.measures:\n" in out[out.index("Summary of run"):]
    assert _summary_sentences(out) == [against, funnel]
    (severity, success, examples), = query(
        working, "select severity, success, examples from pipeline.validation_results v "
                 "join pipeline.runs r using (run_id) where r.status = 'failed' and v.suite = 'collapse'")
    assert (severity, success) == ("blocking", False)
    assert against in examples and funnel in examples


def test_accept_collapse_publishes_the_change_and_records_it_as_a_warning(env, published):
    _, exports = published
    run_id, filed = _published_run(env.published)
    later = _without_filing_date(exports / MOTIONS, env.root / "later")

    result = env.run(later, "--accept-collapse")

    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Published" in out
    against = (f"motions filed went from {filed:,} to 0 against the published data (run {run_id}): "
               f"the exports may have lost a column (filing_date); {ACCEPTED}")
    assert "WARNING  collapse.measures:" in out and against in out and ADVICE not in out
    assert query(env.published, "select count(*) from marts.fct_motions where is_filed") == [(0,)]
    (status, warnings, blocking), = query(
        env.published, "select status, warnings, blocking_failures from pipeline.runs order by finished_at desc limit 1")
    assert (status, warnings, blocking) == ("published", 1, 0)
    (severity, examples), = query(
        env.published, "select severity, examples from pipeline.validation_results v join pipeline.runs r "
                       "using (run_id) where not v.success order by r.finished_at desc limit 1")
    assert severity == "warning" and against in examples

    # Against the version just accepted nothing collapses any more; the funnel break is in the
    # data itself and still needs the flag.
    again = env.run("--rebuild")
    assert again.returncode == 1
    (sentence,) = _summary_sentences(again.stdout)
    assert sentence.startswith("motions filed is 0 while motions decided is ") and sentence.endswith(ADVICE)


def test_a_funnel_break_fails_a_first_run(published, tmp_path):
    _, exports = published
    first = tmp_path / "first"
    shutil.copytree(exports, first, ignore=shutil.ignore_patterns(MOTIONS))
    _without_filing_date(exports / MOTIONS, first)
    env = Env(tmp_path, tmp_path / "hmac.key")

    result = env.run(first)

    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert not env.published.exists()
    (decided,), = query(working_path(env.published),
                        "select count(*) from marts.fct_motions where is_decided")
    assert _summary_sentences(out) == [f"motions filed is 0 while motions decided is {decided:,} in this run: "
                                       f"the exports may have lost a column (filing_date); {ADVICE}"]


# -- the suite on its own: validate() on copies of the published database (no dbt) ---------------

def _validate(db: Path, docs: Path, published: Path | None, accept: bool = False):
    from expectations.runner import validate

    v = validate(db, docs, published=published, accept_collapse=accept)
    (result,) = [r for r in v.results if r.suite == "collapse"]
    return v, result


def test_every_measure_is_named_when_the_marts_are_emptied(published, tmp_path):
    from expectations.collapse import MEASURES, published_measures

    env, _ = published
    db = tmp_path / "emptied.duckdb"
    shutil.copyfile(env.published, db)
    run_id, _ = _published_run(env.published)
    before = published_measures(env.published)
    assert before.run_id == run_id and before.note is None
    assert all(before.values[m.name] > 0 for m in MEASURES), before  # the samples give every measure values
    with duckdb.connect(str(db)) as con:
        for table in ("fct_cases", "fct_motions", "dim_clients", "fct_convictions", "fct_immigration_events",
                      "mart_removal_avoided", "fct_time_entries"):
            con.execute(f"delete from marts.{table}")

    v, r = _validate(db, tmp_path / "docs", env.published)

    assert (r.severity, r.success, r.unexpected_count) == ("blocking", False, len(MEASURES))
    assert r in v.blocking_failures
    named = {m.split(" went from ")[0] for m in r.messages}
    assert named == {m.label for m in MEASURES}
    assert all(f"against the published data (run {run_id}): the exports may have lost " in m for m in r.messages)
    hours = next(m for m in r.messages if m.startswith("pro bono hours"))
    assert hours.startswith(f"pro bono hours went from {before.values['pro_bono_hours']:,.1f} to 0 ")
    referral = next(m for m in r.messages if m.startswith("cases referred"))
    assert referral.endswith(f"the exports may have lost a column (referral_date); {ADVICE}")


def test_a_column_emptied_is_named_by_its_values_and_accepting_makes_it_a_warning(published, tmp_path):
    env, _ = published
    db = tmp_path / "no_referrals.duckdb"
    shutil.copyfile(env.published, db)
    (referred, filed), = query(env.published, "select count(*) filter (where referral_date is not null), "
                                              "(select count(*) from marts.fct_motions where is_filed) "
                                              "from marts.fct_cases")
    (grounds,), = query(env.published, "select count(grant_ground) from marts.fct_motions where is_granted")
    with duckdb.connect(str(db)) as con:
        con.execute("update marts.fct_cases set referral_date = null")
        con.execute("update marts.fct_motions set grant_ground = null")
    run_id, _ = _published_run(env.published)

    _, r = _validate(db, tmp_path / "docs", env.published)
    assert r.severity == "blocking" and sorted(r.messages) == sorted([
        f"cases referred went from {referred:,} to 0 against the published data (run {run_id}): "
        f"the exports may have lost a column (referral_date); {ADVICE}",
        f"grant_ground of granted motions went from {grounds:,} values to none against the published data "
        f"(run {run_id}): the exports may have lost a column (grant_ground); {ADVICE}",
        f"cases referred is 0 while motions filed is {filed:,} in this run: "
        f"the exports may have lost a column (referral_date); {ADVICE}",
    ])

    v, r = _validate(db, tmp_path / "docs2", env.published, accept=True)
    assert r.severity == "warning" and not r.success and r not in v.blocking_failures
    assert len(r.messages) == 3 and all(m.endswith(ACCEPTED) for m in r.messages)


def test_an_unchanged_build_passes_and_a_published_file_it_cannot_measure_is_said(published, tmp_path):
    env, _ = published
    _, r = _validate(env.published, tmp_path / "docs", env.published)
    assert r.success and r.messages == [] and r.unexpected_count == 0

    older = tmp_path / "older.duckdb"
    shutil.copyfile(env.published, older)
    with duckdb.connect(str(older)) as con:
        con.execute("alter table marts.fct_motions drop column is_vacatur_granted")
    v, r = _validate(env.published, tmp_path / "docs2", older)
    assert r.success
    assert len(v.notes) == 1 and v.notes[0].startswith("the published database could not be measured (")
    assert v.notes[0].endswith("): only the funnel was checked")
