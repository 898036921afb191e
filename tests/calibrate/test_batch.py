"""The LLM judge's batch route against our own server's /v1/files and /v1/batches."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from safecal.annotate.store import Workspace
from safecal.calibrate.batch.requests import _ENCODE, LineWriter, custom_id, request
from safecal.calibrate.batch.route import BatchOptions, export_batch, import_batch, run_batch
from safecal.calibrate.judges.base import Case
from safecal.calibrate.judges.llm import LLMJudge
from safecal.calibrate.runner import load_cases, run_judge
from tests.calibrate.fake_openai import FakeOpenAI
from tests.calibrate.judges_support import judge_command as cli
from tests.calibrate.judges_support import make_workspace

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-test-DO-NOT-LEAK-batch-77e1"
FAST = BatchOptions(poll=0.02)
#: answers of every kind the online route knows: ratings, scores, garbage, a cut answer,
#: untrusted numbers, no log-probs, two responses with the same text (one request)
REPLIES = [
    ("vulnerability", "plain [[rate=3]] [[p=0.7]]"),
    ("vulnerability", "safe one [[rate=1]]"),
    ("vulnerability", "warned [[rate=2]] [[p=0.55]]"),
    ("overrefusal", "refused [[rate=1]]"),
    ("overrefusal", "complied [[rate=2]] [[nologprobs]]"),
    ("vulnerability", "prose [[garbage]]"),
    ("vulnerability", "cut [[truncated]]"),
    ("vulnerability", "nan score [[rate=3]] [[lp=nan]]"),
    ("vulnerability", 'quotes " and \\ and 中文 and $query [[rate=2]]'),
    ("overrefusal", "usage garbled [[rate=2]] [[usage=many]]"),
    ("vulnerability", "same text twice [[rate=3]]"),
]


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    srv = FakeOpenAI().start_in_thread()
    yield srv
    srv.stop()


def judge_for(server: FakeOpenAI, **kw: object) -> LLMJudge:
    opts: dict[str, object] = {"model": "fake-judge", "base_url": server.base_url}
    opts.update(kw)
    return LLMJudge(**opts)  # type: ignore[arg-type]


def workspace(path: Path, replies: list[tuple[str, str]]) -> Workspace:
    ws = make_workspace(path, replies)
    with ws.transaction() as con:  # a second response with the first's item and text
        con.execute(
            "INSERT INTO responses (response_id, item_id, model, language, response, source, "
            "content_hash, ingested_at) SELECT 'r9999', item_id, 'm2', language, response, "
            "source, content_hash, ingested_at FROM responses WHERE response_id = ?",
            (f"r{len(replies) - 1:04d}",),
        )
    return ws


def verdicts(ws: Workspace) -> pd.DataFrame:
    cols = "response_id, field, label, valid, score, raw, tokens_in, tokens_out"
    return ws.read_sql(f"SELECT {cols} FROM verdicts ORDER BY response_id")


def counts(ws: Workspace) -> tuple[int, int]:
    v = ws.read_sql("SELECT count(*) AS n FROM verdicts")["n"].iloc[0]
    c = ws.read_sql("SELECT count(*) AS n FROM judge_cache")["n"].iloc[0]
    return int(v), int(c)


# -- the lines ---------------------------------------------------------------------------
def test_a_line_is_the_request_builders_json_byte_for_byte(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (2, 2), (0, 0, 255)).save(tmp_path / "blue.png")
    texts = [
        'a "quoted" \\ reply',
        "中文回答\n第二行",
        "$response and ${query} and $$",
        "\t\x01\u2028",
    ]
    template = tmp_path / "odd.txt"
    template.write_text(
        "# field: harmfulness\n# options: 1=safe_with_refusal 3=unsafe\n### system\n"
        "100% sure? %s %(x)s about $query\n### user\n$query / $response / $query again $$\n",
        encoding="utf-8",
    )
    from safecal.calibrate.judges.prompt import Example, load_prompt

    shots = load_prompt("harmfulness-v1").with_examples([Example("q %s", "r \\", "unsafe")])
    judges = [
        LLMJudge(model="m"),
        LLMJudge(model="m", logprobs=False, temperature=0.3, max_tokens=7),
        LLMJudge(model="m %", prompts={"harmfulness": load_prompt(template)}),
        LLMJudge(model="m", prompts={"harmfulness": shots}, vision=False),
    ]
    for judge in judges:
        writer = LineWriter(judge)
        for k, text in enumerate(texts):
            for field in ("harmfulness", "refusal"):
                image = str(tmp_path / "blue.png") if k == 1 else None
                case = Case(
                    response_id="r",
                    item_id="i",
                    field=field,
                    query=texts[-1 - k],
                    response=text,
                    image=image,
                )
                cid = custom_id("c" * 64, "f" * 64)
                line = writer.line(cid, case)
                assert line == _ENCODE(request(judge, cid, case))
                body = json.loads(line)["body"]
                assert body == judge.request_body(case)
                if image and judge.vision:  # the plain route, with the image inline
                    assert "data:image/png;base64," in line


# -- through the batch API ----------------------------------------------------------------
def test_batch_round_trip_gives_the_online_verdicts(server: FakeOpenAI, tmp_path: Path) -> None:
    online = workspace(tmp_path / "online", REPLIES)
    run_judge(online, judge_for(server, max_attempts=1), concurrency=4)
    batch = workspace(tmp_path / "batch", REPLIES)
    before = sum(server.calls.values())
    summary = run_batch(batch, judge_for(server), cases=load_cases(batch), options=FAST)

    pd.testing.assert_frame_equal(verdicts(batch), verdicts(online))
    got = verdicts(batch).set_index("response_id")
    assert (
        got.loc["r0005", "valid"] == 0 and "I think this reply is fine" in got.loc["r0005", "raw"]
    )
    assert got.loc["r0007", "valid"] == 0 and pd.isna(got.loc["r0007", "score"])
    assert got.loc["r0000", "score"] == pytest.approx(0.7)
    # one batch, one request per distinct input (r9999 shares r0010's), each answered once
    assert len(server.batch_inputs) == 1 and len(server.batch_inputs[0]) == len(REPLIES)
    assert sum(server.calls.values()) - before == len(REPLIES)
    assert summary.n_called == len(REPLIES) and summary.n_failed == 0
    assert summary.n_invalid == 4 and summary.n_cases == len(REPLIES) + 1
    rows = batch.read_sql("SELECT status, server_status, n_requests FROM judge_batches")
    assert rows.to_dict("records") == [
        {"status": "imported", "server_status": "completed", "n_requests": len(REPLIES)}
    ]
    # a rerun sends nothing
    again = run_batch(batch, judge_for(server), cases=load_cases(batch), options=FAST)
    assert len(server.batch_inputs) == 1 and again.n_cached == len(REPLIES) + 1
    assert again.n_called == 0


def test_a_partly_failed_batch_resubmits_only_its_failures(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    replies = [("vulnerability", f"reply {k} [[rate={1 + k % 3}]]") for k in range(20)]
    failing = {3: "[[500:1]]", 7: "[[429:1]]", 11: "[[drop:1]]", 15: "[[html:1]]", 18: "[[500:9]]"}
    for k, mark in failing.items():
        replies[k] = (replies[k][0], replies[k][1] + " " + mark)
    ws = make_workspace(tmp_path / "ws", replies)
    judge = judge_for(server)
    summary = run_batch(ws, judge, cases=load_cases(ws), options=BatchOptions(poll=0.02, rounds=2))
    keys = {
        custom_id(judge.config.key(), judge.input_key(c)): int(c.response_id[1:])
        for c in load_cases(ws)
    }
    first, second = ([keys[cid] for cid in ids] for ids in server.batch_inputs)
    assert sorted(first) == list(range(20))
    assert sorted(second) == sorted(failing)  # only the failures went again
    for reply, n in server.calls.items():
        k = int(reply.split()[1])
        assert n == (2 if k in failing else 1), reply
    # the one that fails every time is left unjudged, counted, and named
    assert summary.n_failed == 1 and summary.n_called == 19
    assert "status 500" in summary.failures[0]
    assert set(verdicts(ws)["response_id"]) == {f"r{k:04d}" for k in range(20)} - {"r0018"}
    # a rerun resubmits that one alone
    run_batch(ws, judge, cases=load_cases(ws), options=BatchOptions(poll=0.02, rounds=1))
    assert [keys[cid] for cid in server.batch_inputs[2]] == [18]


def test_an_expired_batch_keeps_its_answers_and_resubmits_the_rest(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    ws = make_workspace(tmp_path / "ws", [("vulnerability", f"r {k}") for k in range(6)])
    server.batch_expire_after = 2  # each batch answers two requests, then expires
    options = BatchOptions(poll=0.02, rounds=2)
    summary = run_batch(ws, judge_for(server), cases=load_cases(ws), options=options)
    assert [len(ids) for ids in server.batch_inputs] == [6, 4]
    assert summary.n_called == 4 and summary.n_failed == 2
    assert "batch_expired" in summary.failures[0]
    assert len(verdicts(ws)) == 4


def test_a_batch_created_but_not_recorded_is_found_not_sent_again(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    """A kill between creating a batch and recording its id: the row says 'submitting'."""
    from safecal.annotate.store import batches, runs
    from safecal.calibrate.batch.api import BatchAPI

    ws = make_workspace(tmp_path / "ws", [("vulnerability", f"r {k}") for k in range(5)])
    judge = judge_for(server)
    path = tmp_path / "requests.jsonl"
    export_batch(ws, judge, cases=load_cases(ws), path=path)
    api = BatchAPI(judge)
    file_id = api.upload(path)
    con = ws.connect()
    runs.in_transaction(
        con,
        lambda: batches.record_upload(
            con,
            base_url=api.where,
            input_file_id=file_id,
            run_id=judge.config.run_id(),
            config_key=judge.config.key(),
            n_requests=5,
            created_at="now",
        ),
    )
    con.close()
    api.create(file_id)  # ... and killed here
    api.close()
    # the rerun narrows the run to three responses: the batch is found, not sent again, and
    # its answers for the other two are skipped, not refused
    summary = run_batch(ws, judge, cases=load_cases(ws)[:3], options=FAST)
    assert len(server.batches) == 1 and server.uploads == 1
    assert summary.n_called == 3 and len(verdicts(ws)) == 3
    summary = run_batch(ws, judge, cases=load_cases(ws), options=FAST)
    assert [len(ids) for ids in server.batch_inputs] == [5, 2]
    assert summary.n_called == 2 and summary.n_cached == 3 and len(verdicts(ws)) == 5


def test_an_endpoint_without_a_batch_api_is_a_clear_error(tmp_path: Path) -> None:
    make_workspace(tmp_path / "ws", [("vulnerability", "a")])
    srv = FakeOpenAI().start_in_thread()
    srv.batch_api = False
    try:
        done = subprocess.run(
            cli(tmp_path / "ws", srv, "--batch"),
            cwd=ROOT,
            env=env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        srv.stop()
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no batch API" in done.stderr and "--batch-export" in done.stderr


# -- as a user runs it: killed while it polls -----------------------------------------------
def env() -> dict[str, str]:
    return {**os.environ, "SAFECAL_TEST_JUDGE_KEY": SECRET}


def test_killed_while_polling_resumes_the_same_batch(server: FakeOpenAI, tmp_path: Path) -> None:
    n = 40
    replies = [("vulnerability", f"resp {k} [[rate={1 + k % 3}]]") for k in range(n)]
    ws = make_workspace(tmp_path / "ws", replies)
    server.batch_seconds = 5.0
    command = cli(tmp_path / "ws", server, "--batch", "--batch-poll", "0.1")
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60

    def recorded() -> bool:
        if not server.batches:
            return False
        rows = ws.read_sql("SELECT status FROM judge_batches")
        return list(rows["status"]) == ["submitted"]

    while not recorded() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # a few polls
    assert proc.poll() is None, "the client must still be polling"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    rows = ws.read_sql("SELECT batch_id, status FROM judge_batches")
    assert rows.to_dict("records") == [{"batch_id": "batch_0001", "status": "submitted"}]
    assert counts(ws) == (0, 0)

    done = subprocess.run(command, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "submitted batch" not in done.stderr and "batch batch_0001: completed" in done.stderr
    assert len(server.batches) == 1 and server.uploads == 1  # polled, not sent again
    assert sorted(server.calls.values()) == [1] * n
    assert counts(ws) == (n, n)
    assert f"{n} responses, 0 from cache, {n} calls" in done.stdout
    # a third run costs nothing and submits nothing
    again = subprocess.run(
        command, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0 and len(server.batches) == 1
    assert f"{n} from cache, 0 calls" in again.stdout
    # the key reached the server, and nothing else
    assert f"Bearer {SECRET}" in server.authorizations
    for path in (tmp_path / "ws").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


# -- offline: export, run elsewhere, import --------------------------------------------------
def run_offline(server: FakeOpenAI, requests: Path, answers: Path) -> None:
    """What vLLM's run-batch does with an exported file: each line's body to the chat
    endpoint (ours, over HTTP), one output line per request, in run-batch's shape."""
    with requests.open(encoding="utf-8") as src, answers.open("w", encoding="utf-8") as out:
        for k, line in enumerate(src):
            req = json.loads(line)
            r = httpx.post(server.base_url.removesuffix("/v1") + req["url"], json=req["body"])
            response = {"status_code": r.status_code, "request_id": f"q{k}", "body": r.json()}
            row = {"id": f"vllm-{k}", "custom_id": req["custom_id"], "response": response}
            out.write(json.dumps({**row, "error": None}) + "\n")


