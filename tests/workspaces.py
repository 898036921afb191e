"""Which database the tests' workspaces live in, and copying a workspace.

``SAFECAL_TEST_BACKEND=postgresql`` (``.ci/run`` sets it for its second pass) puts
every workspace a test opens by folder into a fresh database of a real PostgreSQL
server (``tests/postgres_server.py``): ``tests/conftest.py`` wraps
:meth:`Workspace.open` so that a folder with no workspace yet gets a new database and
its ``safecal.database`` file, the same file a user's PostgreSQL workspace keeps. The
code under test then runs its PostgreSQL path unchanged, in this process and in any
``safecal`` process the test starts on that folder. The default is SQLite.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from safecal.annotate.store import DB_NAME, URL_FILE, Workspace

BACKEND = os.environ.get("SAFECAL_TEST_BACKEND", "sqlite")
POSTGRES = BACKEND == "postgresql"

#: the running server when POSTGRES (set by tests/conftest.py)
server = None


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def new_database_for(folder: Path) -> None:
    """Give ``folder`` (no workspace there yet) a fresh PostgreSQL database."""
    assert server is not None
    url = server.create_database()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / URL_FILE).write_text(url + "\n", encoding="utf-8")


def demo_target(folder: Path) -> tuple[str, dict[str, str]]:
    """What a test gives ``safecal demo --workspace`` for a demo whose files go to
    ``folder``, with the environment to add: the folder on SQLite; on PostgreSQL a fresh
    database's URL, the files in ``folder`` through ``SAFECAL_FILES`` (a user's
    spelling, so the demo's own PostgreSQL path runs)."""
    if not POSTGRES:
        return str(folder), {}
    assert server is not None
    return server.create_database(), {"SAFECAL_FILES": str(folder)}


def copy_workspace(source: Path, target: Path) -> Workspace:
    """A copy of the workspace at ``source`` (folder and, on PostgreSQL, database)."""
    shutil.copytree(source, target)
    kept = target / URL_FILE
    if kept.is_file():
        assert server is not None
        template = database_name(kept.read_text(encoding="utf-8").strip())
        kept.write_text(server.create_database(template=template) + "\n", encoding="utf-8")
    return Workspace.open(target, create=False)


def read_only(ws: Workspace) -> Workspace:
    """Seal a session fixture that tests share and must not change. On PostgreSQL its
    database refuses every write from then on (a test that "copies" the folder with
    ``shutil.copytree`` shares the database, not a copy, and would otherwise change what
    later tests read); ``copy_workspace`` gives a writable copy (settings stay behind).
    SQLite's copies are real copies, so nothing is needed there."""
    kept = ws.path / URL_FILE
    if not kept.is_file():
        return ws
    assert server is not None
    name = database_name(kept.read_text(encoding="utf-8").strip())
    server.admin(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    return Workspace.open(ws.path, create=False)


def is_new_folder(folder: Path) -> bool:
    return (
        not (folder / DB_NAME).exists()
        and not (folder / URL_FILE).exists()
        and (not folder.exists() or folder.is_dir())
    )
