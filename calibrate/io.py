"""calibrate's view of a user's table: missing values as NA, and required columns.

The file itself is read by :mod:`safecal.annotate.readers` (the one reader every command
uses: formats, ``--encoding``, limits and line numbers are decided there). It gives every
value as text, a missing one as ``""``; calibrate's statistics count a missing gold label,
verdict or score as NA (not labelled, not judged), so the commands convert once, with
:func:`blank_as_missing`, right after reading.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.readers import read_table

__all__ = ["blank_as_missing", "read_table", "require_columns"]


def blank_as_missing(table: pd.DataFrame) -> pd.DataFrame:
    """``""`` and whitespace-only cells as NA (missing), every other value unchanged."""
    blank = table.apply(lambda col: col.astype("string").str.strip().eq("").fillna(False))
    return table.mask(blank.astype(bool))


def require_columns(
    table: pd.DataFrame,
    columns: Iterable[str | None],
    *,
    source: str = "the table",
    option: str | None = None,
) -> None:
    """Fail naming the first missing column and listing the available ones."""
    for col in columns:
        if col is not None and col not in table.columns:
            via = f" (from {option})" if option else ""
            raise InputError(
                f"{source}: no column {col!r}{via}; available columns: "
                f"{', '.join(map(str, table.columns))}"
            )
