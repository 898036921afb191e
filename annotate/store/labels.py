"""Human labels and their outcome: the statements on tables ``annotations``, ``gold``,
``honeypots`` and ``reviews``.

Some reads also touch ``responses`` and ``items`` (joined for the columns their callers
show, or to check a response exists).

Callers import the module: ``from safecal.annotate.store import labels as label_rows``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from safecal.annotate.store.backend import Connection
from safecal.annotate.store.workspace import Workspace

#: the columns of a pulled ``annotations`` row, in the order :func:`insert_annotations` takes
ANNOTATION_COLUMNS = (
    "item_id",
    "response_id",
    "annotator",
    "field",
    "label",
    "lead_time",
    "created_at",
    "updated_at",
    "project_id",
    "task_id",
    "annotation_id",
)


def honeypot_pool(ws: Workspace) -> pd.DataFrame:
    """Reads honeypots joined with responses: response_id, item_id, task_type (the
    field) of every honeypot, by response id and field."""
    return ws.read_sql(
        """SELECT h.response_id, r.item_id, h.field AS task_type
           FROM honeypots h JOIN responses r USING (response_id)
           ORDER BY h.response_id, h.field"""
    )


def response_labels(
    ws: Workspace, *, fields: tuple[str, ...], sample_id: str | None = None
) -> pd.DataFrame:
    """Reads annotations (and samples, with ``sample_id``): response_id, field, annotator,
    label of the response-level labels of ``fields``, optionally of one sample's units."""
    sql = (
        "SELECT a.response_id, a.field, a.annotator, a.label FROM annotations a"
        f" WHERE a.response_id IS NOT NULL AND a.field IN ({', '.join('?' * len(fields))})"
    )
    params: list[Any] = list(fields)
    if sample_id:
        sql += " AND a.response_id IN (SELECT response_id FROM samples WHERE sample_id = ?)"
        params.append(sample_id)
    return ws.read_sql(sql, params)


def honeypot_labels(ws: Workspace) -> pd.DataFrame:
    """Reads honeypots: response_id, field, label (the known label) of every honeypot."""
    return ws.read_sql("SELECT response_id, field, label FROM honeypots")


def review_decisions(ws: Workspace) -> pd.DataFrame:
    """Reads reviews: response_id, field, label, reviewer, decided_at of every review
    (label NULL while pending)."""
    return ws.read_sql("SELECT response_id, field, label, reviewer, decided_at FROM reviews")


def clear_unsent_reviews(con: Connection) -> None:
    """Writes reviews: deletes the pending reviews not yet in a review project."""
    con.execute("DELETE FROM reviews WHERE label IS NULL AND project_id IS NULL")


def upsert_gold(con: Connection, *, rows: Iterable[tuple[Any, ...]]) -> None:
    """Writes gold: inserts ``rows`` (response_id, field, label, method, soft, adjudicator,
    decided_at), replacing the row of the same (response, field)."""
    con.executemany(
        "INSERT INTO gold (response_id, field, label, method, soft, adjudicator, decided_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (response_id, field) DO UPDATE SET"
        " label = excluded.label, method = excluded.method, soft = excluded.soft,"
        " adjudicator = excluded.adjudicator, decided_at = excluded.decided_at",
        rows,
    )


def delete_gold(con: Connection, *, keys: Iterable[tuple[str, str]]) -> None:
    """Writes gold: deletes the rows of ``keys`` (response_id, field)."""
    con.executemany("DELETE FROM gold WHERE response_id = ? AND field = ?", keys)


def upsert_pending_reviews(con: Connection, *, rows: Iterable[tuple[str, str, str, str]]) -> None:
    """Writes reviews: a review for each (response_id, field, reason, created_at) of
    ``rows``; a review already there keeps its state and takes the new reason."""
    con.executemany(
        "INSERT INTO reviews (response_id, field, reason, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (response_id, field) DO UPDATE SET reason = excluded.reason",
        rows,
    )


def gold_rows(ws: Workspace) -> pd.DataFrame:
    """Reads gold joined with responses and items: response_id, item_id, model, language,
    aspect, field, gold (the label), method, adjudicator, decided_at, soft; by field and
    response id."""
    return ws.read_sql(
        """SELECT g.response_id, r.item_id, r.model, r.language, i.aspect, g.field,
                  g.label AS gold, g.method, g.adjudicator, g.decided_at, g.soft
           FROM gold g JOIN responses r USING (response_id) JOIN items i USING (item_id)
           ORDER BY g.field, g.response_id"""
    )


def annotator_labels(ws: Workspace, *, by_annotator: bool = False) -> pd.DataFrame:
    """Reads annotations: response_id, field, annotator, label of every response-level
    label (``by_annotator``: ordered by annotator)."""
    return ws.read_sql(
        "SELECT response_id, field, annotator, label FROM annotations WHERE response_id IS NOT NULL"
        + (" ORDER BY annotator" if by_annotator else "")
    )


def response_exists(con: Connection, *, response_id: str) -> bool:
    """Reads responses: whether ``response_id`` is in the workspace."""
    return (
        con.execute("SELECT 1 FROM responses WHERE response_id = ?", (response_id,)).fetchone()
        is not None
    )


