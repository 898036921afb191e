"""The catalog: the benchmark's items and the models' responses to them.

Tables: ``items``, ``responses``. Ingest (:mod:`safecal.annotate.items`,
:mod:`safecal.annotate.responses`) decides what to write; these are its statements,
including the bulk-load path of ``responses`` (a large page cache, secondary indexes
dropped and rebuilt inside the same transaction).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from safecal.annotate.store.backend import Connection
from safecal.annotate.store.workspace import Workspace

#: the columns of ``items`` a caller may ask for (the allow-list of :func:`items`)
ITEM_COLUMNS = (
    "item_id",
    "text",
    "text_zh",
    "image",
    "open_url",
    "aspect",
    "level1_category",
    "level2_category",
    "level3_category",
    "img_risk",
    "text_risk",
    "modality",
    "img_style",
    "extra",
    "source",
    "content_hash",
    "ingested_at",
)

#: the columns of ``responses`` a caller may ask for (the allow-list of :func:`responses`)
RESPONSE_COLUMNS = (
    "response_id",
    "item_id",
    "model",
    "language",
    "response",
    "settings",
    "timestamp",
    "extra",
    "source",
    "content_hash",
    "ingested_at",
)


def _columns(columns: Sequence[str], allowed: Sequence[str], table: str) -> str:
    unknown = [c for c in columns if c not in allowed]
    if unknown or not columns:
        raise ValueError(f"{table}: unknown or no columns {unknown}; choose from {list(allowed)}")
    return ", ".join(columns)


def items(ws: Workspace, *, columns: Sequence[str]) -> pd.DataFrame:
    """Reads ``items``: the ``columns`` (from :data:`ITEM_COLUMNS`) of every item, by
    item_id."""
    return ws.read_sql(
        f"SELECT {_columns(columns, ITEM_COLUMNS, 'items')} FROM items ORDER BY item_id"
    )


def responses(ws: Workspace, *, columns: Sequence[str]) -> pd.DataFrame:
    """Reads ``responses``: the ``columns`` (from :data:`RESPONSE_COLUMNS`) of every
    response."""
    return ws.read_sql(f"SELECT {_columns(columns, RESPONSE_COLUMNS, 'responses')} FROM responses")


def response_keys(ws: Workspace) -> pd.DataFrame:
    """Reads ``responses``: response_id with the key it is derived from (item_id, model,
    language)."""
    return ws.read_sql("SELECT response_id, item_id, model, language FROM responses")


def item_ids(ws: Workspace) -> set[str]:
    """Reads ``items``: every item id."""
    return set(ws.read_sql("SELECT item_id FROM items")["item_id"])


def item_hashes(con: Connection) -> dict[str, str]:
    """Reads ``items``: item_id -> content_hash."""
    return dict(con.execute("SELECT item_id, content_hash FROM items").fetchall())


def write_items(
    con: Connection,
    *,
    new: Sequence[Mapping[str, Any]],
    changed: Sequence[Mapping[str, Any]],
) -> None:
    """Writes ``items``: inserts ``new`` and overwrites ``changed`` (rows keyed by
    column name, every row with the same columns from :data:`ITEM_COLUMNS`)."""
    rows = [*new, *changed]
    if not rows:
        return
    columns = list(rows[0])
    _columns(columns, ITEM_COLUMNS, "items")  # names come from code, checked all the same
    placeholders = ", ".join(f":{c}" for c in columns)
    con.executemany(f"INSERT INTO items ({', '.join(columns)}) VALUES ({placeholders})", new)
    updates = ", ".join(f"{c} = :{c}" for c in columns if c != "item_id")
    con.executemany(f"UPDATE items SET {updates} WHERE item_id = :item_id", changed)


def prepare_bulk_responses(con: Connection) -> tuple[set[str], dict[str, str]]:
    """Before a responses ingest (inside its transaction): on SQLite a 256 MB page cache
    for this connection; returns the known item ids and response_id -> content_hash."""
    if con.dialect == "sqlite":
        con.execute("PRAGMA cache_size = -262144")
    known = {r[0] for r in con.execute("SELECT item_id FROM items")}
    existing = dict(con.execute("SELECT response_id, content_hash FROM responses"))
    return known, existing


def drop_response_indexes(con: Connection) -> list[str]:
    """Drops the secondary indexes of ``responses`` and returns the statements that
    rebuild them (run them in the same transaction with :func:`rebuild_indexes`):
    building an index once after a large load is several times faster than updating
    it a million times in random order."""
    if con.dialect == "sqlite":
        sql = (
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'responses' AND sql IS NOT NULL"
        )
    else:  # the primary key's index is a constraint's, not in this list
        sql = (
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() AND i.tablename = 'responses' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
    indexes = con.execute(sql).fetchall()
    for name, _ in indexes:
        con.execute(f'DROP INDEX "{name}"')
    return [statement for _, statement in indexes]


def rebuild_indexes(con: Connection, statements: Iterable[str]) -> None:
    """Runs what :func:`drop_response_indexes` returned."""
    for statement in statements:
        con.execute(statement)


#: a response row's values in this order (``insert_responses``)
RESPONSE_ROW = (
    "response_id",
    "item_id",
    "model",
    "language",
    "response",
    "settings",
    "timestamp",
    "extra",
    "content_hash",
    "source",
    "ingested_at",
)


def insert_responses(con: Connection, rows: Iterable[Sequence[Any]]) -> None:
    """Writes ``responses``: rows with the values of :data:`RESPONSE_ROW` (``COPY`` on
    PostgreSQL)."""
    con.copy_rows("responses", RESPONSE_ROW, rows)


def update_responses(con: Connection, rows: Iterable[Sequence[Any]]) -> None:
    """Writes ``responses``: rows of (response, settings, timestamp, extra, content_hash,
    source, ingested_at, response_id) replace a response's content."""
    con.executemany(
        "UPDATE responses SET response = ?, settings = ?, timestamp = ?, extra = ?, "
        "content_hash = ?, source = ?, ingested_at = ? WHERE response_id = ?",
        rows,
    )