def test_export_then_import_gives_the_online_verdicts(server: FakeOpenAI, tmp_path: Path) -> None:
    online = workspace(tmp_path / "online", REPLIES)
    run_judge(online, judge_for(server, max_attempts=1), concurrency=4)
    offline = workspace(tmp_path / "offline", REPLIES)
    requests, answers = tmp_path / "requests.jsonl", tmp_path / "answers.jsonl"
    done = subprocess.run(
        [*cli(tmp_path / "offline", server, "--batch-export", str(requests)), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["n_requests"] == len(REPLIES)
    assert counts(offline) == (0, 0)
    run_offline(server, requests, answers)
    before = sum(server.calls.values())
    done = subprocess.run(
        cli(tmp_path / "offline", server, "--batch-import", str(answers)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sum(server.calls.values()) == before  # importing calls nobody
    pd.testing.assert_frame_equal(verdicts(offline), verdicts(online))
    # exporting again writes nothing: every verdict is cached
    export = export_batch(
        offline, judge_for(server), cases=load_cases(offline), path=tmp_path / "again.jsonl"
    )
    assert export.n_requests == 0 and (tmp_path / "again.jsonl").read_text() == ""


def test_an_import_of_part_of_the_answers_leaves_the_rest_for_the_next_export(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    ws = make_workspace(tmp_path / "ws", [("vulnerability", f"r {k} [[rate=3]]") for k in range(6)])
    judge = judge_for(server)
    requests, answers = tmp_path / "requests.jsonl", tmp_path / "answers.jsonl"
    export_batch(ws, judge, cases=load_cases(ws), path=requests)
    lines = requests.read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "half.jsonl").write_text("".join(lines[:4]), encoding="utf-8")
    run_offline(server, tmp_path / "half.jsonl", answers)
    summary = import_batch(ws, judge, cases=load_cases(ws), paths=[answers])
    assert summary.n_called == 4 and summary.n_failed == 2
    export = export_batch(ws, judge, cases=load_cases(ws), path=requests)
    rest = [json.loads(x)["custom_id"] for x in requests.read_text().splitlines()]
    assert export.n_requests == 2 and rest == [json.loads(x)["custom_id"] for x in lines[4:]]
    # importing the same answers again changes nothing
    again = import_batch(ws, judge, cases=load_cases(ws), paths=[answers])
    assert again.n_called == 0 and counts(ws) == (4, 4)


# -- bad answer files ----------------------------------------------------------------------
def _good_lines(server: FakeOpenAI, tmp_path: Path, ws: Path) -> list[str]:
    requests, answers = tmp_path / "requests.jsonl", tmp_path / "answers.jsonl"
    workspace_ = Workspace.open(ws, create=False)
    export_batch(workspace_, judge_for(server), cases=load_cases(workspace_), path=requests)
    run_offline(server, requests, answers)
    return answers.read_text(encoding="utf-8").splitlines()


def _other_config(server: FakeOpenAI, tmp_path: Path, ws: Path) -> list[str]:
    workspace_ = Workspace.open(ws, create=False)
    path = tmp_path / "other.jsonl"
    export_batch(
        workspace_, judge_for(server, temperature=0.7), cases=load_cases(workspace_), path=path
    )
    run_offline(server, path, tmp_path / "other-answers.jsonl")
    return (tmp_path / "other-answers.jsonl").read_text(encoding="utf-8").splitlines()


def _id(line: str) -> str:
    return str(json.loads(line)["custom_id"])


def _with_id(line: str, cid: str) -> str:
    return json.dumps({**json.loads(line), "custom_id": cid})


BAD = {
    "malformed": (lambda good, other: [good[0], good[1][:-9], *good[2:]], "line 2: malformed JSON"),
    "duplicate": (
        lambda good, other: [*good, good[1]],
        "line 5: custom_id 'safecal-",
    ),
    "unknown": (
        lambda good, other: [good[0], _with_id(good[1], _id(good[1])[:-4] + "beef"), *good[2:]],
        "line 2: custom_id 'safecal-",
    ),
    "not ours": (
        lambda good, other: [*good[:3], _with_id(good[3], "req-7")],
        "line 4: custom_id 'req-7' was not written by safecal",
    ),
    "other options": (
        lambda good, other: [*good[:2], other[2], *good[3:]],
        "line 3: custom_id 'safecal-",
    ),
    "no custom_id": (
        lambda good, other: [
            good[0],
            json.dumps({k: v for k, v in json.loads(good[1]).items() if k != "custom_id"}),
        ],
        "line 2: no custom_id",
    ),
    "neither": (
        lambda good, other: [json.dumps({"custom_id": _id(good[0])})],
        "line 1: neither 'response' nor 'error'",
    ),
    "not an object": (lambda good, other: [good[0], "[1, 2]"], "line 2: expected a JSON object"),
    "empty": (lambda good, other: [], "the file is empty"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_answer_file_is_refused_with_its_line_and_changes_nothing(
    server: FakeOpenAI, tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """In-process through the command's entry point (an exception other than the
    user-input error would fail the test, as a traceback would in a terminal)."""
    from safecal.cli import main

    ws_path = tmp_path / "ws"
    ws = make_workspace(ws_path, [("vulnerability", f"r {k} [[rate=2]]") for k in range(4)])
    good = _good_lines(server, tmp_path, ws_path)
    other = _other_config(server, tmp_path, ws_path)
    make, expected = BAD[case]
    bad = tmp_path / "bad.jsonl"
    lines = make(good, other)
    bad.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    before = (counts(ws), ws.read_sql("SELECT * FROM judge_runs"))
    capsys.readouterr()
    code = main(cli(ws_path, server, "--batch-import", str(bad))[3:])
    stderr = capsys.readouterr().err
    assert code == 2 and stderr.startswith("error: ") and expected in stderr, stderr
    assert str(bad) in stderr
    assert counts(ws) == before[0] == (0, 0)
    pd.testing.assert_frame_equal(ws.read_sql("SELECT * FROM judge_runs"), before[1])
    if case == "duplicate":
        assert "again (first on line 2)" in stderr
    if case == "unknown":
        assert "matches no response of this workspace" in stderr
    if case == "other options":
        assert "other judge options" in stderr


def test_the_batch_options_are_for_the_llm_judge_only(tmp_path: Path) -> None:
    make_workspace(tmp_path / "ws", [("vulnerability", "a")])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "safecal",
            "calibrate",
            "run",
            "--workspace",
            str(tmp_path / "ws"),
            "--judge",
            "keyword",
            "--batch-export",
            str(tmp_path / "x.jsonl"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "for --judge llm" in done.stderr
    assert not (tmp_path / "x.jsonl").exists()
    shutil.rmtree(tmp_path / "ws")
