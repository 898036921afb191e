"""The batches a judge run submitted to an endpoint's batch API: ``judge_batches``.

The batch route (:mod:`safecal.calibrate.batch`) records a batch in two steps so that a
kill at any moment leaves something a rerun can act on: :func:`record_upload` once the
input file is on the server (status ``submitting``), :func:`record_batch` once the server
has accepted the batch (``submitted``, with its id); :func:`finish` when its results are
in the cache (``imported``) or the server refused it whole (``failed``).
"""

from __future__ import annotations

from dataclasses import dataclass

from safecal.annotate.store.backend import Connection


@dataclass(frozen=True)
class BatchRow:
    """One row of ``judge_batches`` (see the schema, version 4)."""

    base_url: str
    input_file_id: str
    batch_id: str | None
    run_id: str
    n_requests: int
    status: str
    server_status: str | None


def record_upload(
    con: Connection,
    *,
    base_url: str,
    input_file_id: str,
    run_id: str,
    config_key: str,
    n_requests: int,
    created_at: str,
) -> None:
    """An uploaded input file about to become a batch (status ``submitting``)."""
    con.execute(
        "INSERT INTO judge_batches (base_url, input_file_id, run_id, config_key, n_requests, "
        "status, created_at) VALUES (?, ?, ?, ?, ?, 'submitting', ?)",
        (base_url, input_file_id, run_id, config_key, n_requests, created_at),
    )


def record_batch(
    con: Connection, *, base_url: str, input_file_id: str, batch_id: str, status: str
) -> None:
    """The server accepted the batch made from ``input_file_id``."""
    con.execute(
        "UPDATE judge_batches SET batch_id = ?, status = 'submitted', server_status = ? "
        "WHERE base_url = ? AND input_file_id = ?",
        (batch_id, status, base_url, input_file_id),
    )


def note_status(con: Connection, *, base_url: str, batch_id: str, status: str) -> None:
    """The last status the server reported for a batch."""
    con.execute(
        "UPDATE judge_batches SET server_status = ? WHERE base_url = ? AND batch_id = ?",
        (status, base_url, batch_id),
    )


def finish(
    con: Connection,
    *,
    base_url: str,
    input_file_id: str,
    status: str,
    server_status: str | None,
    finished_at: str,
) -> None:
    """A batch whose results are in the cache (``imported``) or refused whole (``failed``)."""
    if status not in ("imported", "failed"):
        raise ValueError(f"a batch finishes imported or failed, not {status!r}")
    con.execute(
        "UPDATE judge_batches SET status = ?, server_status = coalesce(?, server_status), "
        "finished_at = ? WHERE base_url = ? AND input_file_id = ?",
        (status, server_status, finished_at, base_url, input_file_id),
    )


def open_batches(con: Connection, *, base_url: str, config_key: str) -> list[BatchRow]:
    """The batches of this judge config at this endpoint not yet imported or failed, in
    the order they were recorded."""
    rows = con.execute(
        "SELECT base_url, input_file_id, batch_id, run_id, n_requests, status, server_status "
        "FROM judge_batches WHERE base_url = ? AND config_key = ? "
        "AND status IN ('submitting', 'submitted') ORDER BY created_at, input_file_id",
        (base_url, config_key),
    ).fetchall()
    return [BatchRow(*row) for row in rows]


def run_batches(con: Connection, *, run_id: str) -> list[BatchRow]:
    """Every batch of one run, in the order they were recorded."""
    rows = con.execute(
        "SELECT base_url, input_file_id, batch_id, run_id, n_requests, status, server_status "
        "FROM judge_batches WHERE run_id = ? ORDER BY created_at, input_file_id",
        (run_id,),
    ).fetchall()
    return [BatchRow(*row) for row in rows]
