"""The judge cache: every finished call, keyed by (judge config, judged input).

``config_key`` is :meth:`JudgeConfig.key` (judge kind, name, model, prompt version,
parameters); ``input_key`` is the judge's hash of what it read (query, image, response).
Rows live in the workspace table ``judge_cache`` (written by
:mod:`safecal.annotate.store.runs`). A row is written in the same
transaction as the verdict it produced, as soon as the call returns, so a run killed at
any moment loses nothing it had finished and a rerun pays for nothing it has.
"""

from __future__ import annotations

from datetime import UTC, datetime

from safecal.calibrate.judges.base import Verdict


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
