"""The Label Studio round trip: the statements on tables ``ls_annotators``,
``ls_projects`` and ``ls_tasks``.

Callers import the module: ``from safecal.annotate.store import labelstudio as ls_rows``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from safecal.annotate.store.backend import Connection
from safecal.annotate.store.workspace import Workspace


def count_sample_projects(con: Connection, *, sample_id: str) -> int:
    """Reads ls_projects: how many projects (any server, any kind) ``sample_id`` has."""
    return int(
        con.execute(
            "SELECT COUNT(*) FROM ls_projects WHERE sample_id = ?", (sample_id,)
        ).fetchone()[0]
    )


def find_project(
    ws: Workspace,
    *,
    server_url: str,
    sample_id: str,
    annotator: str,
    task_type: str,
    kind: str,
) -> pd.DataFrame:
    """Reads ls_projects: the project_id of (server, sample, annotator, task type, kind),
    no row if there is none."""
    return ws.read_sql(
        "SELECT project_id FROM ls_projects WHERE server_url = ? AND sample_id = ? AND"
        " annotator = ? AND task_type = ? AND kind = ?",
        (server_url, sample_id, annotator, task_type, kind),
    )


def insert_project(
    con: Connection,
    *,
    server_url: str,
    project_id: int,
    sample_id: str,
    annotator: str,
    task_type: str,
    kind: str,
    title: str,
    created_at: str,
) -> None:
    """Writes ls_projects: the project, unless (server, project id) is there already."""
    con.execute(
        "INSERT OR IGNORE INTO ls_projects (server_url, project_id, sample_id, annotator,"
        " task_type, kind, title, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (server_url, project_id, sample_id, annotator, task_type, kind, title, created_at),
    )


def insert_tasks(con: Connection, *, rows: Iterable[tuple[str, int, str, int, str]]) -> None:
    """Writes ls_tasks: (server_url, project_id, unit_id, task_id, pushed_at) rows; a unit
    already mapped in that project keeps its task."""
    con.executemany(
        "INSERT OR IGNORE INTO ls_tasks (server_url, project_id, unit_id, task_id, pushed_at)"
        " VALUES (?, ?, ?, ?, ?)",
        rows,
    )


def project_tasks(ws: Workspace, *, server_url: str, project_id: int) -> pd.DataFrame:
    """Reads ls_tasks: unit_id, task_id of every task pushed to the project."""
    return ws.read_sql(
        "SELECT unit_id, task_id FROM ls_tasks WHERE server_url = ? AND project_id = ?",
        (server_url, project_id),
    )


def annotation_projects(
    ws: Workspace, *, server_url: str, sample_id: str | None = None
) -> pd.DataFrame:
    """Reads ls_projects: project_id, sample_id, annotator, task_type of the server's
    annotation projects (of ``sample_id``, else of every sample)."""
    return ws.read_sql(
        "SELECT project_id, sample_id, annotator, task_type FROM ls_projects"
        " WHERE server_url = ? AND kind = 'annotate'" + (" AND sample_id = ?" if sample_id else ""),
        (server_url, sample_id) if sample_id else (server_url,),
    )


def review_projects(ws: Workspace, *, server_url: str) -> pd.DataFrame:
    """Reads ls_projects: project_id, task_type, annotator (the reviewer) of the
    server's review projects."""
    return ws.read_sql(
        "SELECT project_id, task_type, annotator FROM ls_projects"
        " WHERE server_url = ? AND kind = 'review'",
        (server_url,),
    )


def upsert_annotators(
    con: Connection, *, rows: Iterable[tuple[str, str, int, str, str, int | None]]
) -> None:
    """Writes ls_annotators: rows (server_url, email, user_id, role, created_at,
    organization_id); an account already there takes the new user id and organization
    (a NULL keeps the old one) and keeps its role and creation time."""
    con.executemany(
        "INSERT INTO ls_annotators (server_url, email, user_id, role, created_at,"
        " organization_id) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (server_url, email) DO"
        " UPDATE SET user_id = excluded.user_id,"
        " organization_id = coalesce(excluded.organization_id, ls_annotators.organization_id)",
        rows,
    )


def annotator_organization(ws: Workspace, *, server_url: str, email: str) -> int | None:
    """Reads ls_annotators: the Label Studio organization of ``email`` on the server
    (``None`` if it has none)."""
    found = ws.read_sql(
        "SELECT organization_id FROM ls_annotators WHERE server_url = ? AND email = ?"
        " AND organization_id IS NOT NULL",
        (server_url, email.lower()),
    )
    return int(found["organization_id"].iloc[0]) if len(found) else None


def server_user_ids(ws: Workspace, *, server_url: str) -> pd.DataFrame:
    """Reads ls_annotators: email, user_id of the server's accounts."""
    return ws.read_sql(
        "SELECT email, user_id FROM ls_annotators WHERE server_url = ? AND user_id IS NOT NULL",
        (server_url,),
    )


def any_review_project(ws: Workspace) -> pd.DataFrame:
    """Reads ls_projects: one row if there is a review project (any server), else none."""
    return ws.read_sql("SELECT 1 FROM ls_projects WHERE kind = 'review' LIMIT 1")


def pull_cursors(ws: Workspace, *, server_url: str) -> dict[int, str]:
    """Reads ls_pull_cursors: project_id -> cursor of the server's pulled projects."""
    rows = ws.read_sql(
        "SELECT project_id, cursor FROM ls_pull_cursors WHERE server_url = ?", (server_url,)
    )
    return dict(zip(rows["project_id"].astype(int), rows["cursor"], strict=True))


def set_pull_cursors(
    con: Connection, *, server_url: str, cursors: dict[int, str | None], pulled_at: str
) -> None:
    """Writes ls_pull_cursors: the projects' new cursors (``None`` forgets one)."""
    for project_id, cursor in cursors.items():
        if cursor is None:
            con.execute(
                "DELETE FROM ls_pull_cursors WHERE server_url = ? AND project_id = ?",
                (server_url, project_id),
            )
        else:
            con.execute(
                "INSERT INTO ls_pull_cursors (server_url, project_id, cursor, pulled_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (server_url, project_id) DO UPDATE SET"
                " cursor = excluded.cursor, pulled_at = excluded.pulled_at",
                (server_url, project_id, cursor, pulled_at),
            )
