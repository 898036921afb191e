"""The catalog: the benchmark's items and the models' responses to them (reads only).

Tables (read): ``items``, ``responses``. Their writes (ingest) stay with
:mod:`annotate.items` and :mod:`annotate.responses` for now.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from safecal.annotate.store.workspace import Workspace

#: the columns of ``items`` a caller may ask for (the allow-list of :func:`items`)
ITEM_COLUMNS = (
    "item_id",
    "text",
    "text_zh",
    "image",
    "open_url",
    "aspect",
    "level1_category",
    "level2_category",
    "level3_category",
    "img_risk",
    "text_risk",
    "modality",
    "img_style",
    "extra",
    "source",
    "content_hash",
    "ingested_at",
)

#: the columns of ``responses`` a caller may ask for (the allow-list of :func:`responses`)
RESPONSE_COLUMNS = (
    "response_id",
    "item_id",
    "model",
    "language",
    "response",
    "settings",
    "timestamp",
    "extra",
    "source",
    "content_hash",
    "ingested_at",
)


def _columns(columns: Sequence[str], allowed: Sequence[str], table: str) -> str:
    unknown = [c for c in columns if c not in allowed]
    if unknown or not columns:
        raise ValueError(f"{table}: unknown or no columns {unknown}; choose from {list(allowed)}")
    return ", ".join(columns)


def items(ws: Workspace, *, columns: Sequence[str]) -> pd.DataFrame:
    """Reads ``items``: the ``columns`` (from :data:`ITEM_COLUMNS`) of every item, by
    item_id."""
    return ws.read_sql(
        f"SELECT {_columns(columns, ITEM_COLUMNS, 'items')} FROM items ORDER BY item_id"
    )


def responses(ws: Workspace, *, columns: Sequence[str]) -> pd.DataFrame:
    """Reads ``responses``: the ``columns`` (from :data:`RESPONSE_COLUMNS`) of every
    response."""
    return ws.read_sql(f"SELECT {_columns(columns, RESPONSE_COLUMNS, 'responses')} FROM responses")
