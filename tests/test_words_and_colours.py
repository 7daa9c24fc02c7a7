"""What people read and the colours they see come from one place (reports/vocabulary.py):

- every page, for a program manager, a partner firm and a funder (AppTest on the real app and a
  database published by `pcr run`), draws each outcome, class and status in its one colour, and
  the grant report's charts (the PNGs in the PDF) do too;
- no page shows a raw column name, a mart's code, "None" or "(none)" in a table header, a cell of
  a text column, a tile's label, a chart's title, axis or legend;
- the palette keeps denied apart from granted in part and sentence modifications, and vermillion
  for adverse results only."""
from __future__ import annotations

import colorsys
import io
import json

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from matplotlib import image as mpimg
from streamlit.testing.v1 import AppTest

from e2e.support import (APP, FUNDER, MANAGER, PAGES, PARTNER, RAW_CELLS, RAW_NAME, build_published_db, busiest_firm, open_page,
                         raw_codes, write_roles)
from reports import vocabulary

ROLES = {"program manager": MANAGER, "partner firm": PARTNER, "funder": FUNDER}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    # The same folder as the other dashboard tests: one build serves them all.
    return build_published_db(tmp_path_factory.getbasetemp() / "dashboard_db", motions=1500)


@pytest.fixture(scope="module")
def words(published):
    return vocabulary.read(published).vocabulary()


