"""`safecal dashboard`: a foreground server on 127.0.0.1 that stops with its command."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from safecal.dashboards.launch import command, free_port

REPO = Path(__file__).resolve().parents[2]


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
