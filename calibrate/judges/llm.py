"""The LLM judge: any OpenAI-compatible chat API (OpenAI, vLLM, llama.cpp server, ...).

One chat completion per response, through the ``openai`` client: the field's prompt
template (:mod:`calibrate.judges.prompt`) filled with the query (in the response's
language) and the response, and with ``vision=True`` the item's image sent inline as a
base64 ``data:`` URL. Temperature 0 by default. The answer is parsed strictly; when the
server returns token log-probabilities the score is P(positive) over the rating token's
alternatives.

Retries: 429, 5xx, timeouts and dropped connections are retried with exponential
backoff and jitter (``delay = min(max_delay, base * 2**attempt) * U(0.5, 1)``, or the
server's ``Retry-After`` when it sends one), up to ``max_attempts``; the client's own
retry is switched off so every attempt is counted here. Other errors (400, 401, 404)
stop the run: they mean a wrong model, key or URL, not a transient fault.

Transport: the client's documented aiohttp backend (``openai.DefaultAioHttpClient``,
the ``openai[aiohttp]`` extra) rather than its default httpx/httpcore one. httpcore 1.0's
pool rescans every connection (and probes each socket) on every request and every
release (``_assign_requests_to_connections``, O(connections x queued requests); see
encode/httpcore#1035), which at 64 calls in flight cost ~7 ms of CPU per call here and
capped a 2-core machine near 140 calls/s; through aiohttp the same calls cost ~2.5-3.5 ms
(``tests/benchmarks/bench_judges.py``). Proxies from the environment still apply.

The API key is read from the environment variable named by ``api_key_env`` at client
creation and kept only inside the client; it is not part of the config, the cache, the
database or any message.
"""

from __future__ import annotations

import asyncio
import base64
import mimetypes
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safecal.annotate.errors import InputError
from safecal.calibrate.judges.base import Case, JudgeConfig, Verdict, hash_parts
from safecal.calibrate.judges.prompt import DEFAULT_PROMPTS, Prompt, load_prompt


class TransientError(Exception):
    """A call that failed after every retry (rate limit, server error, timeout)."""


