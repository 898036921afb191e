"""The judge cache: every finished call, keyed by (judge config, judged input).

``config_key`` is :meth:`JudgeConfig.key` (judge kind, name, model, prompt version,
parameters); ``input_key`` is the judge's hash of what it read (query, image, response).
Rows live in the workspace table ``judge_cache``. A row is written in the same
transaction as the verdict it produced, as soon as the call returns, so a run killed at
any moment loses nothing it had finished and a rerun pays for nothing it has.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from safecal.calibrate.judges.base import Verdict

_COLUMNS = "label, valid, score, raw, tokens_in, tokens_out, latency"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def load(con: sqlite3.Connection, config_key: str) -> dict[str, Verdict]:
    """Every cached verdict of one judge config, by input key."""
    rows = con.execute(
        f"SELECT input_key, {_COLUMNS} FROM judge_cache WHERE config_key = ?", (config_key,)
    ).fetchall()
    return {
        key: Verdict(
            label=label,
            valid=bool(valid),
            score=score,
            raw=raw or "",
            tokens_in=tin or 0,
            tokens_out=tout or 0,
            latency=lat or 0.0,
        )
        for key, label, valid, score, raw, tin, tout, lat in rows
    }


def row(config_key: str, input_key: str, v: Verdict, at: str) -> tuple[object, ...]:
    return (
        config_key,
        input_key,
        v.label,
        int(v.valid),
        v.score,
        v.raw,
        v.tokens_in,
        v.tokens_out,
        v.latency,
        at,
    )


INSERT = (
    f"INSERT OR REPLACE INTO judge_cache (config_key, input_key, {_COLUMNS}, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def store(con: sqlite3.Connection, config_key: str, input_key: str, verdict: Verdict) -> None:
    """Cache one verdict (inside the caller's transaction)."""
    con.execute(INSERT, row(config_key, input_key, verdict, now()))
