"""Faults: an unreachable server, a server killed in the middle of a push, a malformed
export; and start / status / stop through the command line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from safecal.annotate.assign import plan_assignments
from safecal.annotate.errors import InputError
from safecal.annotate.labelstudio.client import connect, connect_to
from safecal.annotate.labelstudio.pull import parse_export
from safecal.annotate.labelstudio.push import push
from safecal.annotate.labelstudio.server import server_status, start_server, stop_server
from safecal.annotate.sampling import draw_sample
from tests.annotate.fixtures import populate
from tests.labelstudio_server import use_project_organization

REPO = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "safecal", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def test_unreachable_server_gives_a_clear_message(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(InputError, match=f"cannot reach Label Studio at {url}"):
        connect_to(url, "whatever")
    populate(tmp_path / "ws", n_items=2)
    done = _cli(
        "annotate",
        "pull",
        "-w",
        str(tmp_path / "ws"),
        env={"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": "secret-key-123"},
    )
    assert done.returncode == 2
    assert "cannot reach Label Studio" in done.stderr and "Traceback" not in done.stderr
    assert "secret-key-123" not in done.stderr + done.stdout
    # no server at all for this workspace
    with pytest.raises(InputError, match="safecal labelstudio start"):
        connect(tmp_path / "ws")


def test_malformed_export_is_reported():
    with pytest.raises(InputError, match="project 7: the export is not valid JSON"):
        parse_export(b"<html>502 Bad Gateway</html>", project_id=7)
    with pytest.raises(InputError, match="not a list of tasks"):
        parse_export(b'{"detail": "oops"}', project_id=7)
    with pytest.raises(InputError, match="task #1 lacks id / data / annotations"):
        parse_export(b'[{"id": 1, "data": {}, "annotations": []}, {"data": {}}]', project_id=7)


def test_server_killed_mid_push_then_rerun(ls_template, tmp_path):
    ws = populate(tmp_path / "ws", n_items=20)
    draw_sample(ws, n=40, by=("model",), seed=1, sample_id="k")
    plan = plan_assignments(
        ws, "k", ["k1@test.org", "k2@test.org"], overlap=0.25, honeypot_rate=0, seed=1
    )
    info = start_server(ws.path, images_dir=ws.images_dir, template=ls_template)
    try:
        # the CLI sees the same server; status exits 0
        status = _cli("labelstudio", "status", "-w", str(ws.path))
        assert status.returncode == 0 and info.url in status.stdout
        conn = connect(ws.path)
        done: list[int] = []

        def kill_after_two_batches(n: int) -> None:
            done.append(n)
            if len(done) == 2:
                os.kill(info.pid, signal.SIGKILL)

        with pytest.raises(InputError, match="cannot reach Label Studio"):
            push(ws, conn, "k", batch_size=4, progress=kill_after_two_batches)
        assert server_status(ws.path) is None
        pushed_before = len(ws.read_sql("SELECT * FROM ls_tasks"))
        assert 0 < pushed_before < len(plan.assignments)
        # restart on the same data and push again: nothing lost, nothing twice
        info = start_server(ws.path, images_dir=ws.images_dir)
        conn = connect(ws.path)
        rep = push(ws, conn, "k", batch_size=4)
        assert rep.already == pushed_before
        assert rep.created + rep.already + rep.recovered == len(plan.assignments)
        for (annotator, task_type), pid in rep.projects.items():
            use_project_organization(ws, conn, pid)
            units = [t.data["safecal_unit"] for t in conn.client.tasks.list(project=pid)]
            a = plan.assignments
            mine = a[(a["annotator"] == annotator) & (a["task_type"] == task_type)]
            assert sorted(units) == sorted(mine["unit_id"])
        pid = info.pid
        stopped = _cli("labelstudio", "stop", "-w", str(ws.path))
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert (
            not Path(f"/proc/{pid}").exists()
            or b"label_studio" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
        assert _cli("labelstudio", "status", "-w", str(ws.path)).returncode == 1
    finally:
        stop_server(ws.path)
