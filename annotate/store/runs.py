"""What a judge run writes: ``judge_runs``, ``verdicts`` and the call cache ``judge_cache``.

The runner (:mod:`safecal.calibrate.runner`) decides what to call and when to commit;
these are its statements. Rows are plain tuples in the tables' column order (the store
knows nothing of calibrate's classes):

- a verdict row: ``(run_id, response_id, field, label, valid, score, raw, tokens_in,
  tokens_out, latency)``;
- a cache row: ``(config_key, input_key, label, valid, score, raw, tokens_in,
  tokens_out, latency, created_at)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from safecal.annotate.store.backend import Connection
from safecal.annotate.store.workspace import Workspace

#: a verdict row's columns, in the order of its values
VERDICT_COLUMNS = (
    "run_id",
    "response_id",
    "field",
    "label",
    "valid",
    "score",
    "raw",
    "tokens_in",
    "tokens_out",
    "latency",
)
VERDICT_INSERT = (
    f"INSERT OR REPLACE INTO verdicts ({', '.join(VERDICT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(VERDICT_COLUMNS))})"
)
CACHE_INSERT = (
    "INSERT OR REPLACE INTO judge_cache (config_key, input_key, label, valid, score, raw, "
    "tokens_in, tokens_out, latency, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@contextlib.contextmanager
def postgres_run_lock(
    ws: Workspace, config_key: str, waiting: Callable[[], None]
) -> Iterator[None]:
    """On PostgreSQL, hold the run's session advisory lock (keyed by ``config_key``) on a
    connection of its own, calling ``waiting`` first if another process holds it: the
    lock holds between machines, where a lock file in the files folder would not."""
    con = ws.connect()
    try:
        key = int(config_key[:15], 16)  # 60 bits of the sha256: fits PostgreSQL's bigint
        if not con.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()[0]:
            waiting()
            con.execute("SELECT pg_advisory_lock(?)", (key,))
        try:
            yield
        finally:
            con.execute("SELECT pg_advisory_unlock(?)", (key,))
    finally:
        con.close()


def in_transaction(con: Connection, body: Callable[[], Any]) -> None:
    """Run ``body`` in one write transaction (``BEGIN IMMEDIATE``) on an open
    autocommit connection: all of it lands, or none of it."""
    con.execute("BEGIN IMMEDIATE")
    try:
        body()
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def response_cases(ws: Workspace) -> list[tuple[Any, ...]]:
    """Every response with what a judge reads of its item, by response id:
    ``(response_id, item_id, model, language, response, aspect, text, text_zh, image)``."""
    return list(iter_response_cases(ws))


def iter_response_cases(ws: Workspace, *, batch: int = 10_000) -> Iterator[tuple[Any, ...]]:
    """The rows of :func:`response_cases`, streamed (a million responses need not be in
    memory at once)."""
    con = ws.connect()
    try:
        cursor = con.execute(
            "SELECT r.response_id, r.item_id, r.model, r.language, r.response, i.aspect, "
            "i.text, i.text_zh, i.image FROM responses r JOIN items i USING (item_id) "
            "ORDER BY r.response_id"
        )
        while rows := cursor.fetchmany(batch):
            yield from rows
    finally:
        con.close()


def start_run(
    con: Connection,
    *,
    run_id: str,
    judge: str,
    kind: str,
    model: str | None,
    prompt_version: str | None,
    params: str,
    started_at: str,
) -> None:
    """Record a run (or reopen a finished one: a rerun of the same configuration)."""
    con.execute(
        "INSERT INTO judge_runs (run_id, judge, kind, model, prompt_version, params, started_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET finished_at = NULL",
        (run_id, judge, kind, model, prompt_version, params, started_at),
    )


def finish_run(
    con: Connection,
    *,
    run_id: str,
    finished_at: str,
    prices: tuple[float, float] | None,
) -> None:
    """Close a run: its verdict count, token totals and, with ``prices`` (USD per
    million input and output tokens), its cost."""
    n, tin, tout = con.execute(
        "SELECT count(*), coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0) "
        "FROM verdicts WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    cost = None if prices is None else (tin * prices[0] + tout * prices[1]) / 1e6
    con.execute(
        "UPDATE judge_runs SET finished_at = ?, n_calls = ?, tokens_in = ?, tokens_out = ?, "
        "cost = coalesce(?, cost) WHERE run_id = ?",
        (finished_at, n, tin, tout, cost, run_id),
    )


def insert_verdicts(con: Connection, rows: Iterable[Sequence[Any]]) -> None:
    """Write verdict rows inside the caller's transaction (a rerun replaces a response's
    verdict in the same run; of two rows for one response, the later wins).

    On PostgreSQL the rows go as one array per column into one upsert, so schema version
    7's statement trigger checks their references once. Row by row (``executemany``),
    that trigger made 10,000 one-row statements 0.28-0.39 s against 0.23-0.24 s with the
    old foreign keys; a temporary table per call cost 4-5 ms a transaction. One statement:
    10,000 verdicts in 0.11-0.22 s, 1,000 one-verdict transactions in 0.64-0.73 s, no
    slower than with foreign keys (``python tests/benchmarks/bench_postgres.py
    --references``)."""
    if con.dialect == "sqlite":
        con.executemany(VERDICT_INSERT, rows)
        return
    batch = list(rows)
    if batch:
        columns = zip(*batch, strict=True)
        con.execute(
            _VERDICTS_FROM_ARRAYS,
            [
                [x if x is None else cast(x) for x in column]
                for cast, column in zip(_ARRAY_CASTS, columns, strict=True)
            ],
        )


#: each verdict column's Python type in :data:`_VERDICTS_FROM_ARRAYS` (psycopg dumps a
#: list only when its values share one type: a score of ``1`` beside ``0.5``, or a NumPy
#: number, would be refused)
_ARRAY_CASTS: tuple[Callable[[Any], Any], ...] = (
    str,
    str,
    str,
    str,
    int,
    float,
    str,
    int,
    int,
    float,
)

#: :func:`insert_verdicts` on PostgreSQL: one array parameter per column, unnested in order
_VERDICTS_FROM_ARRAYS = (
    f"INSERT INTO verdicts ({', '.join(VERDICT_COLUMNS)}) "
    f"SELECT DISTINCT ON (run_id, response_id) {', '.join(VERDICT_COLUMNS)} "
    "FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::float8[], ?::text[], "
    "?::int[], ?::int[], ?::float8[]) WITH ORDINALITY "
    f"AS v ({', '.join(VERDICT_COLUMNS)}, seq) ORDER BY run_id, response_id, seq DESC "
    "ON CONFLICT (run_id, response_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in VERDICT_COLUMNS[2:])
)


def insert_cache(con: Connection, rows: Iterable[Sequence[Any]]) -> None:
    """Write cache rows (one per finished call)."""
    con.executemany(CACHE_INSERT, rows)


def verdicts_from_cache(
    con: Connection,
    *,
    run_id: str,
    config_key: str,
    keys: Iterable[tuple[str, str, str]],
) -> tuple[set[str], int, int]:
    """Copy the verdicts the cache holds for ``keys`` (``(response_id, field,
    input_key)``) into the run, in SQL and in one transaction, rewriting only the
    verdicts that changed. Returns the response ids the cache lacks, the number of
    hits and of invalid hits.

    On PostgreSQL the keys are ``COPY``ed into a temporary table dropped at commit and one
    statement joins them with the cache once, writes the verdicts and counts: measured on
    a cached rerun of 100,000 verdicts (tests/benchmarks/bench_postgres.py), a separate
    ``ANALYZE`` and a second join sending 100,000 rows back cost about 0.2 s there, while
    SQLite's temporary table is in process and its second join nearly free. There the
    verdicts' references are checked once for the statement, not per row (schema version
    7, :data:`safecal.annotate.store.schema._POSTGRES_ONLY`)."""
    if con.dialect == "postgresql":
        return _verdicts_from_cache_postgres(con, run_id=run_id, config_key=config_key, keys=keys)
    con.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _judge_keys "
        "(response_id TEXT NOT NULL, field TEXT NOT NULL, input_key TEXT NOT NULL)"
    )
    con.execute("BEGIN IMMEDIATE")
    try:
        con.execute("DELETE FROM _judge_keys")
        con.copy_rows("_judge_keys", ("response_id", "field", "input_key"), keys)
        con.execute(
            "INSERT OR REPLACE INTO verdicts (run_id, response_id, field, label, valid, score, "
            "raw, tokens_in, tokens_out, latency) "
            "SELECT ?, k.response_id, k.field, c.label, c.valid, c.score, c.raw, c.tokens_in, "
            "c.tokens_out, c.latency FROM _judge_keys k "
            "JOIN judge_cache c ON c.config_key = ? AND c.input_key = k.input_key "
            "LEFT JOIN verdicts v ON v.run_id = ? AND v.response_id = k.response_id "
            "WHERE v.response_id IS NULL OR NOT (v.field IS k.field AND v.label IS c.label "
            "AND v.valid IS c.valid AND v.score IS c.score AND v.raw IS c.raw)",
            (run_id, config_key, run_id),
        )
        hits = invalid = 0
        missing: set[str] = set()
        for rid, valid in con.execute(
            "SELECT k.response_id, c.valid FROM _judge_keys k LEFT JOIN judge_cache c "
            "ON c.config_key = ? AND c.input_key = k.input_key",
            (config_key,),
        ):
            if valid is None:
                missing.add(rid)
            else:
                hits += 1
                invalid += not valid
        con.execute("DELETE FROM _judge_keys")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return missing, hits, invalid


def _verdicts_from_cache_postgres(
    con: Connection,
    *,
    run_id: str,
    config_key: str,
    keys: Iterable[tuple[str, str, str]],
) -> tuple[set[str], int, int]:
    """:func:`verdicts_from_cache` in one PostgreSQL statement (same transaction, same
    upsert, same rule of rewriting only what changed)."""
    con.execute("BEGIN IMMEDIATE")
    try:
        con.execute(
            "CREATE TEMP TABLE _judge_keys_once (response_id TEXT NOT NULL, "
            "field TEXT NOT NULL, input_key TEXT NOT NULL) ON COMMIT DROP"
        )
        con.copy_rows("_judge_keys_once", ("response_id", "field", "input_key"), keys)
        hits, invalid, missing = con.execute(
            "WITH j AS (SELECT k.response_id, k.field, c.label, c.valid, c.score, c.raw, "
            "c.tokens_in, c.tokens_out, c.latency FROM _judge_keys_once k LEFT JOIN judge_cache c "
            "ON c.config_key = ? AND c.input_key = k.input_key), "
            "w AS (INSERT INTO verdicts (run_id, response_id, field, label, valid, score, raw, "
            "tokens_in, tokens_out, latency) "
            "SELECT ?, j.response_id, j.field, j.label, j.valid, j.score, j.raw, j.tokens_in, "
            "j.tokens_out, j.latency FROM j "
            "LEFT JOIN verdicts v ON v.run_id = ? AND v.response_id = j.response_id "
            "WHERE j.valid IS NOT NULL AND (v.response_id IS NULL OR NOT (v.field IS j.field "
            "AND v.label IS j.label AND v.valid IS j.valid AND v.score IS j.score "
            "AND v.raw IS j.raw)) "
            "ON CONFLICT (run_id, response_id) DO UPDATE SET field = excluded.field, "
            "label = excluded.label, valid = excluded.valid, score = excluded.score, "
            "raw = excluded.raw, tokens_in = excluded.tokens_in, "
            "tokens_out = excluded.tokens_out, latency = excluded.latency) "
            "SELECT count(valid), count(*) FILTER (WHERE valid = 0), "
            "coalesce(array_agg(response_id) FILTER (WHERE valid IS NULL), '{}') FROM j",
            (config_key, run_id, run_id),
        ).fetchone()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return set(missing), hits, invalid


def cached_input_keys(con: Connection, *, config_key: str, input_keys: Iterable[str]) -> set[str]:
    """Reads ``judge_cache``: which of ``input_keys`` the cache holds for ``config_key``
    (nothing is written; the keys go through a temporary table, not a million ``?``)."""
    con.execute("CREATE TEMP TABLE IF NOT EXISTS _input_keys (input_key TEXT PRIMARY KEY)")
    con.execute("DELETE FROM _input_keys")
    con.executemany(
        "INSERT OR IGNORE INTO _input_keys (input_key) VALUES (?)", ((k,) for k in input_keys)
    )
    found = {
        key
        for (key,) in con.execute(
            "SELECT k.input_key FROM _input_keys k JOIN judge_cache c "
            "ON c.config_key = ? AND c.input_key = k.input_key",
            (config_key,),
        )
    }
    con.execute("DELETE FROM _input_keys")
    return found
