"""Rounds of active gold selection: the statements on tables ``rounds`` and ``round_strata``.

Also the reads the rounds and their estimators need from ``samples``, ``gold`` and
``verdicts`` (what earlier samples drew, the gold and verdicts a round plans on).

Callers import the module: ``from safecal.annotate.store import rounds as round_rows``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from safecal.annotate.store.backend import Connection
from safecal.annotate.store.workspace import Workspace

#: a ``rounds`` row: sample_id, round, by_columns, goal, aspect, n_planned, n_expected,
#: seed, created_at
RoundRow = tuple[str, int, str, str, str | None, int, float, int, str]
#: a ``round_strata`` row: sample_id, stratum, n_frame, n_expected
RoundStratumRow = tuple[str, str, int, float]


def insert_round(con: Connection, *, row: RoundRow, strata: Iterable[RoundStratumRow]) -> None:
    """Writes rounds and round_strata: one round's design."""
    con.execute(
        "INSERT INTO rounds (sample_id, round, by_columns, goal, aspect, n_planned,"
        " n_expected, seed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        row,
    )
    con.executemany(
        "INSERT INTO round_strata (sample_id, stratum, n_frame, n_expected) VALUES (?, ?, ?, ?)",
        strata,
    )


def round_exists(con: Connection, *, sample_id: str) -> bool:
    """Reads rounds: whether a round is named ``sample_id``."""
    found = con.execute("SELECT 1 FROM rounds WHERE sample_id = ?", (sample_id,)).fetchone()
    return found is not None


def next_round_number(con: Connection) -> int:
    """Reads rounds: one more than the highest round number (1 for the first)."""
    row = con.execute("SELECT COALESCE(MAX(round), 0) + 1 FROM rounds").fetchone()
    return int(row[0])


def rounds(ws: Workspace) -> pd.DataFrame:
    """Reads rounds, samples and gold: every round, oldest first, with how many responses
    it drew (``n_drawn``) and how many of those have a gold label of any field
    (``n_gold``)."""
    return ws.read_sql(
        """SELECT r.round, r.sample_id, r.goal, r.by_columns, r.aspect, r.n_planned,
                  r.n_expected,
                  (SELECT COUNT(*) FROM samples s WHERE s.sample_id = r.sample_id
                     AND s.role != 'honeypot') AS n_drawn,
                  (SELECT COUNT(DISTINCT s.response_id) FROM samples s JOIN gold g
                     USING (response_id) WHERE s.sample_id = r.sample_id
                     AND s.role != 'honeypot') AS n_gold,
                  r.seed, r.created_at
           FROM rounds r ORDER BY r.round"""
    )


def round_strata(ws: Workspace) -> pd.DataFrame:
    """Reads round_strata: sample_id, stratum, n_frame, n_expected of every round."""
    return ws.read_sql("SELECT sample_id, stratum, n_frame, n_expected FROM round_strata")


def sample_phases(ws: Workspace) -> pd.DataFrame:
    """Reads samples and rounds: one row per sample other than honeypot-only ones, in the
    order they were drawn: sample_id, created_at, ``n_rows`` (its non-honeypot rows),
    and, for rounds, round, by_columns, aspect (NULL round: a sample of
    ``annotate sample``)."""
    return ws.read_sql(
        """SELECT s.sample_id, MIN(s.created_at) AS created_at, COUNT(*) AS n_rows,
                  r.round, r.by_columns, r.aspect
           FROM samples s LEFT JOIN rounds r USING (sample_id)
           WHERE s.role != 'honeypot'
           GROUP BY s.sample_id, r.round, r.by_columns, r.aspect
           ORDER BY MIN(s.created_at), COALESCE(r.round, 0), s.sample_id"""
    )


def sample_draws(ws: Workspace) -> pd.DataFrame:
    """Reads samples: sample_id, response_id, inclusion_prob of every non-honeypot row."""
    return ws.read_sql(
        "SELECT sample_id, response_id, inclusion_prob FROM samples WHERE role != 'honeypot'"
    )


def drawn_responses(ws: Workspace) -> pd.DataFrame:
    """Reads samples: the distinct response_id any sample drew (honeypots excepted)."""
    return ws.read_sql("SELECT DISTINCT response_id FROM samples WHERE role != 'honeypot'")


def gold_labels(ws: Workspace) -> pd.DataFrame:
    """Reads gold: response_id, field, label of every gold label."""
    return ws.read_sql("SELECT response_id, field, label FROM gold")


def response_count(ws: Workspace) -> int:
    """Reads responses: how many there are."""
    return int(ws.read_sql("SELECT COUNT(*) AS n FROM responses")["n"].iloc[0])
