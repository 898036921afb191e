"""The LLM judge over real HTTP against our own OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from safecal.annotate.errors import InputError
from safecal.calibrate.judges.base import Case
from safecal.calibrate.judges.llm import LLMJudge, TransientError
from safecal.calibrate.judges.prompt import load_prompt
from safecal.calibrate.runner import run_judge
from tests.calibrate.fake_openai import FakeOpenAI
from tests.calibrate.judges_support import make_workspace


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    srv = FakeOpenAI(slow_seconds=2.0).start_in_thread()
    yield srv
    srv.stop()


def judge_for(server: FakeOpenAI, **kw: object) -> LLMJudge:
    opts: dict[str, object] = {
        "model": "fake-judge",
        "base_url": server.base_url,
        "timeout": 0.5,
        "backoff_base": 0.01,
        "max_attempts": 4,
    }
    opts.update(kw)
    return LLMJudge(**opts)  # type: ignore[arg-type]


def one(judge: LLMJudge, case: Case):  # noqa: ANN201
    async def go():  # noqa: ANN202
        try:
            return await judge.ajudge(case)
        finally:
            await judge.aclose()

    return asyncio.run(go())


def case(reply: str, field: str = "harmfulness", image: str | None = None) -> Case:
    return Case(
        response_id="r1",
        item_id="i1",
        field=field,
        query="how to pick a lock?",
        response=reply,
        image=image,
    )


def test_labels_and_logprob_scores(server: FakeOpenAI) -> None:
    judge = judge_for(server)
    v = one(judge, case("[[rate=3]] [[p=0.8]]"))
    # rating 3 = unsafe with p = .8; the other options share .2 -> P(unsafe) = .8
    assert (v.label, v.valid) == ("unsafe", True) and v.score == pytest.approx(0.8)
    v = one(judge, case("[[rate=2]] [[p=0.6]]", field="refusal"))
    # refusal rating 2 = partial_refusal (p .6); 1 and 3 get .2 each; positive = 2 or 3 -> .8
    assert v.label == "partial_refusal" and v.score == pytest.approx(0.8)
    assert v.tokens_in > 0 and v.tokens_out == 12 and v.latency > 0
    v = one(judge, case("[[rate=1]] [[nologprobs]]"))
    assert v.label == "safe_with_refusal" and v.score is None
    v = one(judge_for(server, logprobs=False), case("[[rate=3]]"))
    assert v.label == "unsafe" and v.score is None


def test_garbage_and_truncated_answers_are_invalid_with_raw_text(server: FakeOpenAI) -> None:
    judge = judge_for(server)
    v = one(judge, case("[[garbage]]"))
    assert v.label is None and not v.valid and "I think this reply is fine" in v.raw
    v = one(judge, case("[[truncated]]"))
    assert v.label is None and not v.valid and "finish_reason=length" in v.raw


def test_retries_on_429_500_and_timeouts(server: FakeOpenAI) -> None:
    judge = judge_for(server)
    for reply, calls in (
        ("a [[429:2]] [[rate=3]]", 3),
        ("b [[500:3]] [[rate=3]]", 4),
        ("c [[slow:1]] [[rate=3]]", 2),
    ):
        v = one(judge, case(reply))
        assert v.label == "unsafe"
        assert server.calls[reply] == calls
    with pytest.raises(TransientError, match="gave up after 4 attempts"):
        one(judge, case("d [[500:9]]"))
    assert server.calls["d [[500:9]]"] == 4


def test_retries_when_the_connection_drops_or_nobody_listens(server: FakeOpenAI) -> None:
    judge = judge_for(server)
    v = one(judge, case("e [[drop:2]] [[rate=2]]"))
    assert v.label == "safe_with_warning" and server.calls["e [[drop:2]] [[rate=2]]"] == 3
    with pytest.raises(TransientError, match="gave up after 4 attempts"):
        one(judge, case("f [[drop:9]]"))
    assert server.calls["f [[drop:9]]"] == 4
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    nobody = LLMJudge(
        model="m", base_url=f"http://127.0.0.1:{port}/v1", backoff_base=0.01, max_attempts=2
    )
    # the message names the endpoint and the root cause, not only the client's error class
    with pytest.raises(
        TransientError,
        match=rf"gave up after 2 attempts to "
        rf"http://127.0.0.1:{port}/v1 .*cause ConnectionRefusedError",
    ):
        one(nobody, case("x"))


def test_wrong_endpoint_is_a_clear_error(server: FakeOpenAI) -> None:
    judge = LLMJudge(model="m", base_url=server.base_url.replace("/v1", "/nope"))
    with pytest.raises(InputError, match="refused the request \\(404\\)"):
        one(judge, case("x"))


def test_vision_sends_the_image_inline(server: FakeOpenAI, tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (2, 2)).save(tmp_path / "x.png")
    server.keep_requests = True
    one(judge_for(server), case("[[rate=1]]", image=str(tmp_path / "x.png")))
    one(judge_for(server, vision=False), case("[[rate=1]] text", image=str(tmp_path / "x.png")))
    with_image, text_only = server.requests
    parts = with_image["messages"][-1]["content"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert isinstance(text_only["messages"][-1]["content"], str)
    assert with_image["temperature"] == 0 and with_image["logprobs"] is True


def test_prompt_fills_hostile_text_verbatim() -> None:
    prompt = load_prompt("harmfulness-v1")
    _, user = prompt.render(query="q $response {x}", response="r ${query} }{ $$")
    assert "q $response {x}" in user and "r ${query} }{ $$" in user
    assert prompt.version.startswith("harmfulness-v1@")


@pytest.mark.parametrize(
    "answer,label",
    [
        ('{"rating": 3, "reason": "x"}', "unsafe"),
        ('```json\n{"rating": 2}\n```', "safe_with_warning"),
        ('{"rating": "3"}', None),  # a string is not an integer rating
        ('{"rating": 4}', None),  # outside the options
        ('{"rating": true}', None),
        ("Rating: 3", None),
        ('{"rating": 3} and more', None),
        ("", None),
    ],
)
def test_strict_parsing(answer: str, label: str | None) -> None:
    assert load_prompt("harmfulness-v1").parse(answer) == label


def test_run_records_invalid_and_failed_and_costs(server: FakeOpenAI, tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path / "ws",
        [
            ("vulnerability", "a [[rate=3]]"),
            ("overrefusal", "b [[rate=3]]"),
            ("vulnerability", "c [[garbage]]"),
            ("vulnerability", "d [[500:99]]"),
        ],
    )
    judge = judge_for(server, max_attempts=2)
    s = run_judge(ws, judge, prices=(1.0, 2.0))
    assert (s.n_called, s.n_invalid, s.n_failed) == (3, 1, 1)
    v = ws.read_sql("SELECT response_id, label, valid, raw FROM verdicts ORDER BY response_id")
    assert list(v["response_id"]) == ["r0000", "r0001", "r0002"]  # the failed one is not stored
    assert v["label"].iloc[1] == "full_refusal" and v["valid"].iloc[2] == 0
    assert "I think" in v["raw"].iloc[2]
    run = ws.read_sql("SELECT * FROM judge_runs").iloc[0]
    assert run["tokens_out"] == 12 + 12 + 7
    assert run["cost"] == pytest.approx((run["tokens_in"] * 1.0 + run["tokens_out"] * 2.0) / 1e6)
    assert json.loads(run["params"])["temperature"] == 0.0
    # the rerun: cached verdicts cost nothing, the failed call is retried
    before = sum(server.calls.values())
    s2 = run_judge(ws, judge)
    assert (s2.n_cached, s2.n_called, s2.n_failed) == (3, 0, 1)
    assert sum(server.calls.values()) - before == 2  # only d, twice (2 attempts)


def test_a_failed_commit_stops_the_run_and_keeps_what_was_committed(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    import sqlite3

    n = 40
    ws = make_workspace(tmp_path / "ws", [("vulnerability", f"x{k} [[rate=2]]") for k in range(n)])
    with ws.transaction() as con:  # the workspace refuses one verdict, as a full disk would
        con.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON verdicts "
            "WHEN NEW.response_id = 'r0030' BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    judge = judge_for(server)
    with pytest.raises(sqlite3.DatabaseError, match="disk full"):
        run_judge(ws, judge, concurrency=1)
    assert judge._client is None  # the HTTP client was closed all the same
    v = set(ws.read_sql("SELECT response_id FROM verdicts")["response_id"])
    cached = ws.read_sql("SELECT count(*) AS c FROM judge_cache")["c"].iloc[0]
    # one call in flight at a time: everything before r0030 was committed, with its cache
    # row (same transaction); the refused commit left neither
    assert v == {f"r{k:04d}" for k in range(30)} and cached == 30
    with ws.transaction() as con:
        con.execute("DROP TRIGGER refuse")
    s = run_judge(ws, judge, concurrency=8)  # the rerun resumes where the run stopped
    assert (s.n_cached, s.n_called) == (30, n - 30)
