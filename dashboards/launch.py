"""Start the dashboard as a ``streamlit run`` server and wait until it answers.

:func:`launch` is what ``safecal dashboard`` and ``safecal demo`` call::

    running = launch(workspace, port=None)       # a free port on 127.0.0.1
    print(running.url); ...; running.stop()

The server binds to ``host`` (127.0.0.1 unless told otherwise), runs headless and sends
no usage statistics.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from annotate.errors import InputError
from annotate.workspace import Workspace

APP = Path(__file__).resolve().parent / "app.py"
REPO = APP.parents[1]


@dataclass
class Dashboard:
    """A running dashboard: its URL and server process."""

    url: str
    process: subprocess.Popen[bytes]

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (this process only) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS reports free on ``host`` now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def command(workspace: str | os.PathLike[str], *, port: int, host: str = "127.0.0.1"
            ) -> list[str]:
    """The ``streamlit run`` command line of the app on ``workspace``."""
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.headless", "true", "--server.address", host, "--server.port", str(port),
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--", "--workspace", str(workspace)]


def environment() -> dict[str, str]:
    """This environment with the repository first on ``PYTHONPATH`` (so the app imports
    the same safecal as the caller)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def wait_until_up(url: str, process: subprocess.Popen[bytes], *, timeout: float = 60.0) -> None:
    """Poll Streamlit's health endpoint until it answers ``ok``."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the dashboard exited with status {process.returncode} "
                               "before answering")
        try:
            if httpx.get(url + "_stcore/health", timeout=2).text.strip() == "ok":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the dashboard did not answer at {url} within {timeout:.0f} s")


def launch(workspace: str | os.PathLike[str], *, port: int | None = None,
           host: str = "127.0.0.1", wait: bool = True, timeout: float = 60.0,
           quiet: bool = True) -> Dashboard:
    """Start the dashboard on ``workspace``; with ``wait``, return once it answers.

    ``port``: default a free one. ``quiet``: send the server's output to
    ``<workspace>/dashboard.log`` instead of this terminal. The caller stops it with
    :meth:`Dashboard.stop`.
    """
    ws = Workspace.open(workspace, create=False)  # a clear error before starting anything
    port = port or free_port(host)
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{port}/"
    out = open(ws.path / "dashboard.log", "ab") if quiet else None  # noqa: SIM115
    try:
        process = subprocess.Popen(command(ws.path, port=port, host=host), env=environment(),
                                   stdout=out, stderr=subprocess.STDOUT if out else None,
                                   cwd=ws.path)
    finally:
        if out:
            out.close()
    running = Dashboard(url=url, process=process)
    if wait:
        try:
            wait_until_up(url, process, timeout=timeout)
        except (RuntimeError, TimeoutError) as exc:
            running.stop()
            raise InputError(f"{exc}; see {ws.path / 'dashboard.log'}") from None
    return running
