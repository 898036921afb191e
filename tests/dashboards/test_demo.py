"""`safecal demo`: the README's main command, run as a user would."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from safecal.annotate import SCHEMA_VERSION, Workspace
from safecal.annotate.example.generate import ANNOTATORS
from safecal.annotate.example.labeling import DEMO_REVIEWER
from safecal.dashboards.launch import STATE
from tests import workspaces

REPO = Path(__file__).resolve().parents[2]


def demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "safecal", "demo", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_demo_runs_the_loop_without_servers(tmp_path):
    target = tmp_path / "demo"
    given, env = workspaces.demo_target(target)  # on PostgreSQL: a URL, files in target
    done = demo("--workspace", given, "--no-labelstudio", "--no-dashboard", "--exit", env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "SYNTHETIC" in out
    for step in (
        "== 1. ingest",
        "== 2. annotation",
        "== 3. judges",
        "== 4. corrected rates",
        "== 5. curation",
    ):
        assert step in out
    ws = Workspace.open(target, create=False)
    assert ws.dialect == workspaces.BACKEND
    count = lambda table: int(ws.read_sql(f"SELECT count(*) AS n FROM {table}")["n"][0])  # noqa: E731
    assert (count("items"), count("responses")) == (120, 720)
    assert count("gold") > 0 and count("samples") > 0
    # the headline rests on the annotators' gold over the whole sample: every sampled
    # response has a gold label of its field, none of it copied from the truth file
    # except the reviewer's decisions, which are named as such
    field_of = {"vulnerability": "harmfulness", "overrefusal": "refusal"}
    sampled = ws.read_sql(
        "SELECT s.response_id, i.aspect FROM samples s JOIN responses r USING (response_id)"
        " JOIN items i USING (item_id) WHERE s.sample_id = 'demo'"
    )
    gold = ws.read_sql("SELECT response_id, field, method, adjudicator FROM gold")
    keys = set(zip(gold["response_id"], gold["field"], strict=True))
    missing = [r for r, a in zip(sampled["response_id"], sampled["aspect"], strict=True)
               if (r, field_of[a]) not in keys]  # fmt: skip
    assert len(sampled) == 240 and not missing
    methods = gold["method"].value_counts().to_dict()
    assert methods.get("dawid_skene", 0) > 150 and set(methods) <= {
        "dawid_skene", "honeypot", "adjudicated"}  # fmt: skip
    reviewed = gold[gold["method"] == "adjudicated"]
    assert set(reviewed["adjudicator"]) <= {DEMO_REVIEWER}
    assert f"{len(reviewed)} uncertain units decided by the simulated reviewer" in out
    # the people are the example's simulated annotators, by the names they log in with
    people = ws.read_sql("SELECT DISTINCT annotator FROM annotations")["annotator"]
    assert set(people) == set(ANNOTATORS)
    assert f"gold set: {len(gold)} gold labels" in out
    assert count("judge_runs") == 2 and count("verdicts") == 2 * 720
    card = target / "reports" / "judge-card.html"
    assert card.is_file() and "<script src=" not in card.read_text()
    cells = pd.read_csv(target / "reports" / "harmfulness-cells.csv")
    assert set(cells["model"]) == {"aurora-vl-7b", "borealis-vl-13b", "cirrus-vl-72b"}
    assert {"total (pooled)", "total (mean of cells)"} <= set(cells["cell"])
    curation = pd.read_csv(target / "reports" / "curation" / "curation.csv", dtype=str)
    planted = pd.read_csv(target / "example-data" / "planted.csv", dtype=str)
    flagged = set(curation.loc[curation["decision"] != "keep", "item_id"])
    assert set(planted["item_id"]) <= flagged
    # a second run rebuilds the demo workspace instead of failing or duplicating
    again = demo("-w", given, "--no-labelstudio", "--no-dashboard", "--exit", env=env)
    assert again.returncode == 0, again.stderr
    # it ends with the commands exploring its workspace, each with -w, and they work
    printed = [line.strip() for line in out.splitlines() if line.startswith("  safecal ")]
    assert out.rstrip().endswith(printed[-1])
    assert len(printed) >= 5 and all(f"-w {target}" in c for c in printed)
    assert any(c.startswith("safecal dashboard stop -w") for c in printed)
    for line in printed:
        if line.startswith("safecal dashboard"):
            continue  # serving ones: tested in test_dashboard_cli.py
        words = shlex.split(line)
        ran = subprocess.run(
            [sys.executable, "-m", "safecal", *words[1:]],
            cwd=tmp_path,  # `annotate export ... gold.csv` writes there
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert ran.returncode == 0, f"{line}: {ran.stderr}"
        assert ran.stdout.strip(), line


def test_demo_never_deletes_a_real_workspace(tmp_path):
    mine = Workspace.open(tmp_path / "mine")
    done = demo("-w", str(tmp_path / "mine"), "--exit")
    assert done.returncode == 2 and "not made by `safecal demo`" in done.stderr
    assert Workspace.open(tmp_path / "mine", create=False).schema_version() == SCHEMA_VERSION
    if mine.url is not None:  # PostgreSQL: the database itself, given by URL, is refused too
        files = tmp_path / "files"
        done = demo("-w", mine.url, "--exit", env={"SAFECAL_FILES": str(files)})
        assert done.returncode == 2 and "not made by `safecal demo`" in done.stderr
        assert mine.schema_version() == SCHEMA_VERSION and not files.exists()


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "_stcore/health", timeout=2).text.strip() == "ok"
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_demo_stops_its_dashboard_on_a_signal(tmp_path, signum):
    target = tmp_path / "demo"
    given, env = workspaces.demo_target(target)
    proc = subprocess.Popen(
        [sys.executable, "-m", "safecal", "demo", "-w", given, "--no-labelstudio"],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:  # the demo serves once it says so
            lines.append(line)
            if line.startswith("serving;"):
                break
        out = "".join(lines)
        assert lines and lines[-1].startswith("serving;"), out
        url = next(x.split(": ", 1)[1].strip() for x in lines if x.startswith("dashboard: "))
        pid = json.loads((target / STATE).read_text())["pid"]
        assert _alive(pid) and _answers(url)
        assert f"safecal dashboard stop -w {target}" in out  # the next commands came first
        proc.send_signal(signum)
        start = time.monotonic()
        rest, _ = proc.communicate(timeout=15)
        print(f"{signal.Signals(signum).name}: exited in {time.monotonic() - start:.1f} s")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, rest
    assert "stopping" in rest and "servers stopped" in rest
    assert not _alive(pid), "the dashboard server outlived the demo"
    assert not _answers(url)
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # free again
    assert not (target / STATE).exists()
