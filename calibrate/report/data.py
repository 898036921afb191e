"""The tables behind tuning and the judge card, from the workspace.

Built on :func:`calibrate.rows.select_rows` (the one selection of rows and weights that
``calibrate judge`` / ``estimate`` and the dashboard use: gold, slices, unanimity,
inclusion probabilities, one verdict column per run): the run's verdict column is renamed
``judge`` (``(invalid)`` for an unparseable answer) and its score ``score``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.labels import POSITIVE
from safecal.annotate.store import Workspace
from safecal.annotate.store import judging as store_judging


def resolve_run(ws: Workspace, run: str) -> dict[str, Any]:
    """The judge run named by ``run`` (a run id, or a judge name: its newest run)."""
    runs = store_judging.judge_runs(ws)
    hit = runs[runs["run_id"] == run]
    if hit.empty:
        hit = runs[runs["judge"] == run]
    if hit.empty:
        known = ", ".join(f"{r.run_id} ({r.judge})" for r in runs.itertuples()) or "none"
        raise InputError(
            f"no judge run or judge named {run!r}; known runs: {known}. "
            "Run `safecal calibrate run` first"
        )
    return hit.iloc[0].to_dict()


def run_fields(ws: Workspace, run_id: str) -> list[str]:
    """The fields the run has verdicts for, harmfulness first."""
    fields = store_judging.run_fields(ws, run_id=run_id)
    return sorted(fields["field"], key=lambda f: (f != "harmfulness", f))


def run_table(
    ws: Workspace, run: str, *, field: str | None = None, assume_random: bool = False
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One run's verdicts beside the gold labels of ``field``, with slice columns.

    Columns: those of :func:`calibrate.tables.responses_table` (gold, model, language,
    level1-3 category, modality, aspect, unanimity, ...) plus ``judge``, ``score``,
    ``latency``, ``tokens_in``, ``tokens_out``, ``raw``. Returns the table and the run's
    row of ``judge_runs`` with ``field``, ``positive``, ``weight`` (the inclusion-probability
    column or ``None``) and ``notes`` (the design's, :func:`calibrate.rows.sample_design`)
    added. ``assume_random``: count gold from no sample as a simple random sample.
    """
    from safecal.calibrate.rows import select_rows

    info = resolve_run(ws, run)
    fields = run_fields(ws, info["run_id"])
    if field is None:
        if len(fields) != 1:
            raise InputError(
                f"run {info['run_id']} has verdicts for {', '.join(fields) or 'no'} "
                "field(s); choose one with --field"
            )
        field = fields[0]
    elif field not in fields:
        raise InputError(f"run {info['run_id']} has no verdicts for field {field!r}")
    rows = select_rows(ws, field=field, runs=[info["run_id"]], assume_random=assume_random)
    name = rows.judges[0]
    table = rows.table.rename(columns={name: "judge", f"score:{name}": "score"})
    extra = store_judging.run_verdict_details(ws, run_id=info["run_id"], field=field)
    table = table.merge(extra, on="response_id", how="left")
    info = {
        **info,
        "field": field,
        "positive": sorted(POSITIVE[field]),
        "weight": rows.weight,
        "notes": rows.notes,
    }
    return table, info
