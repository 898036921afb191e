"""Probe runs and their results.

Tables: ``judge_runs`` (the probe run's row, with ``probe_of`` and ``probe``; written),
``probe_results`` (read and written). A probe run's verdicts are written by the runner
like any run's (:mod:`.runs`); the reads of ordinary runs leave probe runs out
(:mod:`.judging`, :mod:`.curation`).
"""

from __future__ import annotations

import pandas as pd

from safecal.annotate.store.backend import Connection
from safecal.annotate.store.workspace import Workspace


def start_probe_run(
    con: Connection,
    *,
    run_id: str,
    probe_of: str,
    probe: str,
    judge: str,
    kind: str,
    model: str | None,
    prompt_version: str | None,
    params: str,
    started_at: str,
) -> None:
    """Record (or reopen) the run that holds one probe's verdicts, marked as a probe of
    ``probe_of`` (the runner's own start then only reopens it)."""
    con.execute(
        "INSERT INTO judge_runs (run_id, judge, kind, model, prompt_version, params, "
        "started_at, probe_of, probe) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id) DO UPDATE SET probe_of = excluded.probe_of, "
        "probe = excluded.probe, finished_at = NULL",
        (run_id, judge, kind, model, prompt_version, params, started_at, probe_of, probe),
    )


def save_result(
    con: Connection,
    *,
    run_id: str,
    probe: str,
    probe_run_id: str,
    result: str,
    computed_at: str,
) -> None:
    """Store one probe's figures (JSON text), replacing an earlier result."""
    con.execute(
        "INSERT OR REPLACE INTO probe_results (run_id, probe, probe_run_id, result, "
        "computed_at) VALUES (?, ?, ?, ?, ?)",
        (run_id, probe, probe_run_id, result, computed_at),
    )


def results(ws: Workspace, *, run_id: str) -> pd.DataFrame:
    """Reads ``probe_results``: probe, probe_run_id, result (JSON text), computed_at of one
    run's probes, by probe name."""
    return ws.read_sql(
        "SELECT probe, probe_run_id, result, computed_at FROM probe_results "
        "WHERE run_id = ? ORDER BY probe",
        (run_id,),
    )


def probe_verdicts(ws: Workspace, *, probe_run_id: str, field: str) -> pd.DataFrame:
    """Reads ``verdicts``: response_id, label, valid of a probe run's verdicts of ``field``."""
    return ws.read_sql(
        "SELECT response_id, label, valid FROM verdicts WHERE run_id = ? AND field = ?",
        (probe_run_id, field),
    )
