"""The two databases a workspace can live in, behind one connection type.

The store's modules write one SQL text, in SQLite's dialect, and run it through a
:class:`Connection`. On SQLite the text goes to :mod:`sqlite3` untouched (so the
embedded default behaves exactly as before). On PostgreSQL (psycopg 3) it is rewritten
once per distinct text (:func:`to_postgres`, cached):

- placeholders ``?`` and ``:name`` become ``%s`` and ``%(name)s`` (a literal ``%``
  becomes ``%%``);
- ``INSERT OR IGNORE`` becomes ``INSERT ... ON CONFLICT DO NOTHING`` and
  ``INSERT OR REPLACE`` an upsert on the table's primary key (:data:`PRIMARY_KEYS`);
- ``a IS b`` between two values becomes ``a IS NOT DISTINCT FROM b`` (SQLite's ``IS``
  compares NULLs as equal; PostgreSQL's only tests for NULL);
- ``BEGIN IMMEDIATE`` (SQLite: take the write lock now) becomes ``BEGIN`` plus a
  transaction-scoped advisory lock, so writers queue one after another exactly as on
  SQLite (a read-then-write in one transaction never interleaves with another
  writer's) while readers, under MVCC, never wait.

Statements that differ in more than that (PRAGMAs, the catalog of indexes, the bulk
load) branch on :attr:`Connection.dialect` in the store module that owns them.

Why hand-written rather than SQLAlchemy: the store's SQL is plain text already and the
rewrite is a few regular expressions; SQLAlchemy Core would mean a second spelling of
every statement and a slower path for the bulk loads this project measures.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

Dialect = Literal["sqlite", "postgresql"]

#: the advisory lock every PostgreSQL write transaction takes (any constant; "safecal")
WRITE_LOCK_KEY = 0x5AFECA1

#: primary keys of the tables written with ``INSERT OR REPLACE``
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "verdicts": ("run_id", "response_id"),
    "judge_cache": ("config_key", "input_key"),
    "probe_results": ("run_id", "probe"),
}

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(text: str) -> bool:
    """Whether ``text`` looks like a database URL (``scheme://...``)."""
    return bool(_URL.match(text))


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def without_password(url: str) -> str:
    """``url`` with the password left out (what a workspace folder may keep on disk)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    netloc = f"{parts.username}@{host}" if parts.username else host
    return urlunsplit(parts._replace(netloc=netloc))


# ---- the SQLite -> PostgreSQL rewrite ------------------------------------------------

_TOKENS = re.compile(r"'(?:[^']|'')*'|\?|(?<!:):([A-Za-z_]\w*)|%")
_INSERT_OR = re.compile(r"^\s*INSERT OR (IGNORE|REPLACE) INTO (\w+)\s*\(([^)]*)\)", re.I | re.S)
_IS_VALUE = re.compile(r"\bIS (?!NULL\b|NOT\b)", re.I)


@lru_cache(maxsize=512)
def to_postgres(sql: str) -> str:
    """The PostgreSQL spelling of one statement written for SQLite (module docstring)."""

    def token(m: re.Match[str]) -> str:
        text = m.group(0)
        if text.startswith("'"):
            return text.replace("%", "%%")
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        return f"%({m.group(1)})s"

    out = _TOKENS.sub(token, sql)
    out = _IS_VALUE.sub("IS NOT DISTINCT FROM ", out)
    m = _INSERT_OR.match(out)
    if m:
        kind, table, columns = m.group(1).upper(), m.group(2), m.group(3)
        out = f"INSERT INTO {table} ({columns})" + out[m.end() :]
        if kind == "IGNORE":
            out += " ON CONFLICT DO NOTHING"
        else:
            key = PRIMARY_KEYS[table]
            names = [c.strip() for c in columns.split(",")]
            updates = ", ".join(f"{c} = excluded.{c}" for c in names if c not in key)
            out += f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    return out


# ---- the connection ------------------------------------------------------------------


class Connection:
    """A database connection in autocommit mode with SQLite's calling conventions
    (``execute`` returns a cursor to iterate or ``fetchone``; ``executemany``).

    Group writes with ``BEGIN IMMEDIATE`` ... ``COMMIT`` (or
    :meth:`safecal.annotate.store.Workspace.transaction`)."""

    def __init__(self, raw: Any, dialect: Dialect) -> None:
        self.raw = raw
        self.dialect: Dialect = dialect

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @property
    def in_transaction(self) -> bool:
        if self.dialect == "sqlite":
            return bool(self.raw.in_transaction)
        import psycopg

        return bool(self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        if self.dialect == "sqlite":
            return self.raw.execute(sql, params)
        if sql.strip().upper() == "BEGIN IMMEDIATE":
            self.raw.execute("BEGIN")
            return self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
        return self.raw.execute(to_postgres(sql), params)

    def executemany(
        self, sql: str, rows: Iterable[Sequence[Any]] | Iterable[Mapping[str, Any]]
    ) -> None:
        if self.dialect == "sqlite":
            self.raw.executemany(sql, rows)
            return
        batch = list(rows)
        if batch:
            with self.raw.cursor() as cur:
                cur.executemany(to_postgres(sql), batch)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert ``rows`` (values in ``columns`` order) into ``table``: ``COPY`` on
        PostgreSQL (several times faster than row-by-row inserts), ``executemany`` on
        SQLite."""
        names = ", ".join(columns)
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(columns))
            self.raw.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            return
        with self.raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Iterator[Any]:
        """The rows of a query, one by one."""
        yield from self.execute(sql, params)

    def close(self) -> None:
        self.raw.close()


def connect_sqlite(path: Any) -> Connection:
    """A SQLite connection in WAL mode with foreign keys on and a 30 s busy timeout."""
    raw = sqlite3.connect(path, timeout=30, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA foreign_keys=ON")
    raw.execute("PRAGMA synchronous=NORMAL")
    return Connection(raw, "sqlite")


def connect_postgres(url: str) -> Connection:
    """A psycopg connection in autocommit mode; ``numeric`` values (``sum`` of integers
    over bigint, ``avg``) load as float like SQLite's, not as Decimal. The password comes
    from the URL, ``PGPASSWORD`` or ``~/.pgpass`` (libpq reads them)."""
    import psycopg
    from psycopg.types.numeric import FloatLoader

    raw = psycopg.connect(url, autocommit=True, connect_timeout=30)
    raw.adapters.register_loader("numeric", FloatLoader)
    return Connection(raw, "postgresql")


def database_errors() -> tuple[type[BaseException], ...]:
    """The exception classes of both drivers (psycopg's only if it is installed)."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.Error,)
    return (sqlite3.Error, psycopg.Error)


def integrity_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:
        return (sqlite3.IntegrityError,)
    return (sqlite3.IntegrityError, psycopg.IntegrityError)
