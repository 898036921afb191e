"""Fixtures shared by every test folder: the bundled example, written once per session,
and the database the workspaces live in (``SAFECAL_TEST_BACKEND``, see
tests/workspaces.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from safecal.annotate import Workspace, ingest_items, ingest_responses
from safecal.annotate.example import ExamplePaths, write_example
from safecal.annotate.store.backend import is_url
from safecal.annotate.store.workspace import resolve_workspace
from tests import postgres_server, workspaces


@pytest.fixture(scope="session")
def postgres() -> Iterator[postgres_server.Server]:
    """A real PostgreSQL server for the session (started on first use)."""
    server = postgres_server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def _workspace_backend(request: pytest.FixtureRequest) -> Iterator[None]:
    """On ``SAFECAL_TEST_BACKEND=postgresql``: a workspace opened on a new folder gets a
    fresh database (tests/workspaces.py)."""
    if not workspaces.POSTGRES:
        yield
        return
    workspaces.server = request.getfixturevalue("postgres")
    opener = Workspace.open.__func__  # type: ignore[attr-defined]

    def open_on_postgres(cls: Any, path: Any = None, *, create: bool = True) -> Workspace:
        given = str(path or os.environ.get("SAFECAL_WORKSPACE") or "")
        if create and not is_url(given):
            folder = resolve_workspace(path).absolute()
            if workspaces.is_new_folder(folder):
                workspaces.new_database_for(folder)
        return opener(cls, path, create=create)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Workspace, "open", classmethod(open_on_postgres))
        yield


@pytest.fixture(autouse=True)
def _drop_test_databases() -> Iterator[None]:
    """On PostgreSQL: the databases tests made are dropped, 40 at a time (each DROP
    DATABASE forces a checkpoint: back to back they cost one). A test's session-wide
    fixtures are set up before this and their templates kept."""
    if workspaces.server is None:
        yield
        return
    server = workspaces.server
    before = set(server.created)
    yield
    _DONE.update(set(server.created) - before)
    if len(_DONE) >= 40:
        for name in sorted(_DONE):
            server.drop_database(name)
        _DONE.clear()


_DONE: set[str] = set()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL pass leaves out the tests of SQLite's own files (marker ``sqlite``)."""
    if not workspaces.POSTGRES:
        return
    left_out = [item for item in items if item.get_closest_marker("sqlite")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker("sqlite")]


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
    return workspaces.read_only(ws).path


@pytest.fixture
def example_workspace(_example_workspace_template: Path, tmp_path: Path) -> Workspace:
    """A workspace holding the example's items and responses (a fresh copy per test)."""
    return workspaces.copy_workspace(_example_workspace_template, tmp_path / "ws")
