"""A workspace filled from the bundled example through the annotate / calibrate functions:
the human labels, some honeypots (known labels from truth.csv), gold labels (ties go to
review) and the recorded judge's verdicts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from safecal.annotate import Workspace, build_gold, import_honeypots, import_labels
from safecal.annotate.example import ExamplePaths
from safecal.calibrate import import_verdicts
from tests.workspaces import copy_workspace


@pytest.fixture(scope="session")
def _filled_template(
    example: ExamplePaths,
    _example_workspace_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    target = tmp_path_factory.mktemp("dash-template") / "ws"
    ws = copy_workspace(_example_workspace_template, target)
    import_labels(ws, example.human_labels)
    labels = pd.read_csv(example.human_labels)
    truth = pd.read_csv(example.truth)
    labeled = labels[["item_id", "model", "language", "field"]].drop_duplicates()
    pots = truth.merge(labeled, on=["item_id", "model", "language", "field"]).head(24)
    pots_file = target.parent / "honeypots.csv"
    pots[["item_id", "model", "language", "field", "label"]].to_csv(pots_file, index=False)
    import_honeypots(ws, pots_file)
    build_gold(ws, min_honeypot_accuracy=0.0)
    import_verdicts(ws, example.judge_verdicts)
    return target


@pytest.fixture
def filled_workspace(_filled_template: Path, tmp_path: Path) -> Workspace:
    """The example with labels, honeypots, gold, reviews pending and judge verdicts."""
    target = tmp_path / "ws"
    return copy_workspace(_filled_template, target)