@dataclass
class LLMJudge:
    """A judge over an OpenAI-compatible chat endpoint; see the module docstring."""

    model: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    prompts: dict[str, Prompt] = field(default_factory=dict)
    name: str | None = None
    vision: bool = True
    temperature: float = 0.0
    max_tokens: int = 200
    logprobs: bool = True
    top_logprobs: int = 5
    timeout: float = 60.0
    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    remote: bool = True
    _client: Any = field(default=None, init=False, repr=False)
    _image_hashes: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for fld, default in DEFAULT_PROMPTS.items():
            self.prompts.setdefault(fld, load_prompt(default))
        for fld, prompt in self.prompts.items():
            if prompt.field != fld:
                raise InputError(f"prompt {prompt.name} is for {prompt.field}, not {fld}")
        if self.name is None:
            self.name = self.model

    @property
    def config(self) -> JudgeConfig:
        return JudgeConfig(
            kind="llm",
            name=str(self.name),
            model=self.model,
            prompt_version=";".join(f"{f}={p.version}" for f, p in sorted(self.prompts.items())),
            params={
                "vision": self.vision,
                "temperature": self.temperature,
                "max_tokens": self.max_tokens,
                "logprobs": self.logprobs,
                "top_logprobs": self.top_logprobs if self.logprobs else None,
            },
        )

    def input_key(self, case: Case) -> str:
        image_hash = self._image_hash(case.image) if (self.vision and case.image) else None
        return hash_parts(case.field, case.query, case.response, image_hash)

    def _image_hash(self, path: str) -> str:
        if path not in self._image_hashes:
            try:
                self._image_hashes[path] = hash_parts(Path(path).read_bytes())
            except OSError:
                self._image_hashes[path] = "missing"
        return self._image_hashes[path]

    # -- the call --------------------------------------------------------------
    def client(self) -> Any:
        if self._client is None:
            import httpx
            import openai

            key = os.environ.get(self.api_key_env)
            if not key:
                if self.base_url is None:
                    raise InputError(
                        f"environment variable {self.api_key_env} is not set; export your API "
                        "key there or pass --api-key-env NAME"
                    )
                key = "EMPTY"  # local servers (vLLM) accept any key
            self._client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=key,
                max_retries=0,
                timeout=self.timeout,
                http_client=openai.DefaultAioHttpClient(
                    limits=httpx.Limits(max_connections=1000, max_keepalive_connections=1000),
                    timeout=self.timeout,
                ),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def messages(self, case: Case) -> list[dict[str, Any]]:
        prompt = self.prompts[case.field]
        system, user = prompt.render(query=case.query, response=case.response)
        content: Any = user
        if self.vision and case.image:
            path = Path(case.image)
            if path.is_file():
                mime = mimetypes.guess_type(path.name)[0] or "image/png"
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                content = [
                    {"type": "text", "text": user},
                    {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}},
                ]
        out: list[dict[str, Any]] = []
        if system:
            out.append({"role": "system", "content": system})
        out.append({"role": "user", "content": content})
        return out

    async def ajudge(self, case: Case) -> Verdict:
        """One verdict; raises :class:`TransientError` when every attempt failed."""
        import openai

        prompt = self.prompts[case.field]
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": self.messages(case),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.logprobs:
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = self.top_logprobs
        client = self.client()
        last: Exception | None = None
        for attempt in range(self.max_attempts):
            start = time.perf_counter()
            try:
                completion = await client.chat.completions.create(**kwargs)
            except (openai.RateLimitError, openai.InternalServerError) as exc:
                last = exc
                delay = _retry_after(exc)
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                last = exc
                delay = None
            except openai.APIStatusError as exc:
                raise InputError(
                    f"the judge server at {self.base_url or 'api.openai.com'} refused the "
                    f"request ({exc.status_code}): {_short(exc.message)}; check --model, "
                    "--base-url and the API key"
                ) from None
            else:
                latency = time.perf_counter() - start
                return self._verdict(prompt, completion, latency)
            if attempt + 1 < self.max_attempts:
                backoff = min(self.backoff_max, self.backoff_base * 2**attempt)
                if delay is None:
                    delay = backoff * random.uniform(0.5, 1)
                await asyncio.sleep(delay)
        raise TransientError(
            f"{case.response_id}: gave up after {self.max_attempts} attempts "
            f"to {self.base_url or 'api.openai.com'} ({_cause(last)})"
        )

    def _verdict(self, prompt: Prompt, completion: Any, latency: float) -> Verdict:
        choice = completion.choices[0] if completion.choices else None
        content = (choice.message.content if choice is not None else None) or ""
        usage = completion.usage
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        label = prompt.parse(content)
        if choice is not None and choice.finish_reason == "length" and label is None:
            content = content + "\n[truncated: finish_reason=length]"
        score = None
        if label is not None and choice is not None:
            score = prompt.score_from_logprobs(content, choice.logprobs)
        return Verdict(
            label=label,
            valid=label is not None,
            score=score,
            raw=content,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            latency=latency,
        )


def _retry_after(exc: Any) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return min(30.0, max(0.0, float(value))) if value is not None else None
    except (AttributeError, ValueError):
        return None


def _cause(exc: BaseException | None) -> str:
    """The error and its root cause: the client's error class alone can mislead (through
    aiohttp a refused connection surfaces as ``APITimeoutError``)."""
    if exc is None:
        return "no answer"
    root, seen = exc, {id(exc)}
    while root.__cause__ is not None and id(root.__cause__) not in seen:
        root = root.__cause__
        seen.add(id(root))
    text = f"{type(exc).__name__}: {_short(str(exc), 80)}"
    if root is not exc:
        text += f"; cause {type(root).__name__}: {_short(str(root), 120)}"
    return text


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."
