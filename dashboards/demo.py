"""The main job on the bundled example: what ``safecal demo`` runs.

It builds a fresh workspace (default ``./safecal-demo``) from the synthetic
example and walks it through the loop. A folder that holds a workspace not
made by the demo is never deleted.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from annotate import InputError, Workspace, ingest_items, ingest_responses
from annotate.example import NOTICE, write_example

DEFAULT_DEMO = "safecal-demo"


def fresh_demo_workspace(path: str | Path) -> Workspace:
    """An empty workspace at ``path``, removing an earlier demo there (and nothing else)."""
    path = Path(path)
    if path.exists():
        marker = path / ".safecal-demo"
        if not marker.exists() and any(path.iterdir()):
            raise InputError(
                f"{path}: exists and was not made by `safecal demo`; choose another --workspace"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / ".safecal-demo").write_text("made by `safecal demo`; safe to delete\n")
    return Workspace.open(path)


def summary(ws: Workspace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Items per level-1 category x modality, and responses per model x language."""
    items = ws.read_sql("SELECT level1_category, modality FROM items")
    cells = pd.crosstab(
        items["level1_category"], items["modality"], margins=True, margins_name="total"
    )
    responses = ws.read_sql("SELECT model, language FROM responses")
    per_model = pd.crosstab(
        responses["model"], responses["language"], margins=True, margins_name="total"
    )
    return cells, per_model


def run_demo(
    path: str | Path = DEFAULT_DEMO, *, seed: int = 0, say: Callable[[str], None] = print
) -> Workspace:
    """Build the demo workspace at ``path`` and report each step through ``say``."""
    say(NOTICE)
    ws = fresh_demo_workspace(path)
    example = write_example(ws.path / "example-data", seed=seed)
    say(f"example written to {example.root}")
    report = ingest_items(ws, example.items, images=example.images)
    say(report.summary())
    for file in example.responses:
        say(ingest_responses(ws, file).summary())
    cells, per_model = summary(ws)
    say("\nitems per level-1 category x modality combination:\n" + cells.to_string())
    say("\nresponses per target model x language:\n" + per_model.to_string())
    say(f"\nworkspace: {ws.path}")
    return ws
