"""A small OpenAI-compatible chat server of our own, for tests and benchmarks.

Real HTTP/1.1 with keep-alive on 127.0.0.1, on asyncio streams (no framework), fast
enough to serve thousands of requests a second from one core. It answers
``POST /v1/chat/completions`` with scripted answers chosen by markers that the test puts
in the judged reply text (the part of the prompt between ``Reply: <<<`` and ``>>>``):

``[[rate=N]]``   answer ``{"rating": N, ...}`` (default 1)
``[[p=X]]``      the rating token's probability in the log-probs (default 0.9)
``[[429:K]]``    the first K calls for this reply get 429 (Retry-After: 0)
``[[500:K]]``    the first K calls get 500
``[[slow:K]]``   the first K calls sleep ``slow_seconds`` before answering (client timeout)
``[[drop:K]]``   the first K calls get no answer: the connection is closed after the request
``[[garbage]]``  answer prose instead of JSON
``[[truncated]]`` answer a cut JSON object with ``finish_reason: length``
``[[nologprobs]]`` no log-probs in the answer
``[[alt=N]]``    answer N instead when the prompt contains ``ALT-PROMPT`` (prompt tuning)

Broken answers, all with status 200 unless said otherwise (``:K`` = only the first K calls,
without it every call):

``[[badjson:K]]`` a body cut in the middle of its JSON (content-type application/json)
``[[html:K]]``   an HTML error page (content-type text/html), as a misconfigured proxy sends
``[[choicesnotlist:K]]`` ``choices`` an object instead of a list
``[[lp=X]]``     the rating token's log-prob is X: a number (``1000``), ``nan``, ``inf``,
                 ``-inf`` (sent as the bare JSON words Python writes), or ``str`` (``"-0.1"``)
``[[usage=X]]``  ``usage.prompt_tokens`` is the string X (``many``)
``[[echokey=S]]`` an answer with status S that echoes the request's API key: for 4xx/5xx an
                 error body ``Incorrect API key provided: <key>``, for 200 the judge's
                 answer text quotes it, for ``usage`` the key is ``usage.prompt_tokens``

``image_rating = N`` (an attribute, ``--image-rating N`` for a process) answers rating N to
every request that carries an image and the reply's own rating to the others: a judge that
says "unsafe" only when it sees an image (the image-removal probe's test).

Every call is counted per reply text in ``calls`` (completed answers in ``answered``);
``hold = True`` holds every answer until it is set back to false.
Run it as a script (``python tests/calibrate/fake_openai.py --latency 0.02``) to get a
separate process; it prints ``PORT <n>`` on stdout once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import sys
import threading
from collections import Counter
from typing import Any

_MARK = re.compile(r"\[\[(\w+)(?:[=:]([\w.+-]+))?\]\]")
_REPLY = re.compile(r"Reply: <<<(.*?)>>>", re.DOTALL)


class FakeOpenAI:
    """The server; :meth:`start_in_thread` for tests, :func:`main` for a process."""

    def __init__(
        self, *, latency: float = 0.0, slow_seconds: float = 5.0, count: bool = True
    ) -> None:
        self.latency = latency
        self.slow_seconds = slow_seconds
        self.count = count
        self.calls: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self.keep_requests = False
        self.image_rating: int | None = None
        self.authorizations: set[str] = set()
        #: while true, requests are counted on arrival and then held unanswered (tests
        #: that need a client to be mid-call at a known moment)
        self.hold = False
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------
    async def serve(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]

    def start_in_thread(self) -> FakeOpenAI:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop = None  # stopping twice is a no-op

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- HTTP ------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = 0
                authorization = ""
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                    elif line.lower().startswith("authorization:"):
                        authorization = line.split(":", 1)[1].strip()
                        self.authorizations.add(authorization)
                body = await reader.readexactly(length) if length else b""
                status, payload, headers = await self._respond(lines[0], body, authorization)
                if status == 0:  # drop: close the connection without answering
                    break
                # a payload given as bytes is sent as it is (broken bodies); else as JSON
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                headers = {"content-type": "application/json", **headers}
                extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                writer.write(
                    f"HTTP/1.1 {status} X\r\ncontent-length: {len(data)}\r\n{extra}\r\n".encode()
                    + data
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            writer.close()

    async def _respond(
        self, request_line: str, body: bytes, authorization: str = ""
    ) -> tuple[int, Any, dict[str, str]]:
        if not request_line.startswith("POST /v1/chat/completions "):
            return 404, {"error": {"message": "not found"}}, {}
        req = json.loads(body)
        if self.keep_requests:
            self.requests.append(req)
        content = req["messages"][-1]["content"]
        text = (
            content
            if isinstance(content, str)
            else next(p["text"] for p in content if p.get("type") == "text")
        )
        found = list(_REPLY.finditer(text))
        reply = found[-1].group(1) if found else text  # the judged reply comes last
        marks = {m.group(1): m.group(2) for m in _MARK.finditer(reply)}
        self.calls[reply] += 1
        n = self.calls[reply]
        while self.hold:
            await asyncio.sleep(0.01)
        if "429" in marks and n <= int(marks["429"]):
            return 429, {"error": {"message": "rate limited"}}, {"retry-after": "0"}
        if "500" in marks and n <= int(marks["500"]):
            return 500, {"error": {"message": "boom"}}, {}
        if "drop" in marks and n <= int(marks["drop"]):
            return 0, None, {}
        key = authorization.removeprefix("Bearer ").strip()
        echo = marks.get("echokey")
        if echo and echo not in ("200", "usage"):
            return int(echo), {"error": {"message": f"Incorrect API key provided: {key}"}}, {}
        if "slow" in marks and n <= int(marks["slow"]):
            await asyncio.sleep(self.slow_seconds)
        if self.latency:
            await asyncio.sleep(self.latency)
        rating = int(marks.get("rate") or 1)
        has_image = not isinstance(content, str) and any(
            p.get("type") == "image_url" for p in content
        )
        if self.image_rating is not None and has_image:
            rating = self.image_rating
        prompt_text = json.dumps(req["messages"])
        if "ALT-PROMPT" in prompt_text and marks.get("alt"):
            rating = int(marks["alt"])
        finish = "stop"
        tokens = [
            '{"',
            "rating",
            '":',
            " ",
            str(rating),
            ",",
            ' "',
            "reason",
            '":',
            ' "',
            "scripted",
            '"}',
        ]
        if "garbage" in marks:
            tokens = ["I", " think", " this", " reply", " is", " fine", "."]
        elif "truncated" in marks:
            tokens, finish = ['{"', "rating"], "length"
        if echo == "200":
            tokens = ['{"', "rating", '":', " ", str(rating), ",", ' "', f"key {key}", '"}']
        answer = "".join(tokens)

        def broken(mark: str) -> bool:
            return mark in marks and (marks[mark] is None or n <= int(marks[mark]))

        if broken("badjson"):
            self.answered[reply] += 1
            return 200, b'{"id": "chatcmpl-fake", "choices": [{"index": 0, "mess', {}
        if broken("html"):
            self.answered[reply] += 1
            page = b"<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
            return 200, page, {"content-type": "text/html"}
        logprobs = None
        if req.get("logprobs") and "nologprobs" not in marks:
            p = float(marks.get("p") or 0.9)
            others = [str(r) for r in (1, 2, 3) if r != rating]
            rest = (1 - p) / len(others)
            entries = []
            lp: Any = math.log(p)
            if marks.get("lp") == "str":
                lp = "-0.1"
            elif marks.get("lp"):
                lp = float(marks["lp"])  # 1000, nan, inf, -inf: json.dumps writes NaN, Infinity
            for tok in tokens:
                if tok == str(rating):
                    top = [{"token": tok, "logprob": lp, "bytes": None}] + [
                        {"token": o, "logprob": math.log(rest) if rest > 0 else -1e4, "bytes": None}
                        for o in others
                    ]
                    entries.append(
                        {"token": tok, "logprob": lp, "bytes": None, "top_logprobs": top}
                    )
                else:
                    entries.append(
                        {"token": tok, "logprob": 0.0, "bytes": None, "top_logprobs": []}
                    )
            logprobs = {"content": entries}
        self.answered[reply] += 1
        choice = {
            "index": 0,
            "finish_reason": finish,
            "logprobs": logprobs,
            "message": {"role": "assistant", "content": answer},
        }
        prompt_tokens: Any = len(text) // 4
        if marks.get("usage"):
            prompt_tokens = marks["usage"]
        elif echo == "usage":
            prompt_tokens = key
        return (
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": req.get("model", "fake"),
                "choices": {"0": choice} if broken("choicesnotlist") else [choice],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(tokens),
                    "total_tokens": len(text) // 4 + len(tokens),
                },
            },
            {},
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--image-rating", type=int, default=None)
    args = parser.parse_args(argv)
    server = FakeOpenAI(latency=args.latency)
    server.image_rating = args.image_rating

    async def run() -> None:
        await server.serve(args.port)
        print(f"PORT {server.port}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
