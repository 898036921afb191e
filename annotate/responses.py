"""``safecal ingest responses``: model responses into the workspace, checked.

One row per (item id, target model, language ``en`` | ``zh`` in any case, response text),
plus optional ``settings`` (generation settings, a JSON object) and
``timestamp``; other columns are kept as JSON in ``extra``. The item id column
may be called ``item_id`` or ``id``. A response's id is derived from
(item id, model, language), so it is stable across re-ingests.

Built for size (10^6 rows): a reader process parses and checks the file chunk by
chunk while this process writes the previous chunk; a process, not a thread,
because both halves are Python-bound and a busy reader thread starves the
writer of the GIL between SQLite steps. Rows go straight into ``responses``
inside one transaction;
the checks that span rows (duplicates, unknown items, changed content) use the
set of known item ids and a dict of the workspace's response hashes, kept in
memory (about 150 MB per million responses). Any failure rolls the whole
transaction back: nothing is written.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.ingest_report import IngestReport, Problems, listing
from safecal.annotate.labels import LANGUAGES, canonical_values
from safecal.annotate.readers import apply_mapping, check_file, iter_table, mapped_keys
from safecal.annotate.store import Connection, Workspace, catalog

REQUIRED = ("item_id", "model", "language", "response")
OPTIONAL = ("settings", "timestamp")
CHUNK_ROWS = 100_000


def response_id(item_id: str, model: str, language: str) -> str:
    """Stable id of a response: the first 16 hex digits of SHA-1 over its key."""
    return hashlib.sha1(f"{item_id}\x1f{model}\x1f{language}".encode()).hexdigest()[:16]


@dataclass
class _Seen:
    """What the reader learns across chunks: keys seen, and the cross-row problems."""

    known_items: set[str]
    existing: dict[str, str]  # response_id -> content_hash already in the workspace
    first_row: dict[str, int] = field(default_factory=dict)  # response_id -> first line
    duplicates: dict[str, list[int]] = field(default_factory=dict)
    unknown: dict[str, list[int]] = field(default_factory=dict)  # item_id -> lines
    changed: list[tuple[int, str, str, str]] = field(default_factory=list)
    unchanged: int = 0


def ingest_responses(
    ws: Workspace,
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    encoding: str = "utf-8",
    replace: bool = False,
    chunk_rows: int = CHUNK_ROWS,
) -> IngestReport:
    """Check and store the responses of ``path``. Raises :class:`InputError` and writes
    nothing on bad input (unknown items, duplicates, bad languages, changed content)."""
    path = Path(path)
    check_file(path)  # before the transaction: its size decides the bulk-load plan
    report = IngestReport(file=str(path), kind="responses")
    source, now = str(path), datetime.now(UTC).isoformat(timespec="seconds")
    with ws.transaction() as con:
        known, existing = catalog.prepare_bulk_responses(con)
        seen = _Seen(known_items=known, existing=existing)
        rebuild = _drop_indexes_for_bulk_load(con, path, n_existing=len(seen.existing))
        chunks = _prepared_chunks(
            path, encoding, chunk_rows, mapping or {}, seen, stamp=(source, now)
        )
        for new, changed, n_rows in chunks:
            report.rows += n_rows
            catalog.insert_responses(con, new)
            if replace:
                catalog.update_responses(con, changed)
            report.added += len(new)
            report.replaced += len(changed) if replace else 0
        if report.rows == 0:
            raise InputError(f"{path}: the header is there but there are no data rows")
        _raise_cross_row_problems(path, seen, replace=replace)
        catalog.rebuild_indexes(con, rebuild)
        report.unchanged = seen.unchanged
    return report


def _drop_indexes_for_bulk_load(con: Connection, path: Path, *, n_existing: int) -> list[str]:
    """Drop the secondary indexes of ``responses`` when the file looks larger than the
    table (about 300 bytes a row): building an index once from sorted keys after the
    load is several times faster than updating it a million times in random order.
    Returns the statements that rebuild them (run inside the same transaction)."""
    if path.stat().st_size / 300 < max(n_existing, 50_000):
        return []
    return catalog.drop_response_indexes(con)


def _prepared_chunks(
    path: Path,
    encoding: str,
    chunk_rows: int,
    mapping: dict[str, str],
    seen: _Seen,
    *,
    stamp: tuple[str, str],
) -> Iterator[tuple[list[tuple], list[tuple], int]]:
    """Parse and check chunks in a reader process, up to two chunks ahead of the writer.

    Yields ``(insert rows, update rows, number of rows read)`` per chunk, ready for
    the statements of :func:`ingest_responses`; at the end, ``seen`` holds the
    reader's findings (duplicates, unknown items, changed and unchanged rows).
    """
    context: Any = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    out = context.Queue(maxsize=2)
    reader = context.Process(
        target=_read,
        name="safecal-ingest-reader",
        daemon=True,
        args=(path, encoding, chunk_rows, mapping, seen, stamp, out, os.getpid()),
    )
    reader.start()
    try:
        while True:
            try:
                kind, *payload = out.get(timeout=1.0)
            except queue.Empty:
                if not reader.is_alive():
                    raise InputError(
                        f"{path}: the reader process stopped unexpectedly (exit code "
                        f"{reader.exitcode}); nothing was ingested"
                    ) from None
                continue
            if kind == "error":
                raise payload[0]
            if kind == "done":
                found: _Seen = payload[0]
                seen.duplicates, seen.unknown = found.duplicates, found.unknown
                seen.changed, seen.unchanged = found.changed, found.unchanged
                return
            yield payload[0], payload[1], payload[2]
    finally:
        if reader.is_alive():
            reader.terminate()
        reader.join()


def _read(
    path: Path,
    encoding: str,
    chunk_rows: int,
    mapping: dict[str, str],
    seen: _Seen,
    stamp: tuple[str, str],
    out: Any,
    parent: int,
) -> None:
    """The reader process: parse, check and classify each chunk, then report what it saw."""
    _die_with(parent)
    try:
        keys = mapped_keys(["item_id", "model", "language"], mapping)
        if "item_id" not in mapping:
            keys.append("id")  # the item id column may be called id
        for chunk in iter_table(path, encoding=encoding, chunksize=chunk_rows, keys=keys):
            rows = _prepare(chunk, path=path, mapping=mapping)
            new, changed = _classify(rows, seen)
            out.put(
                (
                    "rows",
                    [(*row, *stamp) for row in new],
                    [(*row[4:], *stamp, row[0]) for row in changed],
                    len(rows),
                )
            )
        seen.first_row, seen.existing, seen.known_items = {}, {}, set()  # not needed back
        out.put(("done", seen))
    except InputError as exc:  # handed to the writer, which re-raises it
        out.put(("error", exc))
    except BaseException:  # a bug: keep its traceback, as text (it may not pickle)
        out.put(("error", RuntimeError("ingest reader failed:\n" + traceback.format_exc())))


def _die_with(parent: int) -> None:
    """End this process as soon as ``parent`` is gone, however it died.

    A reader blocked on a full queue would otherwise outlive a writer killed with
    SIGKILL, holding its memory. Linux delivers SIGKILL to a child when its parent
    thread exits (``prctl(PR_SET_PDEATHSIG)``); elsewhere, and for a parent that died
    before the call, a daemon thread watches for the parent's PID to change.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _classify(rows: list[tuple], seen: _Seen) -> tuple[list[tuple], list[tuple]]:
    """Split prepared rows into new and changed ones, recording every other case in ``seen``.

    A prepared row is ``(response_id, item_id, model, language, response, settings,
    timestamp, extra, content_hash, line number)``; the returned rows drop the line number.
    """
    new, changed = [], []
    for *values, row in rows:
        rid, item = values[0], values[1]
        if item not in seen.known_items:
            seen.unknown.setdefault(item, []).append(row)
            continue
        if rid in seen.first_row:
            seen.duplicates.setdefault(rid, [seen.first_row[rid]]).append(row)
            continue
        seen.first_row[rid] = row
        old = seen.existing.get(rid)
        if old is None:
            new.append(tuple(values))
        elif old == values[8]:
            seen.unchanged += 1
        else:
            seen.changed.append((row, item, values[2], values[3]))
            changed.append(tuple(values))
    return new, changed


