"""Batch-output lines into the judge cache.

A line answers one request: ``{"id", "custom_id", "response": {"status_code",
"request_id", "body"}, "error"}`` (OpenAI's Batch API and vLLM's ``run-batch`` write the
same shape; OpenAI puts failed requests in a separate error file of the same shape). The
file is read by the one reader (:func:`safecal.annotate.readers.iter_table`), so a line
that is not a JSON object, or has a key twice, is refused with its line number there.

Each line is then one of:

* an answer: status 200 and a chat completion in ``body``, read by
  :meth:`LLMJudge.read_answer` exactly as an online answer (a garbled rating or an
  untrusted number gives an *invalid* verdict, kept raw and redacted, never a class);
* a failure: an ``error``, a status other than 200, or a 200 without a chat completion
  (the online route retries those): nothing is recorded, so the request is sent again
  by the next batch or export;
* a problem with the file: no ``custom_id``, one safecal did not write, one made with
  other judge options, one matching no response of the workspace, one seen on an earlier
  line, or neither ``response`` nor ``error``. Problems are collected over the whole file
  and refused together (the caller rolls the import back), up to :data:`SHOWN` of them
  named with their line numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safecal.annotate.errors import InputError
from safecal.annotate.readers import iter_table
from safecal.calibrate.batch.requests import CONFIG_CHARS, parse_custom_id
from safecal.calibrate.judges.base import Verdict
from safecal.calibrate.judges.llm import MalformedAnswer

SHOWN = 10
CHUNK = 20_000


@dataclass
class Outcome:
    """What one output file held."""

    answers: int = 0
    invalid: int = 0
    failed: int = 0
    already_cached: int = 0
    skipped: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    failures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    n_problems: int = 0

    def problem(self, text: str) -> None:
        self.n_problems += 1
        if len(self.problems) < SHOWN:
            self.problems.append(text)

    def fail(self, text: str) -> None:
        self.failed += 1
        if len(self.failures) < SHOWN:
            self.failures.append(text)

    def check(self, path: Path) -> None:
        """Raise the problems found, if any, as one :class:`InputError`."""
        if not self.n_problems:
            return
        more = self.n_problems - len(self.problems)
        tail = f"; and {more} more" if more else ""
        raise InputError(
            f"{path}: {self.n_problems} line(s) cannot be imported, nothing was: "
            + "; ".join(self.problems)
            + tail
        )


def read_outputs(
    path: Path,
    *,
    judge: Any,
    config_key: str,
    fields: Mapping[str, str],
    todo: set[str],
    outcome: Outcome,
    seen: dict[str, int],
    encoding: str = "utf-8",
    strict: bool = True,
) -> Iterator[list[tuple[str, Verdict]]]:
    """Yield the answers of ``path`` as ``(input key, verdict)`` lists of at most
    :data:`CHUNK`, counting failures and problems into ``outcome``.

    ``fields`` maps every input key of the run's cases to its field (a custom id whose key
    is not there matches no response); only keys in ``todo`` (not yet cached) are yielded.
    ``seen`` (custom id -> line) spans the files of one import, for duplicates. Without
    ``strict`` (a batch this run's config submitted earlier, over other responses, e.g.
    before ``--models`` narrowed the run), answers for inputs outside ``fields`` are
    skipped and counted, not refused."""
    chunk: list[tuple[str, Verdict]] = []
    config = config_key[:CONFIG_CHARS]
    for frame in iter_table(path, encoding=encoding, chunksize=CHUNK, keys=("custom_id",)):
        columns = set(frame.columns)
        ids = frame["custom_id"] if "custom_id" in columns else [""] * len(frame)
        responses = frame["response"] if "response" in columns else [""] * len(frame)
        errors = frame["error"] if "error" in columns else [""] * len(frame)
        for line, cid, response, error in zip(frame.index, ids, responses, errors, strict=True):
            where = f"line {line}"
            if not strict and (parsed := parse_custom_id(cid)) and parsed[1] not in fields:
                outcome.skipped += 1
                continue
            key = _key(cid, config, fields, where, outcome)
            if key is None:
                continue
            if cid in seen:
                outcome.problem(f"{where}: custom_id {cid!r} again (first on line {seen[cid]})")
                continue
            seen[cid] = int(line)
            if not response and not error:
                outcome.problem(f"{where}: neither 'response' nor 'error'")
                continue
            if key not in todo:
                outcome.already_cached += 1
                continue
            verdict = _answer(judge, fields[key], response, error, where, outcome)
            if verdict is not None:
                outcome.answers += 1
                outcome.invalid += not verdict.valid
                outcome.tokens_in += verdict.tokens_in
                outcome.tokens_out += verdict.tokens_out
                chunk.append((key, verdict))
                if len(chunk) >= CHUNK:
                    yield chunk
                    chunk = []
    if chunk:
        yield chunk


def _key(
    cid: str, config: str, fields: Mapping[str, str], where: str, outcome: Outcome
) -> str | None:
    if not cid:
        outcome.problem(f"{where}: no custom_id")
        return None
    parsed = parse_custom_id(cid)
    if parsed is None:
        outcome.problem(f"{where}: custom_id {cid[:90]!r} was not written by safecal")
        return None
    if parsed[0] != config:
        outcome.problem(
            f"{where}: custom_id {cid[:90]!r} was exported with other judge options "
            "(model, prompt, --text-only, ...); import with the options of the export"
        )
        return None
    if parsed[1] not in fields:
        outcome.problem(
            f"{where}: custom_id {cid[:90]!r} matches no response of this workspace "
            "(edited since the export, or another workspace's file)"
        )
        return None
    return parsed[1]


def _answer(
    judge: Any, field_name: str, response: str, error: str, where: str, outcome: Outcome
) -> Verdict | None:
    """The verdict of one line, or ``None`` (a failure, counted) ."""
    if error:
        outcome.fail(judge.redact(f"{where}: error {_short(error)}"))
        return None
    try:
        resp = json.loads(response)
    except ValueError:
        resp = None
    if not isinstance(resp, dict):
        outcome.fail(judge.redact(f"{where}: 'response' is not an object: {_short(response)}"))
        return None
    status, body = resp.get("status_code"), resp.get("body")
    if status != 200:
        outcome.fail(judge.redact(f"{where}: status {status!r}: {_short(json.dumps(body))}"))
        return None
    text = body if isinstance(body, str) else json.dumps(body, allow_nan=True)
    try:
        verdict: Verdict = judge.read_answer(field_name, text)
        return verdict
    except MalformedAnswer as exc:
        outcome.fail(judge.redact(f"{where}: {exc}"))
        return None


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."
