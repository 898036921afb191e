"""Samples and who labels them: the statements on tables ``samples`` and ``ls_assignments``.

Also the reads that draw and plan a sample from ``responses``, ``items`` and
``verdicts`` (joined or filtered for :mod:`annotate.sampling` and
:mod:`annotate.assign`).

Callers import the module: ``from safecal.annotate.store import samples as sample_rows``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import pandas as pd

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


def valid_verdicts(ws: Workspace) -> pd.DataFrame:
    """Reads verdicts: response_id, field, label, score of every valid verdict."""
    return ws.read_sql("SELECT response_id, field, label, score FROM verdicts WHERE valid = 1")


def sample_exists(con: sqlite3.Connection, *, sample_id: str) -> bool:
    """Reads samples: whether ``sample_id`` has any row."""
    return (
        con.execute("SELECT 1 FROM samples WHERE sample_id = ?", (sample_id,)).fetchone()
        is not None
    )


def insert_sample(con: sqlite3.Connection, *, rows: Iterable[SampleRow]) -> None:
    """Writes samples: one row per drawn response, role ``regular``."""
    con.executemany(
        "INSERT INTO samples (sample_id, response_id, stratum, inclusion_prob, role, seed,"
        " created_at) VALUES (?, ?, ?, ?, 'regular', ?, ?)",
        rows,
    )
