"""Read-only joins that calibrate and the dashboard report on.

Tables (read only): ``annotations``, ``responses``, ``items``, ``gold``, ``samples``,
``ls_assignments``, ``ls_projects``, ``reviews``. Nothing here writes.

The slice columns every loader carries (see :data:`SLICE_SELECT`): response_id, item_id,
model, language, aspect, level1_category, level2_category, level3_category, modality.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    none) and ``gold_method`` (:func:`responses_with_verdicts` without runs)."""
    return responses_with_verdicts(ws, field=field, aspect=aspect, run_ids=())


def responses_with_verdicts(
    ws: Workspace, *, field: str, aspect: str, run_ids: Sequence[str]
) -> pd.DataFrame:
    """Reads ``responses``, ``items``, ``gold`` and ``verdicts``: every response whose item
    has ``aspect``, ordered by response_id, with the slice columns, ``gold`` and
    ``gold_method`` (of ``field``; missing where none) and, for the ``k``-th run of
    ``run_ids``, ``verdict_k``, ``valid_k`` and ``score_k`` (its verdict of ``field``;
    missing where the run did not judge the response).

    One query, one LEFT JOIN on ``verdicts`` per run, so the rows come back joined (no
    second read of a million verdicts and no merge on response_id). The item's slice
    columns are read once per item and spread over its responses by position: repeating
    five strings on every response row made the read several times slower (the database
    driver builds one Python string per value).
    """
    joins = "".join(
        f" LEFT JOIN verdicts v{k} ON v{k}.response_id = r.response_id"
        f" AND v{k}.run_id = ? AND v{k}.field = ?"
        for k in range(len(run_ids))
    )
    verdict_cols = "".join(
        f", v{k}.label AS verdict_{k}, v{k}.valid AS valid_{k}, v{k}.score AS score_{k}"
        for k in range(len(run_ids))
    )
    params: list[str] = [field]
    for run_id in run_ids:
        params += [run_id, field]
    rows = ws.read_sql(
        f"""
        SELECT r.response_id, r.item_id, r.model, r.language,
               g.label AS gold, g.method AS gold_method{verdict_cols}
        FROM responses r
        JOIN items i ON i.item_id = r.item_id
        LEFT JOIN gold g ON g.response_id = r.response_id AND g.field = ?{joins}
        WHERE i.aspect = ?
        ORDER BY r.response_id
        """,
        (*params, aspect),
    )
    items = ws.read_sql(
        "SELECT item_id, aspect, level1_category, level2_category, level3_category, modality"
        " FROM items WHERE aspect = ?",
        (aspect,),
    )
    at = pd.Index(items["item_id"]).get_indexer(rows["item_id"])
    for k, col in enumerate(
        ("aspect", "level1_category", "level2_category", "level3_category", "modality")
    ):
        rows.insert(4 + k, col, items[col].array.take(at))
    return rows


def annotation_activity(ws: Workspace) -> pd.DataFrame:
    """Reads ``annotations``: every label as annotator, field, unit (response or item),
    lead_time, at (updated, else created) and project_id."""
    return ws.read_sql(
        "SELECT annotator, field, COALESCE(response_id, item_id) AS unit, lead_time,"
        " COALESCE(updated_at, created_at) AS at, project_id FROM annotations"
    )


def assigned_units(ws: Workspace) -> pd.DataFrame:
    """Reads ``ls_assignments``: annotator, task (the task type) and unit of every
    assignment."""
    return ws.read_sql("SELECT annotator, task_type AS task, unit_id AS unit FROM ls_assignments")


def annotate_project_titles(ws: Workspace) -> pd.DataFrame:
    """Reads ``ls_projects``: annotator, task and title of every labeling (not review)
    project."""
    return ws.read_sql(
        "SELECT annotator, task_type AS task, title FROM ls_projects WHERE kind = 'annotate'"
    )


def open_reviews(ws: Workspace) -> pd.DataFrame:
    """Reads ``reviews`` joined with ``responses``: the reviews without a decision, oldest
    first: response_id, field, reason, created_at, item_id, model, language."""
    return ws.read_sql(
        """SELECT v.response_id, v.field, v.reason, v.created_at, r.item_id, r.model, r.language
           FROM reviews v JOIN responses r USING (response_id)
           WHERE v.label IS NULL ORDER BY v.created_at, v.response_id, v.field"""
    )


def open_review_labels(ws: Workspace) -> pd.DataFrame:
    """Reads ``annotations`` joined with ``reviews``: response_id, field, annotator, label of
    the human labels of every undecided review."""
    return ws.read_sql(
        "SELECT a.response_id, a.field, a.annotator, a.label FROM annotations a"
        " JOIN reviews v ON v.response_id = a.response_id AND v.field = a.field"
        " WHERE v.label IS NULL ORDER BY a.annotator"
    )


def gold_cases(ws: Workspace, *, field: str) -> pd.DataFrame:
    """Reads ``gold`` joined with ``responses``: response_id, item_id, label of the gold
    labels of ``field``."""
    return ws.read_sql(
        "SELECT g.response_id, r.item_id, g.label FROM gold g JOIN responses r "
        "USING (response_id) WHERE g.field = ? ORDER BY g.response_id",
        (field,),
    )


def gold_count(ws: Workspace) -> pd.DataFrame:
    """Reads ``gold``: one row, ``n``, the number of gold labels (all fields)."""
    return ws.read_sql("SELECT count(*) AS n FROM gold")


def fields_with_data(ws: Workspace) -> list[str]:
    """The fields that have any human label, judge verdict or gold label."""
    df = ws.read_sql(
        "SELECT DISTINCT field FROM annotations UNION "
        "SELECT DISTINCT field FROM verdicts UNION SELECT DISTINCT field FROM gold"
    )
    return [str(f) for f in df["field"]]


def response_with_item(ws: Workspace, *, response_id: str) -> pd.DataFrame:
    """One response with its item (text, Chinese text, image, aspect, categories,
    modality): zero or one row."""
    return ws.read_sql(
        """SELECT r.response_id, r.item_id, r.model, r.language, r.response, i.text, i.text_zh,
                  i.image, i.aspect, i.level1_category, i.level2_category, i.level3_category,
                  i.modality
           FROM responses r JOIN items i USING (item_id) WHERE r.response_id = ?""",
        (response_id,),
    )


def unit_labels(ws: Workspace, *, response_id: str, field: str) -> pd.DataFrame:
    """Every annotator's label of one unit, with lead time and when it was given."""
    return ws.read_sql(
        "SELECT annotator, label, lead_time, COALESCE(updated_at, created_at) AS labeled_at"
        " FROM annotations WHERE response_id = ? AND field = ? ORDER BY annotator",
        (response_id, field),
    )


def unit_gold(ws: Workspace, *, response_id: str, field: str) -> pd.DataFrame:
    """The gold label of one unit, how it was decided and by whom: zero or one row."""
    return ws.read_sql(
        "SELECT label, method, adjudicator, decided_at FROM gold"
        " WHERE response_id = ? AND field = ?",
        (response_id, field),
    )