def _raise_cross_row_problems(path: Path, seen: _Seen, *, replace: bool) -> None:
    problems = Problems(path)
    dups = sorted(seen.duplicates.items(), key=lambda kv: kv[1][0])
    problems.add(
        "duplicate (item_id, model, language); each response must appear once",
        [f"lines {', '.join(map(str, rows))}" for _, rows in dups[:10]],
        len(dups),
    )
    unknown = sorted(seen.unknown.items(), key=lambda kv: kv[1][0])
    problems.add(
        "responses to item ids not in the workspace; ingest the items first "
        "(`safecal ingest items`) or fix the ids",
        [
            f"item {i!r} (first at line {rows[0]}, "
            f"{len(rows)} response{'s' if len(rows) != 1 else ''})"
            for i, rows in unknown[:10]
        ],
        len(unknown),
    )
    problems.raise_if_any()
    if seen.changed and not replace:
        raise InputError(
            f"{path}: nothing was ingested. {len(seen.changed)} response(s) already in the "
            "workspace with different content: "
            + listing(
                [f"({i!r}, {m!r}, {lang}) at line {r}" for r, i, m, lang in seen.changed[:10]],
                total=len(seen.changed),
            )
            + ". Pass --replace to overwrite them"
        )


def _prepare(chunk: pd.DataFrame, *, path: Path, mapping: dict[str, str]) -> list[tuple]:
    """Check a chunk and turn it into rows for ``responses``; the chunk's index holds the
    file's line numbers (from the reader), which every message names."""
    if "item_id" not in chunk.columns and "item_id" not in mapping and "id" in chunk.columns:
        mapping = {**mapping, "item_id": "id"}
    chunk = apply_mapping(chunk, mapping, path=path)
    missing = [c for c in REQUIRED if c not in chunk.columns]
    if missing:
        raise InputError(
            f"{path}: missing required column(s) {', '.join(missing)}; the file has "
            f"{', '.join(map(str, chunk.columns))}; map yours with --map FIELD=COLUMN"
        )
    for column in ("item_id", "model", "language", "settings", "timestamp"):
        if column in chunk.columns:
            chunk[column] = chunk[column].str.strip()
    problems = Problems(path)
    rows = chunk.index
    for column in ("item_id", "model"):
        empty = (chunk[column] == "").to_numpy()
        problems.add(
            f"field {column} is empty", [f"line {r}" for r in rows[empty]], int(empty.sum())
        )
    # any case of a language code is that code (annotate.labels.fold): EN is en
    language = chunk["language"].map(canonical_values(chunk["language"].unique(), LANGUAGES))
    bad = language.isna().to_numpy()
    problems.add(
        f"field language must be one of {', '.join(LANGUAGES)}",
        [f"line {r}: {v!r}" for r, v in zip(rows[bad], chunk["language"][bad], strict=True)],
        int(bad.sum()),
    )
    settings = chunk["settings"] if "settings" in chunk.columns else pd.Series([""] * len(chunk))
    valid = {v: not v or _is_json_object(v) for v in settings.unique()}  # settings repeat a lot
    bad = (~settings.map(valid).astype(bool)).to_numpy()
    problems.add(
        "field settings must be a JSON object (generation settings)",
        [f"line {r}: {v[:40]!r}" for r, v in zip(rows[bad][:10], settings[bad][:10], strict=True)],
        int(bad.sum()),
    )
    problems.raise_if_any()

    extra_columns = [c for c in chunk.columns if c not in REQUIRED + OPTIONAL]
    extras = (
        [
            json.dumps(
                {c: v for c, v in rec.items() if v != ""}, ensure_ascii=False, sort_keys=True
            )
            for rec in chunk[extra_columns].to_dict("records")
        ]
        if extra_columns
        else [None] * len(chunk)
    )
    timestamps = chunk["timestamp"] if "timestamp" in chunk.columns else [""] * len(chunk)
    out = []
    for r, item, model, lang, text, sett, ts, extra in zip(
        rows,
        chunk["item_id"],
        chunk["model"],
        language,
        chunk["response"],
        settings,
        timestamps,
        extras,
        strict=True,
    ):
        sett = sett or None
        ts = ts or None
        digest = hashlib.blake2b(
            "\x1f".join((text, sett or "", ts or "", extra or "")).encode(), digest_size=8
        ).hexdigest()
        out.append(
            (
                response_id(item, model, lang),
                item,
                model,
                lang,
                text,
                sett,
                ts,
                extra,
                digest,
                int(r),
            )
        )
    return out


def _is_json_object(value: str) -> bool:
    try:
        return isinstance(json.loads(value), dict)
    except json.JSONDecodeError:
        return False
