"""The Label Studio round trip: the statements on tables ``ls_annotators``,
``ls_projects`` and ``ls_tasks``.

Callers import the module: ``from safecal.annotate.store import labelstudio as ls_rows``.
"""

from __future__ import annotations

import sqlite3


def count_sample_projects(con: sqlite3.Connection, *, sample_id: str) -> int:
    """Reads ls_projects: how many projects (any server, any kind) ``sample_id`` has."""
    return int(
        con.execute(
            "SELECT COUNT(*) FROM ls_projects WHERE sample_id = ?", (sample_id,)
        ).fetchone()[0]
    )
