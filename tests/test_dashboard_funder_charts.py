"""The charts a funder sees never draw a hidden number as a gap that reads as 0: run by AppTest
on a real published database (synthetic exports through `pcr run`). Each chart draws only the
categories whose numbers are all shown (on a time axis a left-out period keeps its place, empty
and marked with the table's markers), its one sentence counts what it left out of what it
draws, and nothing says it twice; a program manager's charts draw every category."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import streamlit as st
import streamlit.testing.v1.app_test as app_test_module
from streamlit.testing.v1 import AppTest

from dashboards import charts
from e2e.support import APP, FUNDER, MANAGER, Recording, build_published_db, busiest_firm, open_page, write_roles
from test_dashboard_overview_firms import numbers

THRESHOLD = 11
CHART_PAGES = ["overview", "vacaturs", "removal"]
LEFT_OUT = re.compile(r"^Not drawn, as numbers of them are hidden to protect small counts: (?P<parts>.*?)"
                      r"(; the table (above|below) has every number)?\.$")
COUNTED = re.compile(r"(?P<k>\d+) of (?P<n>\d+) (?P<what>\w+) \((?P<labels>[^)]*)\)")


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    # The same folder as tests/test_dashboard.py: one build serves both.
    return build_published_db(tmp_path_factory.getbasetemp() / "dashboard_db", motions=1500)


@pytest.fixture
def env(pcr_env, published, monkeypatch, tmp_path):
    monkeypatch.setenv("PCR_DB", str(published))
    monkeypatch.setenv("PCR_ROLES_FILE", str(write_roles(tmp_path / "roles.yml", busiest_firm(published), THRESHOLD)))
    st.config.set_option("server.address", "127.0.0.1")
    Recording.files.clear()
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Recording)
    return published


def page_of(user: str, page: str, **state) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.user = {"is_logged_in": True, "email": user, "email_verified": True}
    return open_page(at.run(), page, **state)


def drawn(spec: dict) -> tuple[list[str], dict[str, dict[str, float | None]]]:
    """The chart's categories in axis order and each trace's value at each (None: nothing drawn)."""
    categories, values = [], {}
    for trace in spec["data"]:
        horizontal = trace.get("orientation") == "h"
        labels = [str(c) for c in trace.get("y" if horizontal else "x") or []]
        amounts = numbers(trace, "x" if horizontal else "y")
        values[trace.get("name", "")] = dict(zip(labels, amounts))
        categories += [c for c in labels if c not in categories]
    return categories, values


def charts_of(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def left_out_sentences(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("Not drawn")]


@pytest.mark.parametrize("period", ["All time", "2025", "FY2025-26"])
@pytest.mark.parametrize("page", CHART_PAGES)
def test_a_funders_chart_draws_no_category_with_a_hidden_number_and_says_once_what_it_left_out(env, page, period):
    at = page_of(FUNDER, page, filter_period=period)
    assert not at.exception, at.exception
    specs = charts_of(at)
    sentences = left_out_sentences(at)
    counted_by_chart = []
    for spec in specs:
        title = spec["layout"]["title"]["text"]
        categories, values = drawn(spec)
        notes = [a["text"] for a in spec["layout"].get("annotations", [])]
        # No note about hidden numbers inside the chart: the one sentence under it says it.
        assert not any("numbers hidden" in n or "small counts" in n for n in notes), (title, notes)
        empty = []
        for category in categories:
            at_category = [trace.get(category) for trace in values.values() if category in trace]
            missing = [v is None or (isinstance(v, float) and np.isnan(v)) for v in at_category]
            # A category is drawn whole or not at all: a part missing from it would read as 0.
            assert all(missing) or not any(missing), f"{page} {period} {title}: {category} drawn in part: {at_category}"
            if all(missing):
                empty.append(category)
        if empty:
            assert charts.is_time_axis(categories), f"{title}: {empty} left on an axis that is no time axis"
            # Each marker sits at its period's position on the axis (a number past the last would
            # stretch the axis and squeeze every bar against one edge).
            marks = [a for a in spec["layout"].get("annotations", []) if a.get("textangle") == -90]
            assert all(isinstance(a["x"], int) and 0 <= a["x"] < len(categories) for a in marks), marks
            marked = {categories[a["x"]]: a["text"] for a in marks}
            for category in empty:  # its place says what the table shows instead
                assert category in marked, f"{title}: {category} is an unmarked gap"
                assert re.search(r"&lt;11|withheld|fewer than", marked[category]), marked[category]
        counted_by_chart.append((title, categories, empty))
    # Each sentence counts the categories of one chart on the page and names the ones it left out.
    for sentence in sentences:
        match = LEFT_OUT.match(sentence)
        assert match, sentence
        counts = COUNTED.search(match["parts"])
        if not counts:
            continue  # only series left out (most of their numbers hidden): named, not counted
        k, n = int(counts["k"]), int(counts["n"])
        named = counts["labels"].split(", each marked")[0].replace(" and ", ", ").split(", ")
        fits = [c for c in counted_by_chart
                if (len(c[1]) == n and len(c[2]) == k and set(named) <= set(c[2]))  # time axis: kept, empty
                or (len(c[1]) == n - k and not set(named) & set(c[1]))]  # elsewhere: taken off
        assert fits, f"{page} {period}: {sentence!r} matches no chart: {[(t, len(c), e) for t, c, e in counted_by_chart]}"
        assert 2 * k <= n, f"{sentence}: most of the chart left out, yet drawn"
    assert len(sentences) <= len(specs), sentences
    assert len(set(sentences)) == len(sentences), f"a sentence said twice: {sentences}"


@pytest.mark.parametrize("page", CHART_PAGES)
def test_a_program_managers_charts_draw_every_category(env, page):
    at = page_of(MANAGER, page)
    assert not at.exception, at.exception
    assert not left_out_sentences(at)
    specs = charts_of(at)
    assert specs
    for spec in specs:
        categories, values = drawn(spec)
        assert categories, spec["layout"]["title"]["text"]
        for trace in values.values():
            assert all(v is not None for v in trace.values()), spec["layout"]["title"]["text"]


def test_the_overview_counts_a_funders_trends_by_year_and_the_managers_by_quarter(env):
    funder = {spec["layout"]["title"]["text"]: drawn(spec)[0] for spec in charts_of(page_of(FUNDER, "overview"))}
    manager = {spec["layout"]["title"]["text"]: drawn(spec)[0] for spec in charts_of(page_of(MANAGER, "overview"))}
    assert len(manager["Motions decided and granted"]) == 12
    assert all(re.fullmatch(r"\d{4}-Q[1-4]", q) for q in manager["Motions decided and granted"])
    for title, categories in funder.items():
        assert categories and all(re.fullmatch(r"\d{4}", y) for y in categories), (title, categories)
        # The years the manager's twelve quarters fall in.
        assert categories == sorted({q[:4] for q in manager["Motions decided and granted"]}), title


def test_the_rule_keeps_what_is_shown_and_names_what_it_leaves_out():
    outcomes = pd.DataFrame({"granted": [333.0, np.nan, np.nan], "denied": [155.0, 18.0, np.nan]},
                            index=["PC 1473.7(a)(1)", "PC 18.5(b)", "PC 1473"])
    stacked = charts.cut(outcomes, stacked=True)
    assert list(stacked.numbers.index) == ["PC 1473.7(a)(1)"] and stacked.left_out == ["PC 18.5(b)", "PC 1473"]
    assert stacked.replaced  # two of three vehicles hidden: the one left would read as the whole
    years = pd.DataFrame({"confirmed": [40.0, np.nan, 35.0], "projected": [12.0, 20.0, 14.0],
                          "administrative_closure": [np.nan, 12.0, np.nan]}, index=["2023", "2024", "2025"])
    grouped = charts.cut(years)
    assert grouped.time_axis and grouped.series_left_out == ["administrative_closure"]
    assert grouped.left_out == ["2024"] and list(grouped.numbers.index) == ["2023", "2024", "2025"]
    assert grouped.numbers.loc["2024"].isna().all() and not grouped.replaced
    assert charts.cut(years, stacked=True).left_out == ["2023", "2024", "2025"]  # a stack loses no part
    whole = charts.cut(years.fillna(3.0))
    assert not whole.left_out and not whole.series_left_out and whole.numbers.equals(years.fillna(3.0))
