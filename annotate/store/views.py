"""Read-only joins that calibrate and the dashboard report on.

Tables (read only): ``annotations``, ``responses``, ``items``, ``gold``, ``samples``,
``ls_assignments``, ``ls_projects``, ``reviews``. Nothing here writes.

The slice columns every loader carries (see :data:`SLICE_SELECT`): response_id, item_id,
model, language, aspect, level1_category, level2_category, level3_category, modality.
"""

from __future__ import annotations

import pandas as pd

from safecal.annotate.store.workspace import Workspace

#: the slice columns of a response (``r``) and its item (``i``)
SLICE_SELECT = """
    r.response_id, r.item_id, r.model, r.language,
    i.aspect, i.level1_category, i.level2_category, i.level3_category, i.modality
"""


def annotations_with_slices(ws: Workspace, *, field: str) -> pd.DataFrame:
    """Reads ``annotations`` joined with ``responses`` and ``items``: the human labels of
    ``field`` as unit, rater, label, ann_response_id, ann_item_id plus the slice columns
    (item-level labels have no response: their response slices are missing)."""
    return ws.read_sql(
        f"""
        SELECT COALESCE(a.response_id, a.item_id) AS unit, a.annotator AS rater, a.label,
               a.response_id AS ann_response_id, a.item_id AS ann_item_id,
               {SLICE_SELECT}
        FROM annotations a
        LEFT JOIN responses r ON r.response_id = a.response_id
        LEFT JOIN items i ON i.item_id = COALESCE(r.item_id, a.item_id)
        WHERE a.field = ?
        ORDER BY unit, rater
        """,
        (field,),
    )


def response_annotations(ws: Workspace, *, field: str) -> pd.DataFrame:
    """Reads ``annotations``: response_id, annotator, label of the response-level labels
    of ``field``."""
    return ws.read_sql(
        "SELECT response_id, annotator, label FROM annotations "
        "WHERE field = ? AND response_id IS NOT NULL",
        (field,),
    )


def inclusion_probs(ws: Workspace) -> pd.DataFrame:
    """Reads ``samples``: response_id, inclusion_prob of every non-honeypot sample row."""
    return ws.read_sql("SELECT response_id, inclusion_prob FROM samples WHERE role != 'honeypot'")


def responses_with_gold(ws: Workspace, *, field: str, aspect: str) -> pd.DataFrame:
    """Reads ``responses``, ``items`` and ``gold``: every response whose item has
    ``aspect``, with the slice columns, ``gold`` (the gold label of ``field``, missing where
    none) and ``gold_method``."""
    return ws.read_sql(
        f"""
        SELECT {SLICE_SELECT}, g.label AS gold, g.method AS gold_method
        FROM responses r
        JOIN items i ON i.item_id = r.item_id
        LEFT JOIN gold g ON g.response_id = r.response_id AND g.field = ?
        WHERE i.aspect = ?
        ORDER BY r.response_id
        """,
        (field, aspect),
    )
