"""``safecal calibrate run`` as a user runs it: a subprocess, killed and resumed."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.calibrate.fake_openai import FakeOpenAI
from tests.calibrate.judges_support import judge_command as cli
from tests.calibrate.judges_support import make_workspace

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-test-DO-NOT-LEAK-8c41f0"


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    srv = FakeOpenAI(latency=0.02).start_in_thread()
    yield srv
    srv.stop()


def env() -> dict[str, str]:
    return {**os.environ, "SAFECAL_TEST_JUDGE_KEY": SECRET}


def test_killed_run_resumes_without_losing_or_repeating_calls(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    n = 200
    replies = [
        (("vulnerability", "overrefusal")[k % 2], f"resp {k} [[rate={1 + k % 3}]]")
        for k in range(n)
    ]
    ws = make_workspace(tmp_path / "ws", replies)
    proc = subprocess.Popen(
        cli(tmp_path / "ws", server, "--concurrency", "8"),
        cwd=ROOT,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while sum(server.answered.values()) < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.wait(10)
    time.sleep(0.5)  # let the server finish the calls that were in flight at the kill
    first = dict(server.answered)
    assert 60 <= sum(first.values()) < n, "the kill must land mid-run"

    recorded = set(ws.read_sql("SELECT response_id FROM verdicts")["response_id"])
    cached = ws.read_sql("SELECT count(*) AS c FROM judge_cache")["c"].iloc[0]
    assert 0 < len(recorded) < n and cached == len(recorded)
    # lost at the kill: the calls in flight (8) and those finished in the loop iteration under
    # way (at most 8 more), not yet committed
    assert sum(first.values()) - len(recorded) <= 16

    done = subprocess.run(
        cli(tmp_path / "ws", server, "--concurrency", "8"),
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    second = {reply: server.answered[reply] - first.get(reply, 0) for reply in server.answered}
    called_again = {f"r{int(reply.split()[1]):04d}" for reply, c in second.items() if c}
    # nothing recorded before the kill was called again; everything else exactly once
    assert called_again == {f"r{k:04d}" for k in range(n)} - recorded
    assert all(c <= 1 for c in second.values())
    verdicts = ws.read_sql("SELECT response_id, label FROM verdicts")
    assert len(verdicts) == verdicts["response_id"].nunique() == n
    # a third run costs nothing
    before = sum(server.calls.values())
    again = subprocess.run(
        cli(tmp_path / "ws", server),
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0 and sum(server.calls.values()) == before
    assert f"{n} from cache, 0 calls" in again.stdout


@pytest.mark.sqlite  # SQLite's own pragmas and files
def test_api_key_never_reaches_logs_or_database(server: FakeOpenAI, tmp_path: Path) -> None:
    ws = make_workspace(
        tmp_path / "ws", [("vulnerability", "a [[rate=3]]"), ("overrefusal", "b [[garbage]]")]
    )
    done = subprocess.run(
        cli(tmp_path / "ws", server, "--json"),
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"Bearer {SECRET}" in server.authorizations  # the key was really used
    assert SECRET not in done.stdout + done.stderr
    for path in (tmp_path / "ws").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    con = ws.connect()
    try:
        dump = "\n".join(con.raw.iterdump())
    finally:
        con.close()
    assert SECRET not in dump and "SAFECAL_TEST_JUDGE_KEY" not in dump
    # nor the judge card
    from safecal.calibrate.judging import write_judge_card

    with ws.transaction() as con:
        con.execute(
            "INSERT INTO gold (response_id, field, label, method, decided_at) "
            "VALUES ('r0000', 'harmfulness', 'unsafe', 'imported', 'now')"
        )
    html, js = write_judge_card(ws, "fake-judge", tmp_path / "card", n_boot=10, assume_random=True)
    for path in (html, js):
        text = path.read_text(encoding="utf-8")
        assert "fake-judge" in text and SECRET not in text


def test_missing_key_for_a_remote_api_is_a_clear_error(tmp_path: Path) -> None:
    make_workspace(tmp_path / "ws", [("vulnerability", "a")])
    environment = {
        k: v for k, v in os.environ.items() if k not in ("NO_SUCH_KEY_VAR", "OPENAI_BASE_URL")
    }
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
            "llm",
            "--model",
            "m",
            "--api-key-env",
            "NO_SUCH_KEY_VAR",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "NO_SUCH_KEY_VAR is not set" in done.stderr and "Traceback" not in done.stderr


def test_a_server_that_is_gone_is_named_and_nothing_is_recorded(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    ws = make_workspace(
        tmp_path / "ws", [("vulnerability", "a [[rate=3]]"), ("overrefusal", "b [[rate=1]]")]
    )
    server.stop()  # the judge server dies before the run
    done = subprocess.run(
        cli(tmp_path / "ws", server, "--max-attempts", "2"),
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "2 calls failed after retries" in done.stderr
    assert f"to {server.base_url} (" in done.stderr and "ConnectionRefusedError" in done.stderr
    assert "rerun the same command" in done.stderr
    con = ws.connect()
    try:
        assert con.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM judge_cache").fetchone()[0] == 0
    finally:
        con.close()


@pytest.mark.sqlite  # SQLite's own pragmas and files
def test_a_refused_database_write_is_a_message_and_the_rerun_resumes(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    ws = make_workspace(tmp_path / "ws", [("vulnerability", f"x{k} [[rate=2]]") for k in range(6)])
    with ws.transaction() as con:  # the workspace refuses one verdict, as a full disk would
        con.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON verdicts "
            "WHEN NEW.response_id = 'r0004' BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    done = subprocess.run(
        cli(tmp_path / "ws", server, "--concurrency", "1"),
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "error: the workspace database refused a change" in done.stderr
    assert "disk full" in done.stderr and "rerun the same command" in done.stderr
    kept = set(ws.read_sql("SELECT response_id FROM verdicts")["response_id"])
    assert kept == {f"r{k:04d}" for k in range(4)}
    with ws.transaction() as con:
        con.execute("DROP TRIGGER refuse")
    again = subprocess.run(
        cli(tmp_path / "ws", server),
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0 and "4 from cache, 2 calls" in again.stdout


def _secret_in_workspace(ws_path: Path) -> list[Path]:
    return [p for p in ws_path.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]


def test_a_server_answering_garbage_ends_in_a_summary_not_a_traceback(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    marks = [
        "[[badjson]]",
        "[[html]]",
        "[[choicesnotlist]]",
        "[[echokey=500]]",
        "[[lp=1000]]",
        "[[lp=str]]",
        "[[lp=nan]]",
        "[[usage=many]]",
        "[[echokey=200]]",
    ]
    replies = [("vulnerability", "fine [[rate=3]]")] + [("vulnerability", m) for m in marks]
    ws = make_workspace(tmp_path / "ws", replies)
    done = subprocess.run(
        cli(tmp_path / "ws", server, "--max-attempts", "2", "--json"),
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in out, done.stderr
    summary = json.loads(done.stdout)
    # 4 calls never got a chat completion (counted, retried by a rerun); 5 answers are invalid
    assert (summary["n_called"], summary["n_invalid"], summary["n_failed"]) == (6, 5, 4)
    assert "4 calls failed after retries (first: r000" in done.stderr
    assert "rerun the same command" in done.stderr
    assert f"Bearer {SECRET}" in server.authorizations  # the server had the key to echo
    assert "[redacted]" in done.stdout and SECRET not in out
    assert _secret_in_workspace(tmp_path / "ws") == []
    v = ws.read_sql("SELECT response_id, label, valid, score, raw FROM verdicts ORDER BY 1")
    v = v.set_index("response_id")
    assert list(v.index) == ["r0000", "r0005", "r0006", "r0007", "r0008", "r0009"]
    assert (v.loc["r0000", "label"], v.loc["r0000", "score"]) == ("unsafe", pytest.approx(0.9))
    bad = v.drop(index="r0000")  # never a class, never a score, the text kept
    assert bad["label"].isna().all() and bad["score"].isna().all() and (bad["valid"] == 0).all()
    assert bad["raw"].str.contains(r"\[untrusted answer: ", regex=True).sum() == 4
    assert bad.loc["r0009", "raw"] == '{"rating": 1, "key [redacted]"}'


def test_a_refusal_echoing_the_key_is_an_error_without_the_key(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    make_workspace(tmp_path / "ws", [("vulnerability", "[[echokey=401]]")])
    done = subprocess.run(
        cli(tmp_path / "ws", server),
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: the judge server at {server.base_url} refused ")
    assert "(401): " in done.stderr and "Incorrect API key provided: [redacted]" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert _secret_in_workspace(tmp_path / "ws") == []


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--concurrency", "0", "argument --concurrency: 0 must be 1 or more (calls in flight)"),
        ("--concurrency", "-2", "argument --concurrency: -2 must be 1 or more"),
        ("--max-attempts", "0", "argument --max-attempts: 0 must be 1 or more"),
        ("--max-tokens", "0", "argument --max-tokens: 0 must be 1 or more"),
        ("--timeout", "0", "argument --timeout: 0 must be a finite number, more than 0"),
        ("--timeout", "nan", "argument --timeout: nan must be a finite number, more than 0"),
        ("--temperature", "-1", "argument --temperature: -1 must be a finite number, 0 or more"),
        ("--price-in", "-0.5", "argument --price-in: -0.5 must be a finite number, 0 or more"),
        ("--price-out", "inf", "argument --price-out: inf must be a finite number, 0 or more"),
    ],
)
def test_meaningless_numbers_are_an_error_before_anything_runs(
    server: FakeOpenAI, tmp_path: Path, option: str, value: str, message: str
) -> None:
    make_workspace(tmp_path / "ws", [("vulnerability", "a [[rate=3]]")])
    done = subprocess.run(
        cli(tmp_path / "ws", server, f"{option}={value}"),
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"safecal calibrate run: error: {message}" in done.stderr
    assert sum(server.calls.values()) == 0


def _first_line(stream: IO[str]) -> queue.Queue[str]:
    """The stream's first line, delivered to a queue (``get(timeout=...)`` cannot hang)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    return lines


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_second_identical_run_waits_and_pays_for_nothing(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    n = 40
    make_workspace(tmp_path / "ws", [("vulnerability", f"q{k} [[rate=3]]") for k in range(n)])
    command = cli(tmp_path / "ws", server, "--concurrency", "2")
    server.hold = True  # the first run is mid-call, holding its run, until released
    first = subprocess.Popen(
        command, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _wait_for(lambda: sum(server.calls.values()) == 2)
    second = subprocess.Popen(
        command, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert second.stderr is not None
    waiting = _first_line(second.stderr).get(timeout=60)
    assert waiting.startswith("another process is running judge run fake-judge-")
    assert "waiting for it to finish" in waiting and sum(server.calls.values()) == 2
    server.hold = False
    out, err = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, err + err2
    # nothing was paid for twice: the second run took every verdict from the cache
    assert len(server.calls) == n and set(server.calls.values()) == {1}
    assert f"{n} responses, 0 from cache, {n} calls" in out
    assert f"{n} responses, {n} from cache, 0 calls" in out2


def test_a_waiting_run_takes_over_when_the_first_is_killed(
    server: FakeOpenAI, tmp_path: Path
) -> None:
    n = 40
    ws = make_workspace(tmp_path / "ws", [("vulnerability", f"q{k} [[rate=3]]") for k in range(n)])
    command = cli(tmp_path / "ws", server, "--concurrency", "2")
    first = subprocess.Popen(
        command, cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _wait_for(lambda: sum(server.answered.values()) >= 10)
    server.hold = True
    second = subprocess.Popen(
        command, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert second.stderr is not None
    assert "another process is running" in _first_line(second.stderr).get(timeout=60)
    first.send_signal(signal.SIGKILL)  # the kernel releases the lock with the process
    first.wait(10)
    server.hold = False
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert len(ws.read_sql("SELECT response_id FROM verdicts")) == n
    # paid twice at most: the calls in flight at the kill and those finished in the loop
    # iteration under way (2 + 2), as for any killed run; the rest came from the cache
    assert len(server.calls) == n and sum(server.calls.values()) - n <= 4
    assert f"{n} responses, " in out and ", 0 from cache" not in out
