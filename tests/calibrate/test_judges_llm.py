"""The LLM judge over real HTTP against our own OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
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


@pytest.mark.sqlite  # a SQLite trigger plays the full disk
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


# -- broken answers with status 200 (issue 13) ------------------------------------------
KEY = "sk-test-ECHOED-KEY-5d2e91"


@pytest.mark.parametrize(
    "mark,reason",
    [
        ("badjson", "status 200 but the body is not JSON (content-type application/json)"),
        ("html", "status 200 but the body is not JSON (content-type text/html)"),
        ("choicesnotlist", "status 200 but 'choices' is an object, not a list of answers"),
    ],
)
def test_an_answer_without_a_completion_is_retried_then_a_counted_failure(
    server: FakeOpenAI, mark: str, reason: str
) -> None:
    judge = judge_for(server, max_attempts=3)
    once = f"once [[{mark}:1]] [[rate=3]]"
    v = one(judge, case(once))  # a proxy's hiccup: the next attempt gets the answer
    assert (v.label, v.valid, server.calls[once]) == ("unsafe", True, 2)
    always = f"always [[{mark}]]"
    with pytest.raises(TransientError) as err:
        one(judge, case(always))
    assert server.calls[always] == 3
    message = str(err.value)
    assert message.startswith("r1: gave up after 3 attempts to http://127.0.0.1:")
    assert f"MalformedAnswer: {reason}" in message and "the body began '" in message


@pytest.mark.parametrize(
    "mark,reason",
    [
        ("[[lp=1000]]", "log-prob 1000.0 of token '3' is not a finite number <= 0"),
        ("[[lp=nan]]", "log-prob nan of token '3' is not a finite number <= 0"),
        ("[[lp=inf]]", "log-prob inf of token '3' is not a finite number <= 0"),
        ("[[lp=-inf]]", "log-prob -inf of token '3' is not a finite number <= 0"),
        ("[[lp=str]]", "log-prob '-0.1' of token '3' is not a finite number <= 0"),
        ("[[usage=many]]", "usage.prompt_tokens 'many' is not a token count"),
    ],
)
def test_untrusted_numbers_make_an_invalid_verdict_with_the_text_kept(
    server: FakeOpenAI, mark: str, reason: str
) -> None:
    reply = f"{mark} [[rate=3]]"
    v = one(judge_for(server), case(reply))
    assert (v.label, v.valid, v.score) == (None, False, None)
    assert v.raw == '{"rating": 3, "reason": "scripted"}\n' + f"[untrusted answer: {reason}]"
    assert server.calls[reply] == 1  # an answer, not a fault: not paid for twice
    # the counts that are counts are kept (the call was paid for); "many" counts as 0
    assert v.tokens_out == 12 and (v.tokens_in == 0) == ("usage" in mark)


def test_a_clean_answer_next_to_the_broken_ones_keeps_its_score(server: FakeOpenAI) -> None:
    # the same checks pass a well-formed answer through unchanged (the tests above fail
    # on the checks, not on something that breaks every answer)
    v = one(judge_for(server), case("[[rate=3]] [[p=0.7]]"))
    assert v.label == "unsafe" and v.score == pytest.approx(0.7) and v.raw.endswith('"}')


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), 1000.0, "-0.1", True])
def test_scores_come_only_from_finite_logprobs(bad: object) -> None:
    prompt = load_prompt("harmfulness-v1")
    tokens = [
        {"token": '{"rating": ', "logprob": 0.0, "top_logprobs": []},
        {
            "token": "3",
            "logprob": -0.1,
            "top_logprobs": [{"token": "3", "logprob": -0.1}, {"token": "1", "logprob": bad}],
        },
        {"token": "}", "logprob": 0.0, "top_logprobs": []},
    ]
    assert prompt.score_from_logprobs(tokens) is None
    tokens[1]["top_logprobs"][1]["logprob"] = -2.4  # type: ignore[index]
    assert prompt.score_from_logprobs(tokens) == pytest.approx(0.9048 / (0.9048 + 0.0907), 1e-3)


def test_the_api_key_echoed_by_the_server_is_redacted(
    server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFECAL_TEST_ECHO_KEY", KEY)
    judge = judge_for(server, api_key_env="SAFECAL_TEST_ECHO_KEY", max_attempts=2)
    with pytest.raises(InputError) as refused:
        one(judge, case("[[echokey=401]]"))
    assert "refused the request (401): " in str(refused.value)
    assert "Incorrect API key provided: [redacted]" in str(refused.value)
    with pytest.raises(TransientError) as failed:
        one(judge, case("[[echokey=500]]"))
    assert "Incorrect API key provided: [redacted]" in str(failed.value)
    v = one(judge, case("[[echokey=200]]"))
    assert v.raw == '{"rating": 1, "key [redacted]"}' and not v.valid
    u = one(judge, case("[[echokey=usage]]"))  # in a number the answer is distrusted for
    assert u.raw.endswith(
        "[untrusted answer: usage.prompt_tokens '[redacted]' is not a token count]"
    )
    assert f"Bearer {KEY}" in server.authorizations  # the key was really sent
    for text in (str(refused.value), str(failed.value), v.raw, u.raw):
        assert KEY not in text and KEY[:12] not in text


def test_a_run_through_a_broken_server_completes_and_a_rerun_retries_only_failures(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    untrusted = ["[[lp=1000]]", "[[lp=nan]]", "[[lp=str]]", "[[lp=inf]]", "[[usage=many]]"]
    broken = ["[[badjson:2]]", "[[html:2]]", "[[choicesnotlist:2]]"]  # fixed by the rerun
    replies = [("vulnerability", "ok [[rate=3]] [[p=0.8]]")]
    replies += [("vulnerability", f"{m} [[rate=3]]") for m in untrusted + broken]
    ws = make_workspace(tmp_path / "ws", replies)
    judge = judge_for(server, max_attempts=2)
    s = run_judge(ws, judge, concurrency=4)
    assert (s.n_called, s.n_invalid, s.n_failed) == (1 + len(untrusted), len(untrusted), 3)
    assert all("MalformedAnswer: status 200 but" in f for f in s.failures)
    v = ws.read_sql("SELECT * FROM verdicts ORDER BY response_id").set_index("response_id")
    assert list(v.index) == [f"r{k:04d}" for k in range(1 + len(untrusted))]
    assert v.loc["r0000", "label"] == "unsafe" and v.loc["r0000", "score"] == pytest.approx(0.8)
    bad = v.iloc[1:]
    # never mapped to a class, never a score, the judge's text and the reason kept
    assert bad["label"].isna().all() and bad["score"].isna().all() and (bad["valid"] == 0).all()
    assert bad["raw"].str.startswith('{"rating": 3, "reason": "scripted"}\n[untrusted').all()
    cached = ws.read_sql("SELECT label, valid, score FROM judge_cache WHERE valid = 0")
    assert len(cached) == len(untrusted) and cached["score"].isna().all()

    before = Counter(server.calls)
    s2 = run_judge(ws, judge)
    assert (s2.n_cached, s2.n_called, s2.n_failed) == (1 + len(untrusted), 3, 0)
    again = {reply for reply in server.calls if server.calls[reply] != before[reply]}
    assert again == {f"{m} [[rate=3]]" for m in broken}  # the invalid ones were not repaid
    v = ws.read_sql("SELECT label, valid FROM verdicts ORDER BY response_id")
    assert list(v["label"].iloc[-3:]) == ["unsafe"] * 3
