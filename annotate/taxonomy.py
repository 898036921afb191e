"""The benchmark's category taxonomy (USB-SafeBench: 3 / 16 / 61 categories).

The bundled copy is ``annotate/data/usb-taxonomy.csv``; ``--taxonomy FILE``
takes another table (any format :mod:`annotate.readers` reads, in the command's
``--encoding``) with at least the columns ``level1_category``,
``level2_category`` and ``level3_category``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from safecal.annotate.errors import InputError

_COLUMNS = ("level1_category", "level2_category", "level3_category")


@dataclass(frozen=True)
class Taxonomy:
    """Known categories at each level, and the table they came from."""

    table: pd.DataFrame
    source: str

    @property
    def level1(self) -> frozenset[str]:
        return frozenset(self.table["level1_category"])

    @property
    def level2(self) -> frozenset[str]:
        return frozenset(self.table["level2_category"])

    @property
    def level3(self) -> frozenset[str]:
        return frozenset(self.table["level3_category"])

    def level(self, n: int) -> frozenset[str]:
        return frozenset(self.table[f"level{n}_category"])


def load_taxonomy(path: str | Path | None = None, *, encoding: str = "utf-8") -> Taxonomy:
    """Load a taxonomy table; ``None`` gives the bundled USB-SafeBench taxonomy."""
    if path is None:
        ref = resources.files("safecal.annotate") / "data" / "usb-taxonomy.csv"
        with resources.as_file(ref) as p:
            table = pd.read_csv(p, dtype=str)
        source = "USB-SafeBench taxonomy (bundled)"
    else:
        from safecal.annotate.readers import read_table

        table = read_table(Path(path), encoding=encoding).apply(lambda col: col.str.strip())
        source = str(path)
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"{source}: taxonomy lacks column(s) {', '.join(missing)}; "
            f"a taxonomy CSV needs {', '.join(_COLUMNS)}"
        )
    return Taxonomy(table=table.fillna(""), source=source)
