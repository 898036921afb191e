"""A real Label Studio for the annotation tests (see tests/labelstudio_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from safecal.annotate.labelstudio.client import Connection, connect_to
from safecal.annotate.labelstudio.server import ServerInfo
from safecal.annotate.store import Workspace
from tests.annotate.fixtures import populate
from tests.labelstudio_server import build_template, running_server


@dataclass
class LiveServer:
    ws: Workspace
    info: ServerInfo
    conn: Connection


@pytest.fixture(scope="session")
def ls_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated Label Studio data folder with its first user, built once per session."""
    return build_template(tmp_path_factory.mktemp("ls-template"))


@pytest.fixture(scope="session")
def live(ls_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One running server on a small populated workspace, shared by the session's tests
    (each test uses its own sample id)."""
    ws = populate(tmp_path_factory.mktemp("live") / "ws", n_items=16)
    with running_server(ws.path, ls_template) as info:
        yield LiveServer(
            ws=ws, info=info, conn=connect_to(info.url, info.token, server_key="workspace")
        )
