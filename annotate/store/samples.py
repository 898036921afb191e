"""Samples and who labels them: the statements on tables ``samples`` and ``ls_assignments``.

Also the reads that draw and plan a sample from ``responses``, ``items`` and
``verdicts`` (joined or filtered for :mod:`annotate.sampling` and
:mod:`annotate.assign`).

Callers import the module: ``from safecal.annotate.store import samples as sample_rows``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from safecal.annotate.store.backend import Connection
from safecal.annotate.store.workspace import Workspace

#: a ``samples`` row: sample_id, response_id, stratum, inclusion_prob, seed, created_at
SampleRow = tuple[str, str, str, float, int, str]


def sampling_frame(ws: Workspace) -> pd.DataFrame:
    """Reads responses joined with items: every response with the item columns strata
    can use, sorted by response id."""
    return ws.read_sql(
        """SELECT r.response_id, r.item_id, r.model, r.language, i.aspect, i.modality,
                  i.level1_category, i.level2_category, i.level3_category
           FROM responses r JOIN items i USING (item_id) ORDER BY r.response_id"""
    )


def sample_exists(con: Connection, *, sample_id: str) -> bool:
    """Reads samples: whether ``sample_id`` has any row."""
    return (
        con.execute("SELECT 1 FROM samples WHERE sample_id = ?", (sample_id,)).fetchone()
        is not None
    )


def insert_sample(con: Connection, *, rows: Iterable[SampleRow]) -> None:
    """Writes samples: one row per drawn response, role ``regular``."""
    con.executemany(
        "INSERT INTO samples (sample_id, response_id, stratum, inclusion_prob, role, seed,"
        " created_at) VALUES (?, ?, ?, ?, 'regular', ?, ?)",
        rows,
    )


def sample_units(ws: Workspace, *, sample_id: str) -> pd.DataFrame:
    """Reads samples joined with responses and items: response_id, role, item_id, aspect
    of the sample's units other than honeypots, by response id."""
    return ws.read_sql(
        """SELECT s.response_id, s.role, r.item_id, i.aspect
           FROM samples s JOIN responses r USING (response_id) JOIN items i USING (item_id)
           WHERE s.sample_id = ? AND s.role != 'honeypot' ORDER BY s.response_id""",
        (sample_id,),
    )


def reset_plan(con: Connection, *, sample_id: str) -> None:
    """Writes ls_assignments and samples: removes the sample's assignments and honeypot
    rows, and sets every other unit's role back to ``regular``."""
    con.execute("DELETE FROM ls_assignments WHERE sample_id = ?", (sample_id,))
    con.execute("DELETE FROM samples WHERE sample_id = ? AND role = 'honeypot'", (sample_id,))
    con.execute("UPDATE samples SET role = 'regular' WHERE sample_id = ?", (sample_id,))


def mark_overlap(con: Connection, *, sample_id: str, response_ids: Iterable[str]) -> None:
    """Writes samples: role ``overlap`` for ``response_ids`` of the sample."""
    con.executemany(
        "UPDATE samples SET role = 'overlap' WHERE sample_id = ? AND response_id = ?",
        [(sample_id, r) for r in response_ids],
    )


def add_honeypots(
    con: Connection,
    *,
    sample_id: str,
    response_ids: Iterable[str],
    seed: int,
    created_at: str,
) -> None:
    """Writes samples: ``response_ids`` as honeypot units of the sample (stratum and
    role ``honeypot``, inclusion probability 1); rows already there are kept."""
    con.executemany(
        "INSERT OR IGNORE INTO samples (sample_id, response_id, stratum, inclusion_prob, role,"
        " seed, created_at) VALUES (?, ?, 'honeypot', 1.0, 'honeypot', ?, ?)",
        [(sample_id, r, seed, created_at) for r in response_ids],
    )


#: an ``ls_assignments`` row: sample_id, annotator, task_type, unit_id, item_id,
#: response_id (None for query quality), role, position
AssignmentRow = tuple[str, str, str, str, str, str | None, str, int]


def insert_assignments(con: Connection, *, rows: Iterable[AssignmentRow]) -> None:
    """Writes ls_assignments: one row per (sample, annotator, task type, unit)."""
    con.executemany(
        "INSERT INTO ls_assignments (sample_id, annotator, task_type, unit_id, item_id,"
        " response_id, role, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def sampled_responses(ws: Workspace, *, sample_id: str | None = None) -> pd.DataFrame:
    """Reads samples: response_id, stratum, inclusion_prob, role, one row per response
    (of ``sample_id``, else of any sample), by response id."""
    where = " WHERE sample_id = ?" if sample_id else ""
    params = (sample_id,) if sample_id else ()
    if ws.dialect == "sqlite":  # SQLite takes the other columns from one row per group
        return ws.read_sql(
            f"SELECT response_id, stratum, inclusion_prob, role FROM samples{where}"
            " GROUP BY response_id",
            params,
        )
    return ws.read_sql(
        "SELECT DISTINCT ON (response_id) response_id, stratum, inclusion_prob, role"
        f" FROM samples{where} ORDER BY response_id",
        params,
    )


def assignment_tasks(ws: Workspace, *, sample_id: str) -> pd.DataFrame:
    """Reads ls_assignments joined with items and responses: each assignment of the
    sample with what its task shows (annotator, task_type, unit_id, position, item_id,
    the item's text, image and categories, the response's language and text), by
    annotator, task type and position."""
    return ws.read_sql(
        """SELECT a.annotator, a.task_type, a.unit_id, a.position, a.item_id,
                  i.text, i.text_zh, i.image, i.level1_category, i.level2_category,
                  i.level3_category, i.img_risk, i.text_risk, i.modality,
                  r.language, r.response
           FROM ls_assignments a JOIN items i ON i.item_id = a.item_id
           LEFT JOIN responses r ON r.response_id = a.response_id
           WHERE a.sample_id = ? ORDER BY a.annotator, a.task_type, a.position""",
        (sample_id,),
    )


def assignment_unit_keys(ws: Workspace) -> pd.DataFrame:
    """Reads ls_assignments: the distinct (sample_id, unit_id, item_id, response_id)."""
    return ws.read_sql(
        "SELECT DISTINCT sample_id, unit_id, item_id, response_id FROM ls_assignments"
    )


def assignment_annotators(ws: Workspace, *, sample_id: str) -> pd.DataFrame:
    """Reads ls_assignments: the distinct annotators of the sample's assignments."""
    return ws.read_sql(
        "SELECT DISTINCT annotator FROM ls_assignments WHERE sample_id = ?", (sample_id,)
    )


def count_assignments(ws: Workspace, *, sample_id: str) -> pd.DataFrame:
    """Reads ls_assignments: one row, ``n``, the number of the sample's assignments."""
    return ws.read_sql("SELECT COUNT(*) AS n FROM ls_assignments WHERE sample_id = ?", (sample_id,))
