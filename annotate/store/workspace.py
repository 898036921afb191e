"""The workspace: one folder with a SQLite database and the files safecal keeps.

Layout::

    <workspace>/
        safecal.sqlite      the database (WAL mode: one writer and many readers
                            across processes at once)
        images/             copies of the benchmark images, by their relative path

The folder is chosen with ``--workspace``, else ``$SAFECAL_WORKSPACE``, else
``./safecal-workspace``. The schema version is SQLite's ``user_version``; opening
an older workspace applies the missing migrations in one transaction, opening a
newer one is refused with a clear message.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.store.schema import MIGRATIONS, SCHEMA_VERSION, split_sql

DEFAULT_WORKSPACE = "safecal-workspace"
DB_NAME = "safecal.sqlite"
IMAGES_DIR = "images"


def resolve_workspace(path: str | os.PathLike[str] | None = None) -> Path:
    """``path`` if given, else ``$SAFECAL_WORKSPACE``, else ``./safecal-workspace``."""
    if path:
        return Path(path)
    return Path(os.environ.get("SAFECAL_WORKSPACE") or DEFAULT_WORKSPACE)


@dataclass(frozen=True)
class Workspace:
    """A workspace folder. Open it with :meth:`open`; each call to :meth:`connect`
    gives a fresh connection (connections are not shared between threads)."""

    path: Path

    @property
    def db_path(self) -> Path:
        return self.path / DB_NAME

    @property
    def images_dir(self) -> Path:
        return self.path / IMAGES_DIR

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Workspace:
        """Open (and with ``create``, make) the workspace, migrating it to the current schema."""
        given = str(path or os.environ.get("SAFECAL_WORKSPACE") or "")
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", given):
            raise InputError(
                f"--workspace {given.split('://', 1)[0]}://...: a workspace is a folder here; "
                "database URLs (PostgreSQL) are not supported yet: pass a folder"
            )
        ws = cls(resolve_workspace(path).absolute())
        if not ws.db_path.exists():
            if not create:
                raise InputError(
                    f"{ws.path}: no safecal workspace here; run `safecal ingest items` first "
                    "or pass --workspace"
                )
            if ws.path.exists() and not ws.path.is_dir():
                raise InputError(
                    f"{ws.path}: exists and is not a folder; choose another --workspace"
                )
            ws.path.mkdir(parents=True, exist_ok=True)
        ws.images_dir.mkdir(exist_ok=True)
        ws._migrate()
        return ws

    def connect(self) -> sqlite3.Connection:
        """A connection in WAL mode with foreign keys on and a 30 s busy timeout.

        Autocommit mode (``isolation_level=None``); group writes with :meth:`transaction`.
        """
        try:
            con = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.db_path}: not a usable safecal database ({exc})") from None
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): all of it lands, or none of it."""
        con = self.connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def read_sql(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> pd.DataFrame:
        """Run a query and return its rows as a DataFrame."""
        con = self.connect()
        try:
            return pd.read_sql_query(sql, con, params=params)
        finally:
            con.close()

    def schema_version(self) -> int:
        con = self.connect()
        try:
            return int(con.execute("PRAGMA user_version").fetchone()[0])
        finally:
            con.close()

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise InputError(
                f"{self.db_path}: workspace schema version {version} is newer than this "
                f"safecal understands ({SCHEMA_VERSION}); upgrade safecal"
            )

    def _migrate(self) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION`.

        A workspace already at the current version is only read (no write lock), so
        opening it never waits for another process's write: a long ingest does not
        block ``calibrate judge`` or the dashboard. Otherwise the version is read again
        inside the write transaction, as another process may have migrated meanwhile.
        """
        version = self.schema_version()
        self._check_version(version)
        if version == SCHEMA_VERSION:
            return
        with self.transaction() as con:
            version = int(con.execute("PRAGMA user_version").fetchone()[0])
            self._check_version(version)
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in split_sql(MIGRATIONS[target - 1]):
                    con.execute(statement)
                con.execute(f"PRAGMA user_version = {target}")
            if version == 0:
                con.execute("INSERT INTO meta (key, value) VALUES ('created_at', datetime('now'))")
