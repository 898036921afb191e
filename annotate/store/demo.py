"""The demo's mark on a database workspace, and its rebuild.

``safecal demo`` rebuilds its workspace on every run. In a folder it knows its own
work by a marker file; in a PostgreSQL database by the ``meta`` row ``made_by``. Only a
database carrying that row is cleared, and only of the tables safecal's migrations
create (``DROP TABLE ... CASCADE``, PostgreSQL's spelling): a database holding anyone
else's workspace is refused by the demo, never emptied.
"""

from __future__ import annotations

import re

from safecal.annotate.store.schema import MIGRATIONS
from safecal.annotate.store.workspace import Workspace

MADE_BY = "safecal demo"


def made_by_demo(ws: Workspace) -> bool:
    """Reads ``meta``: whether ``safecal demo`` made this workspace."""
    found = ws.read_sql("SELECT value FROM meta WHERE key = 'made_by'")
    return bool(len(found)) and found["value"].iloc[0] == MADE_BY


def mark_as_demo(ws: Workspace) -> None:
    """Writes ``meta``: the ``made_by`` row of a workspace the demo made."""
    with ws.transaction() as con:
        con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('made_by', ?)", (MADE_BY,))


def safecal_tables() -> list[str]:
    """Every table a migration creates (some renamed or dropped by later ones)."""
    return sorted({t for m in MIGRATIONS for t in re.findall(r"CREATE TABLE (\w+)", m)})


def drop_demo_tables(ws: Workspace) -> None:
    """Drop safecal's tables from a PostgreSQL workspace the demo made (checked here,
    in the same transaction), leaving the database empty of them."""
    assert ws.dialect == "postgresql", "a folder workspace is removed with its folder"
    with ws.transaction() as con:
        row = con.execute("SELECT value FROM meta WHERE key = 'made_by'").fetchone()
        if row is None or row[0] != MADE_BY:
            raise ValueError(f"{ws.location}: not made by `safecal demo`")
        con.execute(f"DROP TABLE IF EXISTS {', '.join(safecal_tables())} CASCADE")
