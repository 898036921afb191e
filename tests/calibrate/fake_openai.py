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

The batch API (OpenAI's Batch API, as the batch route uses it): ``POST /v1/files``
(multipart upload, purpose ``batch``), ``GET /v1/files/{id}`` and ``/v1/files/{id}/content``,
``POST /v1/batches``, ``GET /v1/batches/{id}`` and ``GET /v1/batches`` (list). A batch is
checked like OpenAI checks one (every line a JSON object with a unique ``custom_id``,
``method`` POST and the batch's ``url``; else the batch is ``failed`` with the line
numbers), then each line is answered by the same code as a chat call, so the markers
above work in batches too: ``[[500:1]]`` fails a request in the first batch and answers it
when it is resubmitted. Answers with status 200 go to the output file, the others to the
error file. ``batch_seconds`` keeps every batch ``in_progress`` that long (a client can be
killed while it polls); ``batch_expire_after = N`` answers only the first N requests of a
batch and ends it ``expired``, the rest in the error file with code ``batch_expired``.
``uploads`` and ``batch_inputs`` (the custom ids of each batch created) count what clients
sent.

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
        #: false: no batch API (404 on /v1/files and /v1/batches), like vLLM's server
        self.batch_api = True
        self.batch_seconds = 0.0
        self.batch_expire_after: int | None = None
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.uploads = 0
        self.batch_inputs: list[list[str]] = []
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
                content_type = ""
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                    elif line.lower().startswith("content-type:"):
                        content_type = line.split(":", 1)[1].strip()
                    elif line.lower().startswith("authorization:"):
                        authorization = line.split(":", 1)[1].strip()
                        self.authorizations.add(authorization)
                body = await reader.readexactly(length) if length else b""
                if lines[0].startswith("POST /v1/chat/completions "):
                    status, payload, headers = await self._respond(lines[0], body, authorization)
                else:
                    status, payload, headers = self._batch_api(lines[0], body, content_type)
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

    # -- the batch API -----------------------------------------------------------
    def _batch_api(
        self, request_line: str, body: bytes, content_type: str
    ) -> tuple[int, Any, dict[str, str]]:
        if not self.batch_api:
            return 404, {"error": {"message": "not found"}}, {}
        method, target = request_line.split(" ")[:2]
        path = target.split("?")[0].rstrip("/")
        parts = path.split("/")
        if method == "POST" and path == "/v1/files":
            fields = _multipart(body, content_type)
            if fields.get("purpose") != b"batch" or "file" not in fields:
                return 400, {"error": {"message": "purpose must be 'batch', with a file"}}, {}
            file_id = f"file-{len(self.files) + 1:04d}"
            self.files[file_id] = fields["file"]
            self.uploads += 1
            return 200, self._file(file_id), {}
        if method == "GET" and len(parts) == 4 and parts[2] == "files":
            if parts[3] not in self.files:
                return 404, {"error": {"message": f"no file {parts[3]}"}}, {}
            return 200, self._file(parts[3]), {}
        if method == "GET" and len(parts) == 5 and parts[2] == "files" and parts[4] == "content":
            if parts[3] not in self.files:
                return 404, {"error": {"message": f"no file {parts[3]}"}}, {}
            return 200, self.files[parts[3]], {"content-type": "application/octet-stream"}
        if method == "POST" and path == "/v1/batches":
            req = json.loads(body)
            if req.get("input_file_id") not in self.files:
                return 400, {"error": {"message": "unknown input_file_id"}}, {}
            batch_id = f"batch_{len(self.batches) + 1:04d}"
            batch = {
                "id": batch_id,
                "object": "batch",
                "endpoint": req.get("endpoint"),
                "input_file_id": req["input_file_id"],
                "completion_window": req.get("completion_window", "24h"),
                "status": "validating",
                "output_file_id": None,
                "error_file_id": None,
                "created_at": 0,
                "errors": None,
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
            }
            self.batches[batch_id] = batch
            asyncio.get_running_loop().create_task(self._run_batch(batch))
            return 200, batch, {}
        if method == "GET" and path == "/v1/batches":
            data = list(self.batches.values())
            return 200, {"object": "list", "data": data, "has_more": False}, {}
        if method == "GET" and len(parts) == 4 and parts[2] == "batches":
            if parts[3] not in self.batches:
                return 404, {"error": {"message": f"no batch {parts[3]}"}}, {}
            return 200, self.batches[parts[3]], {}
        return 404, {"error": {"message": "not found"}}, {}

    def _file(self, file_id: str) -> dict[str, Any]:
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(self.files[file_id]),
            "created_at": 0,
            "filename": f"{file_id}.jsonl",
            "purpose": "batch",
            "status": "processed",
        }

    async def _run_batch(self, batch: dict[str, Any]) -> None:
        lines = self.files[batch["input_file_id"]].decode("utf-8").splitlines()
        requests, errors, seen = [], [], set()
        for n, line in enumerate(lines, 1):
            try:
                req = json.loads(line)
            except ValueError:
                errors.append({"code": "invalid_json", "message": "not JSON", "line": n})
                continue
            cid = req.get("custom_id") if isinstance(req, dict) else None
            if (
                not isinstance(cid, str)
                or cid in seen
                or req.get("method") != "POST"
                or req.get("url") != batch["endpoint"]
                or not isinstance(req.get("body"), dict)
            ):
                errors.append({"code": "invalid_request", "message": "bad request", "line": n})
                continue
            seen.add(cid)
            requests.append(req)
        self.batch_inputs.append([r["custom_id"] for r in requests])
        batch["request_counts"]["total"] = len(requests)
        if errors or not requests:
            batch["status"] = "failed"
            batch["errors"] = {"object": "list", "data": errors or [{"message": "empty"}]}
            return
        batch["status"] = "in_progress"
        await asyncio.sleep(self.batch_seconds)
        out, err = [], []
        for k, req in enumerate(requests):
            cid = req["custom_id"]
            if self.batch_expire_after is not None and k >= self.batch_expire_after:
                error = {"code": "batch_expired", "message": "not run before the batch expired"}
                err.append({"id": f"r{k}", "custom_id": cid, "response": None, "error": error})
                continue
            status, payload, _ = await self._respond(
                "POST /v1/chat/completions HTTP/1.1", json.dumps(req["body"]).encode()
            )
            status = status or 502  # a dropped call: the batch worker's gateway error
            if isinstance(payload, bytes):
                payload = payload.decode("utf-8", "replace")
            response = {"status_code": status, "request_id": f"req-{k}", "body": payload}
            line = {"id": f"r{k}", "custom_id": cid, "response": response, "error": None}
            (out if status == 200 else err).append(line)
        counts = batch["request_counts"]
        counts["completed"], counts["failed"] = len(out), len(err)
        for kind, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                file_id = f"file-{len(self.files) + 1:04d}"
                self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[kind] = file_id
        batch["status"] = "expired" if self.batch_expire_after is not None else "completed"


def _multipart(body: bytes, content_type: str) -> dict[str, bytes]:
    """The fields of a multipart/form-data body, by name."""
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields = {}
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, value = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        if name:
            fields[name.group(1).decode()] = value.removesuffix(b"\r\n")
    return fields


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--batch-seconds", type=float, default=0.0)
    parser.add_argument("--image-rating", type=int, default=None)
    args = parser.parse_args(argv)
    server = FakeOpenAI(latency=args.latency)
    server.batch_seconds = args.batch_seconds
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
