"""The workspace: where safecal keeps its tables and files.

Two kinds, one interface:

- a folder (the embedded default)::

    <workspace>/
        safecal.sqlite      the database (WAL mode: one writer and many readers
                            across processes at once)
        images/             copies of the benchmark images, by their relative path

- a PostgreSQL database (a team's workspace: a judge run on a cluster node, the
  dashboard served elsewhere): ``--workspace postgresql://USER@HOST[:PORT]/DB``. The
  tables live in the database; the files (``images/``, Label Studio's state, logs,
  reports) in a folder beside it: ``$SAFECAL_FILES``, else ``./safecal-files``. That
  folder remembers its database in ``safecal.database`` (the URL without any password),
  so ``--workspace <that folder>`` opens the same workspace. The password comes from
  the URL, ``PGPASSWORD`` or ``~/.pgpass``; it is never written down and messages show
  the URL with ``***`` in its place. The database must exist (``createdb DB``); safecal
  creates its tables there on first use.

The folder or URL is chosen with ``--workspace``, else ``$SAFECAL_WORKSPACE``, else
``./safecal-workspace``. The schema version is SQLite's ``user_version`` (on PostgreSQL,
the ``schema_version`` row of ``meta``); opening an older workspace applies the missing
migrations in one transaction, opening a newer one is refused with a clear message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.store.backend import (
    Connection,
    Dialect,
    connect_postgres,
    connect_sqlite,
    database_errors,
    is_url,
    redact,
    without_password,
)
from safecal.annotate.store.schema import SCHEMA_VERSION, migration_statements

DEFAULT_WORKSPACE = "safecal-workspace"
DEFAULT_FILES = "safecal-files"
DB_NAME = "safecal.sqlite"
URL_FILE = "safecal.database"
IMAGES_DIR = "images"
POSTGRES_SCHEMES = ("postgresql", "postgres")


def resolve_workspace(path: str | os.PathLike[str] | None = None) -> Path:
    """``path`` if given, else ``$SAFECAL_WORKSPACE``, else ``./safecal-workspace``.

    For a database URL this is the folder of its files (``$SAFECAL_FILES``, else
    ``./safecal-files``)."""
    given = str(path or os.environ.get("SAFECAL_WORKSPACE") or DEFAULT_WORKSPACE)
    if is_url(given):
        return Path(os.environ.get("SAFECAL_FILES") or DEFAULT_FILES)
    return Path(given)


@dataclass(frozen=True)
class Workspace:
    """A workspace: a folder (SQLite), or a PostgreSQL database with a folder for its
    files. Open it with :meth:`open`; each call to :meth:`connect` gives a fresh
    connection (connections are not shared between threads)."""

    path: Path
    #: the database URL of a PostgreSQL workspace (may hold a password: never shown)
    url: str | None = field(default=None, repr=False, compare=False)

    @property
    def dialect(self) -> Dialect:
        return "sqlite" if self.url is None else "postgresql"

    @property
    def db_path(self) -> Path:
        """The SQLite database file (on PostgreSQL, a path that does not exist)."""
        return self.path / DB_NAME

    @property
    def images_dir(self) -> Path:
        return self.path / IMAGES_DIR

    @property
    def location(self) -> str:
        """Where the tables are, for messages: the folder, or the URL without password."""
        return str(self.path) if self.url is None else redact(self.url)

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Workspace:
        """Open (and with ``create``, make) the workspace, migrating it to the current schema."""
        given = str(path or os.environ.get("SAFECAL_WORKSPACE") or "")
        if is_url(given):
            return cls._open_database(given, create=create)
        folder = resolve_workspace(path).absolute()
        if (folder / URL_FILE).is_file():
            url = (folder / URL_FILE).read_text(encoding="utf-8").strip()
            return cls._open_database(url, create=create, files=folder)
        ws = cls(folder)
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

    @classmethod
    def at(cls, folder: str | os.PathLike[str]) -> Workspace:
        """The workspace of a folder :meth:`open` has opened before, without its checks
        and migration (the dashboard's loaders, called many times per page): the folder
        itself, or the database its ``safecal.database`` names."""
        path = Path(folder)
        kept = path / URL_FILE
        if kept.is_file():
            return cls(path, url=kept.read_text(encoding="utf-8").strip())
        return cls(path)

    @classmethod
    def _open_database(cls, url: str, *, create: bool, files: Path | None = None) -> Workspace:
        """A PostgreSQL workspace: check the URL, connect once, migrate, and keep the
        URL (without password) in the files folder."""
        scheme = url.split("://", 1)[0].lower()
        if scheme not in POSTGRES_SCHEMES:
            raise InputError(
                f"--workspace {redact(url)}: {scheme}:// is not a database safecal can use; "
                "pass a folder or a postgresql://USER@HOST[:PORT]/DB URL"
            )
        folder = (files or Path(os.environ.get("SAFECAL_FILES") or DEFAULT_FILES)).absolute()
        if (folder / DB_NAME).exists():
            raise InputError(
                f"{folder}: holds a SQLite workspace; choose another folder for the files of "
                f"{redact(url)} (SAFECAL_FILES)"
            )
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{folder}: exists and is not a folder; set SAFECAL_FILES")
        kept = folder / URL_FILE
        if kept.is_file() and kept.read_text(encoding="utf-8").strip() != without_password(url):
            raise InputError(
                f"{folder}: holds the files of another database "
                f"({kept.read_text(encoding='utf-8').strip()}); set SAFECAL_FILES to another folder"
            )
        ws = cls(folder, url=url)
        version = ws.schema_version()  # connects: a wrong URL fails here, before any file
        if version == 0 and not create:
            raise InputError(
                f"{ws.location}: no safecal workspace in this database; run "
                "`safecal ingest items` first or pass --workspace"
            )
        folder.mkdir(parents=True, exist_ok=True)
        ws.images_dir.mkdir(exist_ok=True)
        if not kept.is_file():
            kept.write_text(without_password(url) + "\n", encoding="utf-8")
        ws._migrate()
        return ws

    def connect(self) -> Connection:
        """A connection in autocommit mode; group writes with :meth:`transaction`.

        SQLite: WAL mode, foreign keys on, a 30 s busy timeout. PostgreSQL: psycopg 3.
        """
        if self.url is not None:
            try:
                return connect_postgres(self.url)
            except database_errors() as exc:
                message = str(exc).replace(self.url, redact(self.url)).strip()
                raise InputError(f"{self.location}: cannot connect ({message})") from None
        try:
            return connect_sqlite(self.db_path)
        except database_errors() as exc:
            raise InputError(f"{self.db_path}: not a usable safecal database ({exc})") from None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE``: writers queue, readers do not
        wait): all of it lands, or none of it."""
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
        """Run a query and return its rows as a DataFrame (the same columns and types on
        both databases: pandas builds SQLite's frames from records too)."""
        con = self.connect()
        try:
            if con.dialect == "sqlite":
                return pd.read_sql_query(sql, con.raw, params=params)
            cur = con.execute(sql, params)
            columns = [d.name for d in cur.description]
            return pd.DataFrame.from_records(cur.fetchall(), columns=columns, coerce_float=True)
        finally:
            con.close()

    def schema_version(self) -> int:
        con = self.connect()
        try:
            return _version(con)
        finally:
            con.close()

    def data_stamp(self) -> tuple[int, ...]:
        """A value that changes with every committed write (the dashboard's cache key):
        the SQLite files' (mtime, size), or PostgreSQL's write-ahead log insert position (not
        the write position, which lags behind commits when WAL writes are deferred)."""
        if self.url is None:
            out: list[int] = []
            for name in (DB_NAME, DB_NAME + "-wal"):
                try:
                    s = (self.path / name).stat()
                    out += [s.st_mtime_ns, s.st_size]
                except FileNotFoundError:
                    out += [0, 0]
            return tuple(out)
        con = self.connect()
        try:
            lsn = str(con.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0])
        finally:
            con.close()
        high, low = lsn.split("/")
        return (int(high, 16), int(low, 16), 0, 0)

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise InputError(
                f"{self.location}: workspace schema version {version} is newer than this "
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
            version = _version(con)
            self._check_version(version)
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in migration_statements(target, con.dialect):
                    con.execute(statement)
                _set_version(con, target)
            if version == 0:
                con.execute(
                    "INSERT INTO meta (key, value) VALUES ('created_at', ?)",
                    (datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),),
                )


def _version(con: Connection) -> int:
    """The schema version: SQLite's ``user_version``; on PostgreSQL the ``meta`` row
    ``schema_version`` (0 before the first migration made ``meta``)."""
    if con.dialect == "sqlite":
        return int(con.execute("PRAGMA user_version").fetchone()[0])
    if con.execute("SELECT to_regclass('meta') IS NULL").fetchone()[0]:
        return 0
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return 0 if row is None else int(row[0])


def _set_version(con: Connection, version: int) -> None:
    if con.dialect == "sqlite":
        con.execute(f"PRAGMA user_version = {int(version)}")
        return
    con.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(version),),
    )
