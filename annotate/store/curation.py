"""What curation reads and writes.

Tables: ``annotations``, ``gold``, ``verdicts``, ``judge_runs``, ``responses`` (read);
``ls_assignments`` (read and write: the query-quality review assignments curation adds).
The items come from :func:`.catalog.items`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from safecal.annotate.store.backend import Connection
from safecal.annotate.store.workspace import Workspace


def query_quality_answers(ws: Workspace) -> pd.DataFrame:
    """Reads ``annotations``: the item-level answers (no response) as item_id, annotator,
    field, label."""
    return ws.read_sql(
        "SELECT item_id, annotator, field, label FROM annotations "
        "WHERE response_id IS NULL ORDER BY item_id, annotator, field"
    )


def response_labels(ws: Workspace) -> pd.DataFrame:
    """Reads ``annotations`` joined with ``responses``: response_id, item_id, model,
    language, annotator, field, label of every response-level human label."""
    return ws.read_sql(
        "SELECT a.response_id, r.item_id, r.model, r.language, a.annotator, a.field, a.label "
        "FROM annotations a JOIN responses r ON r.response_id = a.response_id "
        "ORDER BY a.response_id, a.annotator, a.field"
    )


def gold_labels(ws: Workspace) -> pd.DataFrame:
    """Reads ``gold`` joined with ``responses``: response_id, item_id, model, language,
    field, label, method of every gold label."""
    return ws.read_sql(
        "SELECT g.response_id, r.item_id, r.model, r.language, g.field, g.label, g.method "
        "FROM gold g JOIN responses r ON r.response_id = g.response_id "
        "ORDER BY g.response_id, g.field"
    )


def verdicts(ws: Workspace) -> pd.DataFrame:
    """Reads ``verdicts`` joined with ``judge_runs`` and ``responses``: run_id, judge,
    started_at, response_id, item_id, model, language, field, label, valid, score of every
    verdict, oldest run first; probe runs (transformed responses) left out."""
    return ws.read_sql(
        "SELECT v.run_id, j.judge, j.started_at, v.response_id, r.item_id, r.model, "
        "r.language, v.field, v.label, v.valid, v.score "
        "FROM verdicts v JOIN judge_runs j ON j.run_id = v.run_id "
        "JOIN responses r ON r.response_id = v.response_id WHERE j.probe_of IS NULL "
        "ORDER BY j.started_at, v.run_id, v.response_id"
    )


def review_assignments(ws: Workspace, *, sample_id: str) -> pd.DataFrame:
    """Reads ``ls_assignments``: annotator, unit_id, position of the ``query_quality``
    assignments under ``sample_id``."""
    return ws.read_sql(
        "SELECT annotator, unit_id, position FROM ls_assignments WHERE sample_id = ? "
        "AND task_type = 'query_quality'",
        (sample_id,),
    )


def add_review_assignments(
    con: Connection, *, rows: Sequence[tuple[str, str, str, str, int]]
) -> None:
    """Writes ``ls_assignments``: one regular ``query_quality`` assignment per row
    ``(sample_id, annotator, unit_id, item_id, position)`` (no response), in the caller's
    transaction."""
    con.executemany(
        "INSERT INTO ls_assignments (sample_id, annotator, task_type, unit_id, item_id, "
        "response_id, role, position) VALUES (?, ?, 'query_quality', ?, ?, NULL, "
        "'regular', ?)",
        rows,
    )