def record_review(
    con: Connection,
    *,
    response_id: str,
    field: str,
    reason: str,
    label: str,
    reviewer: str,
    decided_at: str,
) -> None:
    """Writes reviews: the reviewer's ``label`` for (response, field); a new review gets
    ``reason`` and ``created_at = decided_at``, an existing one keeps its reason."""
    con.execute(
        "INSERT INTO reviews (response_id, field, reason, label, reviewer, decided_at,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (response_id, field) DO UPDATE"
        " SET label = excluded.label, reviewer = excluded.reviewer,"
        " decided_at = excluded.decided_at",
        (response_id, field, reason, label, reviewer, decided_at, decided_at),
    )


def set_adjudicated_gold(
    con: Connection,
    *,
    response_id: str,
    field: str,
    label: str,
    adjudicator: str,
    decided_at: str,
) -> None:
    """Writes gold: ``label`` as the (response, field) gold label, method ``adjudicated``
    (no soft label), replacing the row there."""
    con.execute(
        "INSERT INTO gold (response_id, field, label, method, soft, adjudicator, decided_at)"
        " VALUES (?, ?, ?, 'adjudicated', NULL, ?, ?) ON CONFLICT (response_id, field)"
        " DO UPDATE SET label = excluded.label, method = excluded.method, soft = NULL,"
        " adjudicator = excluded.adjudicator, decided_at = excluded.decided_at",
        (response_id, field, label, adjudicator, decided_at),
    )


def delete_project_annotations(con: Connection, *, project_ids: Iterable[int]) -> None:
    """Writes annotations: deletes the rows pulled from ``project_ids``."""
    con.executemany("DELETE FROM annotations WHERE project_id = ?", [(p,) for p in project_ids])


def delete_task_annotations(con: Connection, *, project_id: int, task_ids: Iterable[int]) -> None:
    """Writes annotations: deletes the rows pulled from ``task_ids`` of ``project_id``."""
    con.executemany(
        "DELETE FROM annotations WHERE project_id = ? AND task_id = ?",
        [(project_id, t) for t in task_ids],
    )


def delete_annotations(
    con: Connection, *, keys: Iterable[tuple[str, str | None, str, str]]
) -> None:
    """Writes annotations: deletes the rows of ``keys`` (item_id, response_id, annotator,
    field); a NULL response_id (item-level rows) matches NULL, which UNIQUE does not."""
    con.executemany(
        "DELETE FROM annotations WHERE item_id = ? AND response_id IS ? AND annotator = ?"
        " AND field = ?",
        keys,
    )


def insert_annotations(con: Connection, *, rows: Iterable[tuple[Any, ...]]) -> None:
    """Writes annotations: ``rows`` with the values of :data:`ANNOTATION_COLUMNS`."""
    con.executemany(
        f"INSERT INTO annotations ({', '.join(ANNOTATION_COLUMNS)})"
        f" VALUES ({', '.join('?' * len(ANNOTATION_COLUMNS))})",
        rows,
    )


def pending_reviews(ws: Workspace) -> pd.DataFrame:
    """Reads reviews joined with responses and items: response_id, field, reason, item_id,
    language, response, text, text_zh, image of every review without a label, by field
    and response id."""
    return ws.read_sql(
        """SELECT v.response_id, v.field, v.reason, r.item_id, r.language, r.response,
                  i.text, i.text_zh, i.image
           FROM reviews v JOIN responses r USING (response_id) JOIN items i USING (item_id)
           WHERE v.label IS NULL ORDER BY v.field, v.response_id"""
    )


def attach_review_tasks(con: Connection, *, rows: Iterable[tuple[str, int, int, str, str]]) -> None:
    """Writes reviews: the Label Studio task of each review, rows (server_url, project_id,
    task_id, response_id, field)."""
    con.executemany(
        "UPDATE reviews SET server_url = ?, project_id = ?, task_id = ?"
        " WHERE response_id = ? AND field = ?",
        rows,
    )


def set_review_labels(con: Connection, *, rows: Iterable[tuple[str, str, str, str, str]]) -> None:
    """Writes reviews: the reviewers' choices, rows (label, reviewer, decided_at,
    response_id, field)."""
    con.executemany(
        "UPDATE reviews SET label = ?, reviewer = ?, decided_at = ?"
        " WHERE response_id = ? AND field = ?",
        rows,
    )


def count_pending_reviews(con: Connection) -> int:
    """Reads reviews: how many have no label yet."""
    return int(con.execute("SELECT COUNT(*) FROM reviews WHERE label IS NULL").fetchone()[0])


def upsert_honeypots(con: Connection, *, rows: Iterable[tuple[str, str, str, str]]) -> None:
    """Writes honeypots: ``rows`` of (response_id, field, label, source); a known label
    given again replaces the earlier one."""
    con.executemany(
        "INSERT INTO honeypots (response_id, field, label, source) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (response_id, field) DO UPDATE SET label = excluded.label,"
        " source = excluded.source",
        rows,
    )
