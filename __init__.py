"""safecal: automatic safety judges of multimodal-LLM benchmarks as measured instruments.

The stages, in the one direction data flows:

- :mod:`safecal.annotate`: the workspace, ingest, sampling, Label Studio, gold labels;
- :mod:`safecal.calibrate`: agreement, judges, tuning, corrected rates, curation;
- :mod:`safecal.dashboards`: the Streamlit dashboard.

:mod:`safecal.cli` is the ``safecal`` command and :mod:`safecal.demo` the whole loop on
the bundled example. This face re-exports the few names most scripts start from; each
stage's package exports the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: name -> the stage package it comes from (imported on first use, so that
#: ``import safecal.annotate`` does not load calibrate's libraries)
_FACE = {
    "InputError": "safecal.annotate",
    "Workspace": "safecal.annotate",
    "build_gold": "safecal.annotate",
    "draw_sample": "safecal.annotate",
    "export_gold": "safecal.annotate",
    "ingest_items": "safecal.annotate",
    "ingest_responses": "safecal.annotate",
    "read_table": "safecal.annotate",
    "agreement": "safecal.calibrate",
    "corrected_rate": "safecal.calibrate",
    "estimate_table": "safecal.calibrate",
    "judge_metrics": "safecal.calibrate",
    "run_judge": "safecal.calibrate",
}

if TYPE_CHECKING:
    from safecal.annotate import (
        InputError,
        Workspace,
        build_gold,
        draw_sample,
        export_gold,
        ingest_items,
        ingest_responses,
        read_table,
    )
    from safecal.calibrate import (
        agreement,
        corrected_rate,
        estimate_table,
        judge_metrics,
        run_judge,
    )


def __getattr__(name: str) -> Any:
    if name in _FACE:
        return getattr(importlib.import_module(_FACE[name]), name)
    raise AttributeError(f"module 'safecal' has no attribute {name!r}")


__all__ = [
    "InputError",
    "Workspace",
    "agreement",
    "build_gold",
    "corrected_rate",
    "draw_sample",
    "estimate_table",
    "export_gold",
    "ingest_items",
    "ingest_responses",
    "judge_metrics",
    "read_table",
    "run_judge",
]
