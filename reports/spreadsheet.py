"""Cells that are safe to open in a spreadsheet: the one place every download and report
(dashboard CSVs, grant report CSV and XLSX) neutralises text that would start a formula.

OWASP "CSV injection": Excel and LibreOffice run a cell beginning with = + - @ as a formula,
and a leading tab or carriage return hides such a start from a naive check. Text from the
exports reaches the files (firm and county names, vehicle labels), so any text cell with one
of these first characters gets a leading apostrophe, which both programs show as text.
Numbers stay numbers: a float or integer is never read as a formula.
"""
from __future__ import annotations

import io
import re

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# A negative number as the pages write it (-2, -1,234, -0.5): a spreadsheet reads it as a number, never runs it.
_NEGATIVE_NUMBER = re.compile(r"-(\d{1,3}(,\d{3})+|\d+)(\.\d+)?")


def neutralise(value: object) -> str:
    """``value`` as text, with an apostrophe in front when it would start a formula."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) and not _NEGATIVE_NUMBER.fullmatch(text) else text


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells and column names are neutralised; numbers and blanks unchanged."""
    safe = frame.copy()
    safe.columns = [neutralise(c) if isinstance(c, str) else c for c in safe.columns]
    for column in safe.columns:
        if not (pd.api.types.is_numeric_dtype(safe[column]) or pd.api.types.is_bool_dtype(safe[column])):
            safe[column] = safe[column].map(lambda v: neutralise(v) if isinstance(v, str) else v)
    return safe


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as a UTF-8 CSV download, neutralised. Lines end in CRLF (RFC 4180), which also
    makes the writer quote a cell holding a lone carriage return instead of breaking the row."""
    out = io.StringIO()
    neutralise_frame(frame).to_csv(out, index=False, lineterminator="\r\n")
    return out.getvalue().encode("utf-8")
