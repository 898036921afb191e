"""The endpoint's batch API: ``/v1/files`` (upload, content) and ``/v1/batches``.

Through the ``openai`` client (synchronous: a handful of calls a minute), with its own
retries for 429, 5xx and dropped connections. What the server says is redacted
(:meth:`LLMJudge.redact`) before it reaches a message; every failure is an
:class:`InputError` that names the endpoint and says that a rerun resumes (the batches
already submitted are in the workspace and are polled, not sent again).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safecal.annotate.errors import InputError
from safecal.calibrate.batch.requests import URL

#: the statuses after which a batch changes no more (OpenAI's Batch API)
FINAL = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass(frozen=True)
class BatchState:
    """What the server reports about one batch."""

    batch_id: str
    status: str
    output_file_id: str | None = None
    error_file_id: str | None = None
    completed: int = 0
    failed: int = 0
    total: int = 0
    errors: str = ""

    @property
    def final(self) -> bool:
        return self.status in FINAL


class BatchAPI:
    """The batch endpoints of ``judge.base_url`` (api.openai.com without one)."""

    def __init__(self, judge: Any, *, timeout: float = 600.0, max_retries: int = 4) -> None:
        import openai

        self.judge = judge
        self.where = judge.base_url or "https://api.openai.com/v1"
        self.client = openai.OpenAI(
            base_url=judge.base_url,
            api_key=judge.api_key(),
            timeout=timeout,
            max_retries=max_retries,
        )

    def close(self) -> None:
        self.client.close()

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        import openai

        try:
            yield
        except openai.NotFoundError:
            raise InputError(
                f"{self.where} answered 404 when {doing}: it has no batch API "
                "(/v1/files, /v1/batches); write the requests with --batch-export FILE, run "
                "them elsewhere (e.g. vLLM's run-batch) and read the answers with "
                "--batch-import FILE"
            ) from None
        except openai.APIStatusError as exc:
            raise InputError(
                self.judge.redact(
                    f"{self.where} refused {doing} ({exc.status_code}): {_short(exc.message)}; "
                    "check --model, --base-url and the API key"
                )
            ) from None
        except openai.APIError as exc:  # connection, timeout, an answer it cannot read
            raise InputError(
                self.judge.redact(
                    f"{self.where}: {doing} failed ({type(exc).__name__}: {_short(str(exc))}); "
                    "rerun the same command: submitted batches are polled, not sent again"
                )
            ) from None

    def upload(self, path: Path) -> str:
        """Upload a batch-input file; its file id."""
        with self._errors("uploading the batch input"), path.open("rb") as fh:
            return str(self.client.files.create(file=(path.name, fh), purpose="batch").id)

    def create(self, input_file_id: str) -> BatchState:
        with self._errors("creating the batch"):
            batch = self.client.batches.create(
                input_file_id=input_file_id, endpoint=URL, completion_window="24h"
            )
        return self._state(batch)

    def retrieve(self, batch_id: str) -> BatchState:
        with self._errors(f"polling batch {batch_id}"):
            return self._state(self.client.batches.retrieve(batch_id))

    def find(self, input_file_id: str) -> BatchState | None:
        """The batch made from ``input_file_id``, if the server has one (a kill between
        creating a batch and recording it)."""
        with self._errors("listing the batches"):
            for batch in self.client.batches.list(limit=100):
                if batch.input_file_id == input_file_id:
                    return self._state(batch)
        return None

    def download(self, file_id: str, path: Path) -> None:
        """A file's content into ``path``, streamed."""
        with (
            self._errors(f"downloading file {file_id}"),
            self.client.files.with_streaming_response.content(file_id) as response,
        ):
            response.stream_to_file(path)

    def _state(self, batch: Any) -> BatchState:
        counts = getattr(batch, "request_counts", None)
        errors = getattr(getattr(batch, "errors", None), "data", None) or []
        text = "; ".join(
            f"line {getattr(e, 'line', None)}: {getattr(e, 'message', '')}" for e in errors[:5]
        )
        return BatchState(
            batch_id=str(batch.id),
            status=str(batch.status),
            output_file_id=batch.output_file_id or None,
            error_file_id=batch.error_file_id or None,
            completed=int(getattr(counts, "completed", 0) or 0),
            failed=int(getattr(counts, "failed", 0) or 0),
            total=int(getattr(counts, "total", 0) or 0),
            errors=self.judge.redact(_short(text, 400)),
        )


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."
