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

Answers are read from the raw HTTP body and checked here, not by the client's lenient
models (which raise ``JSONDecodeError``/``AttributeError`` on a broken body, and silently
turn ``"-0.1"`` into a number and NaN into a score of 0). Two kinds of broken answer:

* no chat completion at all (a body that is not JSON, an HTML page from a proxy, no list
  of ``choices``, a message without text content): nothing was answered, so it is
  retried like a 5xx and, when every attempt gets one, the call is a counted failure
  (:class:`TransientError`, not recorded) that a rerun retries;
* a completion whose text is there but whose numbers cannot be trusted (a log-prob that
  is not a finite number <= 0: ``1000``, NaN, infinity, a string; a token count that is
  not a non-negative integer): an *invalid* verdict, never mapped to a class, with the
  text kept and the reason appended to ``raw``. A server that garbles its numbers may
  have garbled its text too, and a score must only come from finite log-probabilities.

Transport: the client's documented aiohttp backend (``openai.DefaultAioHttpClient``,
the ``openai[aiohttp]`` extra) rather than its default httpx/httpcore one. httpcore 1.0's
pool rescans every connection (and probes each socket) on every request and every
release (``_assign_requests_to_connections``, O(connections x queued requests); see
encode/httpcore#1035), which at 64 calls in flight cost ~7 ms of CPU per call here and
capped a 2-core machine near 140 calls/s; through aiohttp the same calls cost ~2.5-3.5 ms
(``tests/benchmarks/bench_judges.py``). Proxies from the environment still apply.

The API key is read from the environment variable named by ``api_key_env`` at client
creation and kept only inside the client (and a private copy to redact it); it is not part
of the config, the cache, the database or any message: every text that comes from the
server (error bodies, broken bodies, the answer kept as ``raw``) goes through
:meth:`LLMJudge.redact` first, since a server may echo the key it was sent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import mimetypes
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safecal.annotate.errors import InputError
from safecal.calibrate.judges.base import Case, JudgeConfig, Verdict, hash_parts
from safecal.calibrate.judges.prompt import DEFAULT_PROMPTS, Prompt, load_prompt


class TransientError(Exception):
    """A call that failed after every retry (rate limit, server error, timeout, no chat
    completion in the answer)."""


class MalformedAnswer(Exception):
    """A 200 answer that holds no chat completion; retried like a server error."""


#: a log-prob above this is not a log-probability (float rounding may give a hair above 0)
LOGPROB_MAX = 1e-4
#: a token count above this is not one a chat call can have
TOKENS_MAX = 10**9
#: what an echoed credential looks like; long enough not to catch prose ("the bearer of")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}")
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}")
#: LLMJudge._show: a server value for a message, redacted, then cut to a length
_Show = Callable[[object, int], str]


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
    _secret: str | None = field(default=None, init=False, repr=False)

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

            self._client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self.api_key(),
                max_retries=0,
                timeout=self.timeout,
                http_client=openai.DefaultAioHttpClient(
                    limits=httpx.Limits(max_connections=1000, max_keepalive_connections=1000),
                    timeout=self.timeout,
                ),
            )
        return self._client

    def api_key(self) -> str:
        """The key from ``api_key_env`` (kept for :meth:`redact`); a placeholder for a local
        server (vLLM accepts any key); an :class:`InputError` when a remote API has none."""
        key = os.environ.get(self.api_key_env)
        if not key:
            if self.base_url is None:
                raise InputError(
                    f"environment variable {self.api_key_env} is not set; export your API "
                    "key there or pass --api-key-env NAME"
                )
            return "EMPTY"
        self._secret = key
        return key

    def redact(self, text: str) -> str:
        """``text`` (from the server) without the API key, bearer tokens or ``sk-...`` keys:
        servers echo what they were sent, and what they answer is printed and stored. A
        "key" under 8 characters is a local server's placeholder (``dummy``), not a secret,
        and replacing it everywhere would garble the judge's text."""
        if self._secret and len(self._secret) >= 8:
            text = text.replace(self._secret, "[redacted]")
        text = _BEARER.sub("Bearer [redacted]", text)
        return _KEY_LIKE.sub("[redacted]", text)

    def _show(self, value: object, limit: int) -> str:
        """A value from the server for a message: redacted, then cut (a cut key would
        escape the redaction)."""
        return _short(self.redact(repr(value)), limit)

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

    def request_body(self, case: Case) -> dict[str, Any]:
        """The body of the chat-completion request for ``case``: what :meth:`ajudge` sends,
        and what the batch route writes into a batch-input line."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": self.messages(case),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        if self.logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = self.top_logprobs
        return body

    def read_answer(self, field: str, text: str, latency: float = 0.0) -> Verdict:
        """The verdict of one chat-completion body (``text``) answering a ``field`` prompt;
        :class:`MalformedAnswer` when it holds no completion. The online route and the
        batch route (:mod:`safecal.calibrate.batch`) both read answers here."""
        choice, usage = _completion(text)
        return self._verdict(self.prompts[field], choice, usage, latency)

    async def ajudge(self, case: Case) -> Verdict:
        """One verdict; raises :class:`TransientError` when every attempt failed."""
        import openai

        prompt = self.prompts[case.field]
        kwargs = self.request_body(case)
        client = self.client()
        last: Exception | None = None
        for attempt in range(self.max_attempts):
            start = time.perf_counter()
            try:
                response = await client.chat.completions.with_raw_response.create(**kwargs)
                text = response.text  # with_raw_response: read already, not parsed
                latency = time.perf_counter() - start
                choice, usage = _completion(text)
            except (openai.RateLimitError, openai.InternalServerError) as exc:
                last = exc
                delay = _retry_after(exc)
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                last = exc
                delay = None
            except openai.APIStatusError as exc:
                raise InputError(
                    f"the judge server at {self.base_url or 'api.openai.com'} refused the "
                    f"request ({exc.status_code}): {_short(self.redact(str(exc.message)))}; "
                    "check --model, --base-url and the API key"
                ) from None
            except MalformedAnswer as exc:
                kind = response.headers.get("content-type", "none")
                body = _short(self.redact(text), 80)
                last = MalformedAnswer(f"{exc} (content-type {kind}); the body began {body!r}")
                delay = None
            else:
                return self._verdict(prompt, choice, usage, latency)
            if attempt + 1 < self.max_attempts:
                backoff = min(self.backoff_max, self.backoff_base * 2**attempt)
                if delay is None:
                    delay = backoff * random.uniform(0.5, 1)
                await asyncio.sleep(delay)
        raise TransientError(
            self.redact(
                f"{case.response_id}: gave up after {self.max_attempts} attempts "
                f"to {self.base_url or 'api.openai.com'} ({_cause(last, self.redact)})"
            )
        )

    def _verdict(
        self, prompt: Prompt, choice: dict[str, Any], usage: Any, latency: float
    ) -> Verdict:
        """The verdict of one checked completion: invalid (text kept, reason appended) when
        a number in it cannot be trusted; see the module docstring."""
        content = choice["message"].get("content") or ""
        problems: list[str] = []
        show = self._show
        tokens_in = _token_count(usage, "prompt_tokens", problems, show)
        tokens_out = _token_count(usage, "completion_tokens", problems, show)
        tokens = _logprob_tokens(choice.get("logprobs"), problems, show)
        label = prompt.parse(content)
        raw = self.redact(content)
        if choice.get("finish_reason") == "length" and label is None:
            raw += "\n[truncated: finish_reason=length]"
        score = None
        if problems:
            label = None
            raw += f"\n[untrusted answer: {_short('; '.join(problems), 300)}]"
        elif label is not None and tokens:
            score = prompt.score_from_logprobs(tokens)
        return Verdict(
            label=label,
            valid=label is not None,
            score=score,
            raw=raw,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            latency=latency,
        )


def _completion(text: str) -> tuple[dict[str, Any], Any]:
    """The first choice and the usage of a chat completion body; :class:`MalformedAnswer`
    when the body holds none (not JSON, not an object, no list of choices, no message)."""
    try:
        body = json.loads(text)
    except ValueError:
        raise MalformedAnswer("status 200 but the body is not JSON") from None
    if not isinstance(body, dict):
        raise MalformedAnswer(f"status 200 but the body is {_kind(body)}, not a JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        what = "an empty list" if choices == [] else _kind(choices)
        raise MalformedAnswer(f"status 200 but 'choices' is {what}, not a list of answers")
    choice = choices[0]
    if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
        raise MalformedAnswer("status 200 but the first choice has no 'message' object")
    content = choice["message"].get("content")
    if content is not None and not isinstance(content, str):
        raise MalformedAnswer(f"status 200 but the message content is {_kind(content)}")
    return choice, body.get("usage")


def _kind(value: object) -> str:
    """A JSON value's type in JSON's words, with its article, for messages."""
    if value is None:
        return "null"
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return kinds.get(type(value), "a number")


def _token_count(usage: Any, name: str, problems: list[str], show: _Show) -> int:
    """``usage[name]`` when it is a token count; 0 when absent (some servers send no
    usage); a note in ``problems`` when it is something else ("many", -3, 1e30)."""
    if usage is None:
        return 0
    if not isinstance(usage, dict):
        if name == "prompt_tokens":  # say it once
            problems.append(f"usage is {_kind(usage)}, not an object")
        return 0
    value = usage.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= TOKENS_MAX:
        problems.append(f"usage.{name} {show(value, 40)} is not a token count")
        return 0
    return value


def _logprob_tokens(logprobs: Any, problems: list[str], show: _Show) -> list[dict[str, Any]]:
    """The log-prob entries of the answer's tokens, each with a string ``token``, a
    finite ``logprob`` <= 0 and a list of ``top_logprobs`` of the same shape; ``[]`` when
    the server sent none, and a note in ``problems`` for anything else."""
    if logprobs is None:
        return []
    if not isinstance(logprobs, dict):
        problems.append(f"logprobs is {_kind(logprobs)}, not an object")
        return []
    content = logprobs.get("content")
    if content is None:
        return []
    if not isinstance(content, list):
        problems.append(f"logprobs.content is {_kind(content)}, not a list")
        return []
    for entry in content:
        problem = _logprob_problem(entry, show)
        if problem is None:
            top = entry.get("top_logprobs")
            if top is not None and not isinstance(top, list):
                problem = f"top_logprobs of token {show(entry['token'], 20)} is {_kind(top)}"
            else:
                problem = next((p for t in top or [] if (p := _logprob_problem(t, show))), None)
        if problem:
            problems.append(problem)
            return []
    return content


def _logprob_problem(item: Any, show: _Show) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("token"), str):
        return f"log-prob entry {show(item, 60)} has no string token"
    lp = item.get("logprob")
    if (
        isinstance(lp, bool)
        or not isinstance(lp, (int, float))
        or not math.isfinite(lp)
        or lp > LOGPROB_MAX
    ):
        return (
            f"log-prob {show(lp, 40)} of token {show(item['token'], 20)} "
            "is not a finite number <= 0"
        )
    return None


def _retry_after(exc: Any) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return min(30.0, max(0.0, float(value))) if value is not None else None
    except (AttributeError, ValueError):
        return None


def _cause(exc: BaseException | None, redact: Callable[[str], str] = str) -> str:
    """The error and its root cause: the client's error class alone can mislead (through
    aiohttp a refused connection surfaces as ``APITimeoutError``). Texts are redacted
    before they are cut, so a cut cannot leave part of a key behind."""
    if exc is None:
        return "no answer"
    root, seen = exc, {id(exc)}
    while root.__cause__ is not None and id(root.__cause__) not in seen:
        root = root.__cause__
        seen.add(id(root))
    text = f"{type(exc).__name__}: {_short(redact(str(exc)), 240)}"
    if root is not exc:
        text += f"; cause {type(root).__name__}: {_short(redact(str(root)), 120)}"
    return text


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."
