"""`safecal dashboard`: a foreground server on 127.0.0.1 that stops with its command."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from safecal.dashboards.launch import STATE, command, free_port

REPO = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (Linux /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def port_answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start_dashboard(workspace: Path, port: int) -> tuple[subprocess.Popen[str], int]:
    """``safecal dashboard`` in the foreground, once it has printed its address; and the
    server's process id from ``dashboard.json``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "safecal", "dashboard", "-w", str(workspace), "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("dashboard: "):
            break
    assert lines and lines[-1].startswith(f"dashboard: http://127.0.0.1:{port}/"), "".join(lines)
    pid = json.loads((workspace / STATE).read_text())["pid"]
    assert alive(pid) and port_answers(port)
    return proc, pid


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_dashboard_command_stops_its_server_on_a_signal(filled_workspace, signum):
    port = free_port()
    proc, pid = start_dashboard(filled_workspace.path, port)
    try:
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "dashboard stopped" in out, out
    assert not alive(pid) and not port_answers(port)
    assert not (filled_workspace.path / STATE).exists()


def test_dashboard_stop_command_ends_a_dashboard_started_elsewhere(filled_workspace):
    ws = filled_workspace.path
    port = free_port()
    proc, pid = start_dashboard(ws, port)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "safecal", "dashboard", "stop", "-w", str(ws)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("dashboard stopped"), done.stdout
        assert not alive(pid) and not port_answers(port)
        proc.wait(timeout=20)  # the foreground command ends with its server
    finally:
        if proc.poll() is None:
            proc.kill()
    again = subprocess.run(
        [sys.executable, "-m", "safecal", "-w", str(ws), "dashboard", "stop"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0 and again.stdout.startswith("no dashboard was running")


def test_dashboard_command_serves_and_stops(filled_workspace):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "safecal",
            "dashboard",
            "--workspace",
            str(filled_workspace.path),
            "--port",
            str(port),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = []
        for line in proc.stdout:  # the address is printed once the server answers
            lines.append(line)
            if line.startswith("dashboard: "):
                break
        url = f"http://127.0.0.1:{port}/"
        assert lines and lines[-1].startswith(f"dashboard: {url}"), "".join(lines)
        assert httpx.get(url + "_stcore/health", timeout=5).text == "ok"
        assert httpx.get(url, timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    # the server went with the command: the port is free again
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_dashboard_command_needs_a_workspace(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "safecal", "dashboard", "--workspace", str(tmp_path / "absent")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "no safecal workspace" in done.stderr
    assert "Traceback" not in done.stderr


def test_streamlit_command_binds_localhost_headless_without_statistics():
    cmd = command("/some/ws", port=8765)
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    assert cmd[cmd.index("--browser.gatherUsageStats") + 1] == "false"
    assert cmd[cmd.index("--client.toolbarMode") + 1] == "minimal"  # no Deploy button
    assert cmd[-2:] == ["--workspace", "/some/ws"]


def test_stop_ends_the_workspace_dashboard_from_here_or_elsewhere(filled_workspace):
    import importlib

    from safecal.dashboards.launch import STATE, launch, stop

    launch_module = importlib.import_module("safecal.dashboards.launch")  # the module, not launch()

    ws = filled_workspace.path
    running = launch(ws)
    try:
        assert running.url.startswith("http://127.0.0.1:")
        assert (ws / STATE).exists()
        assert stop(ws) is True  # started in this process
        assert running.process.poll() is not None and not (ws / STATE).exists()
        assert stop(ws) is False  # nothing left to stop
    finally:
        running.stop()

    again = launch(ws)
    try:
        launch_module._RUNNING.clear()  # as if another process had started it
        assert stop(ws) is True  # by the recorded, checked process id
        assert again.process.wait(timeout=15) is not None
    finally:
        again.stop()
    assert not (ws / STATE).exists()