@pytest.fixture(scope="module")
def pages_seen(published, tmp_path_factory):
    """Every page for every role: (role, page, AppTest elements read off it)."""
    roles_file = write_roles(tmp_path_factory.mktemp("roles") / "roles.yml", busiest_firm(published))
    seen = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PCR_DB", str(published))
        mp.setenv("PCR_ROLES_FILE", str(roles_file))
        mp.setenv("PCR_DATA_DIR", str(tmp_path_factory.mktemp("var")))
        st.config.set_option("server.address", "127.0.0.1")
        for role, user in ROLES.items():
            at = AppTest.from_file(str(APP), default_timeout=120)
            at.user = {"is_logged_in": True, "email": user, "email_verified": True}
            at.run()
            for page in PAGES:
                open_page(at, page)
                seen.append((role, page, {
                    "figures": [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")],
                    "tables": [(frame.value, json.loads(frame.proto.columns or "{}")) for frame in at.dataframe],
                    "metrics": [metric.label for metric in at.metric],
                }))
    return seen


def trace_colour(trace: dict) -> str | None:
    for colour in (trace.get("marker", {}).get("color"), trace.get("line", {}).get("color")):
        if isinstance(colour, str):
            return colour.upper()
    return None


def colours_drawn_on_pages(pages_seen, words) -> dict[str, set]:
    """code -> {(colour, role, page)} of every outcome, class and status a page's chart draws."""
    codes_of = {}  # legend text -> the code it names
    for code in [*vocabulary.COLOURS, *words.classes.short_labels]:
        codes_of.setdefault(words.label(code), code)
    drawn: dict[str, set] = {}
    for role, page, seen in pages_seen:
        for figure in seen["figures"]:
            for trace in figure["data"]:
                code = codes_of.get(str(trace.get("name")))
                if code is None or trace_colour(trace) is None:
                    continue  # a vehicle, a firm, a year: no meaning of its own
                drawn.setdefault(code, set()).add((trace_colour(trace), role, page))
    return drawn


def test_each_outcome_class_and_status_has_one_colour_on_every_page_and_role(pages_seen, words):
    drawn = colours_drawn_on_pages(pages_seen, words)
    # The charts drew outcomes, relief kinds and removal statuses for the test to compare.
    assert {"granted", "granted_in_part", "denied", "pending", "vacatur", "confirmed", "projected", "not_avoided"} <= set(drawn)
    for code, uses in drawn.items():
        colours = {colour for colour, _, _ in uses}
        assert colours == {vocabulary.colour(code).upper()}, (code, sorted(uses))
    assert len({page for uses in drawn.values() for _, _, page in uses}) >= 3
    assert {role for uses in drawn.values() for _, role, _ in uses} == set(ROLES)


def test_no_page_shows_a_code_a_column_name_or_none(pages_seen, words):
    codes, banned_cells = raw_codes(words), RAW_CELLS
    problems = []
    for role, page, seen in pages_seen:
        where = f"{page} ({role})"
        for label in seen["metrics"]:
            if RAW_NAME.match(label) or label in codes:
                problems.append(f"{where}: tile {label!r}")
        for frame, config in seen["tables"]:
            for column in frame.columns:
                header = (config.get(str(column)) or {}).get("label") or str(column)
                if RAW_NAME.match(header) or header in codes or header in banned_cells:
                    problems.append(f"{where}: header {header!r}")
                if frame[column].dtype == object:
                    for cell in set(frame[column].dropna().astype(str)):
                        if cell in codes or cell in banned_cells or RAW_NAME.match(cell):
                            problems.append(f"{where}: cell {cell!r} under {header!r}")
                if frame[column].isna().any():
                    problems.append(f"{where}: empty cells (shown as None) under {header!r}")
        for figure in seen["figures"]:
            layout = figure["layout"]
            texts = [layout.get("title", {}).get("text"), *(layout.get(axis, {}).get("title", {}).get("text")
                                                             for axis in ("xaxis", "yaxis"))]
            texts += [trace.get("name") for trace in figure["data"] if trace.get("showlegend", True) is not False]
            for trace in figure["data"]:  # category labels on the axes
                for axis in ("x", "y"):
                    values = trace.get(axis)
                    if isinstance(values, list) and values and isinstance(values[0], str):
                        texts += values
            for text in filter(None, texts):
                if RAW_NAME.match(str(text)) or str(text) in codes or str(text) in banned_cells:
                    problems.append(f"{where}: chart text {text!r}")
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_palette_is_colour_blind_safe_and_keeps_denied_apart():
    def hue(code: str) -> float:
        r, g, b = (int(vocabulary.colour(code)[i:i + 2], 16) / 255 for i in (1, 3, 5))
        return colorsys.rgb_to_hsv(r, g, b)[0] * 360

    def apart(a: float, b: float) -> float:
        return min(abs(a - b), 360 - abs(a - b))

    for other in ("granted", "granted_in_part", "sentence_modification", "sentence_modification_honoured"):
        assert apart(hue("denied"), hue(other)) >= 25, other
    # Vermillion means an adverse result and nothing else.
    assert {c for c, colour in vocabulary.COLOURS.items() if colour == vocabulary.colour("denied")} == {"denied", "not_avoided"}
    # Within each chart's family, every code its own colour.
    families = [("granted", "granted_in_part", "denied", "withdrawn", "pending"),
                ("vacatur_recognized", "uncertain", "not_recognized", "offense_reduction", "sentence_modification_honoured",
                 "sentence_modification_not_honoured", "rehabilitative"),
                ("vacatur", "offense_reduction", "sentence_modification", "rehabilitative"),
                ("confirmed", "projected", "administrative_closure", "partial_relief", "none_yet", "no_effective_relief",
                 "not_avoided")]
    for family in families:
        assert len({vocabulary.colour(code) for code in family}) == len(family), family
    # Colours of meaning come from the Okabe-Ito palette or are greys.
    for code, colour in vocabulary.COLOURS.items():
        r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
        assert colour.upper() in {c.upper() for c in vocabulary.OKABE_ITO.values()} or r == g == b or code == "last_year", code


def bar_colours(png: bytes) -> set[str]:
    """The colours that fill bars in a rendered chart: any colour but the white ground and the
    black text and axes that covers many pixels (a bar; a letter's anti-aliased edge does not)."""
    pixels = (mpimg.imread(io.BytesIO(png))[..., :3] * 255).round().astype(int).reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    return {"#{:02X}{:02X}{:02X}".format(*c) for c, n in zip(colours, counts)
            if n > 400 and "#{:02X}{:02X}{:02X}".format(*c) not in ("#FFFFFF", "#000000")}


def test_the_grant_report_charts_use_the_pages_colours(published, pages_seen, tmp_path, words):
    """The PDF's charts draw each class and status in the colour the dashboards' charts draw it
    in (read off the pictures), and in no other colour."""
    from pcr.commands.report import rebuild_models
    from pcr.settings import Settings
    from reports import asof, render
    from reports.build import build_report
    from reports.grants import load_grants, parse_period

    on_pages = {code: {colour for colour, _, _ in uses} for code, uses in colours_drawn_on_pages(pages_seen, words).items()}
    grants = load_grants(APP.parent.parent / "config" / "grants.example.yml")
    grant = grants.grants["CBF-2025-PCR"]
    period = parse_period("grant", grant)
    version = asof.prepare(period, grant.close_after_days, published, work_dir=tmp_path / "asof",
                           rebuild=rebuild_models(Settings.from_env()), as_known_now=True)
    report = build_report(grant, period, version, threshold=1)  # nothing hidden: every bar drawn
    tables = {t.key: t for t in report.tables}
    charts = {chart.title.split(" (")[0].split(",")[0]: chart for chart in render.report_charts(report)}
    relief = charts["Relief granted in the period"]
    removal = charts["Clients with removal exposure"]
    assert relief.png and removal.png

    def page_colour(code: str) -> str:
        # A class a page draws has that page's colour; one no page draws in this data, the vocabulary's.
        (colour,) = on_pages.get(code, {vocabulary.colour(code).upper()})
        return colour

    relief_codes = {code for key in ("vacaturs", "beside_vacaturs") for label, code in tables[key].codes.items()
                    if label in tables[key].numeric.columns and tables[key].numeric.loc["Total", label] > 0}
    assert relief_codes & set(on_pages), "no class of the report's chart is drawn on a page to compare with"
    expected = {page_colour(code) for code in relief_codes}
    assert expected and expected <= bar_colours(relief.png), (relief_codes, bar_colours(relief.png))
    # No other hue: a colour in the chart is one of its classes' (greys can be anti-aliased text).
    assert {c for c in bar_colours(relief.png) if not c[1:3] == c[3:5] == c[5:7]} <= expected

    # Removal avoided is drawn as its confirmed and projected clients, as the pages draw them.
    counts = {code: table.numeric.loc[label].iloc[0] for table in (tables["removal_avoided"], tables["removal_avoided_split"])
              for label, code in table.codes.items() if label in table.numeric.index}
    removal_codes = {code for code, n in counts.items() if n > 0 and code != "avoided"}
    assert {"confirmed", "projected"} <= removal_codes and {"confirmed", "projected"} <= set(on_pages)
    drawn = {page_colour(code) for code in removal_codes}
    assert drawn <= bar_colours(removal.png), (removal_codes, bar_colours(removal.png))
    assert {c for c in bar_colours(removal.png) if not c[1:3] == c[3:5] == c[5:7]} <= drawn
    # Administrative closure's reddish purple only where administrative closure is drawn.
    purple = vocabulary.colour("administrative_closure").upper()
    assert (purple in bar_colours(removal.png)) == ("administrative_closure" in removal_codes)


def test_no_two_curves_of_a_chart_look_alike():
    """More groups than the palette has colours (a county or firm comparison): each curve is
    still told apart by its colour and dash."""
    from dashboards import charts

    groups = [f"group {i}" for i in range(len(vocabulary.SERIES_COLOURS) + 4)]
    curves = pd.DataFrame({"group": [g for g in groups for _ in range(2)], "t_days": [30, 90] * len(groups),
                           "survival": [0.8, 0.4] * len(groups)})
    figure = charts.survival_curves(curves, title="Time to resolution", order=groups)
    looks = [(trace.line.color, trace.line.dash) for trace in figure.data if trace.showlegend is not False]
    assert len(looks) == len(groups) and len(set(looks)) == len(groups)
