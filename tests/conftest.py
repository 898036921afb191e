"""Fixtures shared by every test folder: the bundled example, written once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safecal.annotate import Workspace, ingest_items, ingest_responses
from safecal.annotate.example import ExamplePaths, write_example


@pytest.fixture(scope="session")
def example(tmp_path_factory: pytest.TempPathFactory) -> ExamplePaths:
    """The synthetic example (seed 0). Read-only: copy it before changing files."""
    return write_example(tmp_path_factory.mktemp("example"), seed=0)


@pytest.fixture(scope="session")
def _example_workspace_template(example: ExamplePaths, tmp_path_factory) -> Path:
    ws = Workspace.open(tmp_path_factory.mktemp("ws-template") / "ws")
    ingest_items(ws, example.items, images=example.images)
    for file in example.responses:
        ingest_responses(ws, file)
    return ws.path


@pytest.fixture
def example_workspace(_example_workspace_template: Path, tmp_path: Path) -> Workspace:
    """A workspace holding the example's items and responses (a fresh copy per test)."""
    target = tmp_path / "ws"
    shutil.copytree(_example_workspace_template, target)
    return Workspace.open(target, create=False)
