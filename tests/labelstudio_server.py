"""A real Label Studio for tests: one migrated template per session, copied per start.

Building the template (an empty data folder, migrated, first user created) takes
about a minute once; each later start copies it and takes seconds. Any test folder
can use :func:`template_dir` and :func:`running_server`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from safecal.annotate.labelstudio.server import ServerInfo, ls_dir, start_server, stop_server


def build_template(base: Path) -> Path:
    """Start a server on an empty workspace once, stop it, keep its ``labelstudio/``."""
    ws = base / "template-ws"
    (ws / "images").mkdir(parents=True, exist_ok=True)
    try:
        start_server(ws, images_dir=ws / "images")
    finally:
        stop_server(ws)
    template = base / "labelstudio-template"
    shutil.copytree(ls_dir(ws), template)
    (template / "server.log").unlink(missing_ok=True)
    return template


@contextmanager
def running_server(workspace: Path, template: Path) -> Iterator[ServerInfo]:
    """A server for ``workspace`` started from ``template``; stopped (by PID) on exit."""
    info = start_server(workspace, images_dir=workspace / "images", template=template)
    try:
        yield info
    finally:
        stop_server(workspace)


def use_project_organization(ws, conn, project_id: int) -> None:
    """Make the lead work in the organization of ``project_id`` (each annotator's
    projects live in their own; see annotate/labelstudio/organizations.py)."""
    from safecal.annotate.labelstudio.organizations import use_person_organization

    owner = ws.read_sql(
        "SELECT annotator FROM ls_projects WHERE project_id = ?", (int(project_id),)
    )["annotator"]
    use_person_organization(ws, conn, str(owner.iloc[0]))
