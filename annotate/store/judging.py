"""Judge runs and their verdicts.

Tables: ``judge_runs`` (read), ``verdicts`` (read). The writes of a run (its row, its
verdicts) and the judge cache stay with :mod:`calibrate.runner` and :mod:`calibrate.cache`
for now.
"""

from __future__ import annotations

import pandas as pd

from safecal.annotate.store.workspace import Workspace


def judge_runs(ws: Workspace) -> pd.DataFrame:
    """Reads ``judge_runs``: every run but probe runs (all columns), newest first."""
    return ws.read_sql(
        "SELECT * FROM judge_runs WHERE probe_of IS NULL ORDER BY started_at DESC, run_id"
    )


def runs_with_verdict_counts(ws: Workspace, *, field: str | None = None) -> pd.DataFrame:
    """Reads ``judge_runs`` and ``verdicts``: run_id, judge, kind, model, started_at and
    ``n_verdicts`` (the run's verdicts of ``field``; of any field when ``field`` is None),
    newest first; probe runs left out."""
    sql = """SELECT j.run_id, j.judge, j.kind, j.model, j.started_at,
                    COUNT(v.response_id) AS n_verdicts
             FROM judge_runs j LEFT JOIN verdicts v ON v.run_id = j.run_id {where}
             WHERE j.probe_of IS NULL GROUP BY j.run_id ORDER BY j.started_at DESC, j.run_id"""
    if field:
        return ws.read_sql(sql.format(where="AND v.field = ?"), (field,))
    return ws.read_sql(sql.format(where=""))


def run_fields(ws: Workspace, *, run_id: str) -> pd.DataFrame:
    """Reads ``verdicts``: the distinct ``field`` values of one run's verdicts."""
    return ws.read_sql("SELECT DISTINCT field FROM verdicts WHERE run_id = ?", (run_id,))


def run_verdicts(ws: Workspace, *, run_id: str, field: str) -> pd.DataFrame:
    """Reads ``verdicts``: response_id, label, valid, score of one run's verdicts of ``field``."""
    return ws.read_sql(
        "SELECT response_id, label, valid, score FROM verdicts WHERE run_id = ? AND field = ?",
        (run_id, field),
    )


def run_verdict_details(ws: Workspace, *, run_id: str, field: str) -> pd.DataFrame:
    """Reads ``verdicts``: response_id, latency, tokens_in, tokens_out, raw of one run's
    verdicts of ``field``."""
    return ws.read_sql(
        "SELECT response_id, latency, tokens_in, tokens_out, raw FROM verdicts "
        "WHERE run_id = ? AND field = ?",
        (run_id, field),
    )


def run_labels(ws: Workspace, *, run_id: str) -> pd.DataFrame:
    """Reads ``verdicts``: response_id and ``judge`` (the verdict's label) of one run, all
    fields."""
    return ws.read_sql(
        "SELECT response_id, label AS judge FROM verdicts WHERE run_id = ?", (run_id,)
    )


def valid_verdicts(ws: Workspace) -> pd.DataFrame:
    """Reads verdicts: response_id, field, label, score of every valid verdict (probe runs'
    verdicts, on transformed responses, left out)."""
    return ws.read_sql(
        "SELECT response_id, field, label, score FROM verdicts WHERE valid = 1 AND run_id "
        "NOT IN (SELECT run_id FROM judge_runs WHERE probe_of IS NOT NULL)"
    )
