"""The Great Expectations Data Docs of a run, made fit to show inside the app and offline.

Great Expectations writes each run's Data Docs as static HTML (`var/data_docs/<run id>/`) that
fetch Bootstrap, jQuery, bootstrap-table, Vega and fonts from CDNs and build the index's tables
in the browser from data in a script: without the network the pages show empty tables. Here a
page is read from disk, its external scripts, stylesheets and images are removed, each table
the scripts would fill is written out as a plain HTML table, the local stylesheet is inlined and
links to other pages of the same Data Docs become links into the app's Data Docs page. Nothing
of the result is fetched from anywhere. No Streamlit here (the page is
dashboards/views/data_docs.py)."""
from __future__ import annotations

import ast
import html
import re
from pathlib import Path
from urllib.parse import quote

from reports.vocabulary import MISSING

_EXTERNAL_TAG = re.compile(r"<(script|link|img)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//[^>]*>(\s*</script>)?", re.IGNORECASE)
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.IGNORECASE | re.DOTALL)
_TABLE_CALL = re.compile(r"\$\(['\"]#([\w-]+)['\"]\)\.bootstrapTable\(")
_LOCAL_STYLESHEET = re.compile(r"<link\b[^>]*href=[\"']([^\"']+\.css)[\"'][^>]*>", re.IGNORECASE)
_LINK = re.compile(r"href=([\"'])([^\"'#:]+\.html)(#[^\"']*)?\1", re.IGNORECASE)
_HANDLER = re.compile(r"\son[a-z]+\s*=\s*(\"[^\"]*\"|'[^']*')", re.IGNORECASE)
_FONT_FACE = re.compile(r"@font-face\s*{[^}]*}", re.IGNORECASE)
_FOOTER = re.compile(r"<footer\b.*?</footer>", re.IGNORECASE | re.DOTALL)  # Great Expectations' newsletter
_TEXT_NODE = re.compile(r"(<style\b.*?</style>)|>([^<]+)<", re.IGNORECASE | re.DOTALL)
# A run name the pipeline never sets, which Great Expectations writes as __none__.
_NO_VALUE = "__none__"
# Index columns that say nothing of their own: the run name is never set, and each batch is
# named after its asset (pcr-<asset>).
_DROPPED_COLUMNS = {"run_name", "batch_identifier"}
# The index's headers as the Data quality page calls the same things.
_HEADERS = {"asset_name": "Table checked", "expectation_suite_name": "Checks", "run_time": "Checked at"}
_REMOTE_URL = re.compile(r"url\(\s*['\"]?(https?:)?//[^)]*\)", re.IGNORECASE)  # a background image from a CDN
# A few rules of our own so the pages read without Bootstrap: tables with lines, tabs as headings.
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 14px; margin: 0 8px; color: #222; }
table { border-collapse: collapse; margin: 6px 0 14px; width: 100%; table-layout: fixed; }
td, th { overflow-wrap: break-word; }
a { word-break: normal !important; } /* Great Expectations sets break-all on its links, which splits words */
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.nav-tabs { list-style: none; padding: 0; } .nav-tabs li { display: inline; margin-right: 12px; }
.cooltip .top, .hide-succeeded-validations-column-section, button, .navbar, #ge-cta-footer { display: none; }
.text-success { color: #007a55; } .text-danger { color: #b03000; }
.fa-check-circle::before { content: "✔ met"; } .fa-times::before, .fa-times-circle::before { content: "✘ not met"; }
"""


class DocsNotFound(LookupError):
    """No such page in this run's Data Docs (or a path outside them)."""


def pages(root: Path) -> list[str]:
    """The HTML pages of one run's Data Docs, relative to its folder, index first."""
    found = sorted(str(p.relative_to(root)) for p in root.rglob("*.html"))
    return sorted(found, key=lambda p: (p != "index.html", p))


def page_path(root: Path, page: str) -> Path:
    """The file of ``page``, which must be an HTML page inside ``root``."""
    target = (root / page).resolve()
    if target.suffix != ".html" or root.resolve() not in target.parents or not target.is_file():
        raise DocsNotFound(f"{page} is not a page of these Data Docs")
    return target


def render(root: Path, page: str, link, names: dict[str, str] | None = None) -> str:
    """``page`` of the Data Docs in ``root`` as self-contained HTML; ``link(page)`` gives the
    address another page of them is shown at; ``names`` maps Great Expectations' names of the
    validations (suite.dataset) to the words the app shows for them."""
    path = page_path(root, page)
    text = path.read_text(encoding="utf-8", errors="replace")
    text = _fill_tables(text)
    text = _FOOTER.sub("", text)
    text = _SCRIPT.sub("", text)
    text = _HANDLER.sub("", text)  # onclick= and the like: the scripts they call are gone
    text = _EXTERNAL_TAG.sub("", text)
    styles = []
    for match in _LOCAL_STYLESHEET.finditer(text):
        sheet = (path.parent / match.group(1)).resolve()
        if root.resolve() in sheet.parents and sheet.is_file():
            styles.append(_FONT_FACE.sub("", sheet.read_text(encoding="utf-8", errors="replace")))
    text = _LOCAL_STYLESHEET.sub("", text)
    text, styles = _REMOTE_URL.sub("none", text), [_REMOTE_URL.sub("none", sheet) for sheet in styles]
    text = re.sub(r"<img\b[^>]*>", "", text, flags=re.IGNORECASE)  # logos and icons: files the page cannot reach

    def relink(match: re.Match) -> str:
        target = (path.parent / match.group(2)).resolve()
        try:
            relative = str(target.relative_to(root.resolve()))
        except ValueError:
            return 'href="#"'
        return f'href="{html.escape(link(relative))}" target="_blank" rel="noopener"'

    text = _LINK.sub(relink, text)
    text = _in_words(text, names or {})
    style = "<style>" + "\n".join(styles) + _STYLE + "</style>"
    return text.replace("</head>", style + "</head>", 1) if "</head>" in text else style + text


def _fill_tables(text: str) -> str:
    """Write out, as plain rows, every table a bootstrap-table script would fill in the browser."""
    for script in _SCRIPT.findall(text):
        for call in _TABLE_CALL.finditer(script):
            table_id = call.group(1)
            columns = _literal_after(script, "columns:", call.end())
            data = _literal_after(script, "data:", call.end())
            if columns is None or data is None:
                continue
            columns = [c for c in columns if c.get("field") not in _DROPPED_COLUMNS]
            head = "".join(f"<th>{html.escape(str(_HEADERS.get(c.get('field'), c.get('title', c.get('field', '')))))}</th>"
                           for c in columns)
            body = "".join("<tr>" + "".join(f"<td>{_cell(row, c.get('field'), i == 0)}</td>" for i, c in enumerate(columns))
                           + "</tr>" for row in data)
            filled = f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
            text = re.sub(rf"<table\b[^>]*\bid=[\"']?{re.escape(table_id)}[\"']?[^>]*>.*?</table>", lambda _: filled, text,
                          count=1, flags=re.DOTALL)
    return text


def _in_words(text: str, names: dict[str, str]) -> str:
    """The text a reader sees (not tags, links or styles) with each validation's name in words and
    no __none__ or None."""
    pattern = re.compile(r"(?<![\w.])(?:pcr-)?(" + "|".join(map(re.escape, sorted(names, key=len, reverse=True))) + r")(?![\w])"
                         ) if names else None

    def rewrite(match: re.Match) -> str:
        if match.group(1):
            return match.group(1)
        words = match.group(2).replace(_NO_VALUE, MISSING)
        if words.strip() == "None":  # a field Great Expectations has no value for (the data asset of a data frame)
            words = words.replace("None", MISSING)
        if pattern:
            words = pattern.sub(lambda m: html.escape(names[m.group(1)]), words)
        return f">{words}<"

    return _TEXT_NODE.sub(rewrite, text)


def _cell(row: dict, field: str | None, first: bool) -> str:
    """A cell as Great Expectations wrote it; the first cell of a row that the page's script
    made clickable links to the row's page instead."""
    content = str(row.get(field, ""))
    link = row.get("_table_row_link_path")
    return f'<a href="{html.escape(str(link))}">{content}</a>' if first and link else content


def _literal_after(script: str, key: str, start: int):
    """The Python-readable list literal after ``key`` (Great Expectations writes them as repr()s)."""
    at = script.find(key, start)
    if at < 0:
        return None
    begin = script.find("[", at)
    depth, quote_char, i = 0, None, begin
    while i < len(script):
        char = script[i]
        if quote_char:
            if char == "\\":
                i += 1
            elif char == quote_char:
                quote_char = None
        elif char in "'\"":
            quote_char = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                try:
                    return ast.literal_eval(script[begin:i + 1])
                except (ValueError, SyntaxError):
                    return None
        i += 1
    return None


def page_link(run_id: str, page: str) -> str:
    """The app's address of a page of a run's Data Docs (relative to the app's root)."""
    return f"data_docs?run={quote(run_id)}&page={quote(page)}"
