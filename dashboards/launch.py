"""Start the dashboard as a ``streamlit run`` server and wait until it answers.

:func:`launch` is what ``safecal dashboard`` and ``safecal demo`` call::

    running = launch(workspace, port=None)       # a free port on 127.0.0.1
    print(running.url); ...; running.stop()      # or stop(workspace)

The server binds to ``host`` (127.0.0.1 unless told otherwise), runs headless, sends
no usage statistics and shows no Deploy button (``client.toolbarMode minimal``). Its
process id and URL are kept in ``<workspace>/dashboard.json`` while it runs, so
:func:`stop` can end it from another process (``safecal dashboard stop``; it checks
that the process is this app's ``streamlit run`` before ending it)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from safecal.annotate.errors import InputError
from safecal.annotate.store import Workspace

APP = Path(__file__).resolve().parent / "app.py"
REPO = APP.parents[1]
STATE = "dashboard.json"

#: dashboards started by this process, by workspace path (so :func:`stop` reaps them)
_RUNNING: dict[Path, Dashboard] = {}


@dataclass
class Dashboard:
    """A running dashboard: its URL and server process."""

    url: str
    process: subprocess.Popen[bytes]
    workspace: Path | None = None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (this process only) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.workspace is not None:
            _RUNNING.pop(self.workspace, None)
            state = self.workspace / STATE
            if _read_state(state).get("pid") == self.process.pid:
                state.unlink(missing_ok=True)


def _read_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _is_our_server(pid: int) -> bool:
    """Whether ``pid`` runs ``streamlit run`` on this app (Linux /proc; else assume not)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"streamlit" in cmdline and str(APP).encode() in cmdline


def stop(workspace: str | os.PathLike[str], *, timeout: float = 10.0) -> bool:
    """Stop the dashboard serving ``workspace`` (started by :func:`launch` here or in
    another process); returns whether one was running."""
    path = Path(workspace).absolute()
    running = _RUNNING.get(path)
    if running is not None:
        running.stop(timeout)
        return True
    state = path / STATE
    pid = _read_state(state).get("pid")
    stopped = False
    if isinstance(pid, int) and _is_our_server(pid):
        import signal

        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _is_our_server(pid):
            time.sleep(0.1)
        if _is_our_server(pid):
            os.kill(pid, signal.SIGKILL)
        stopped = True
    state.unlink(missing_ok=True)
    return stopped


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS reports free on ``host`` now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def command(workspace: str | os.PathLike[str], *, port: int, host: str = "127.0.0.1") -> list[str]:
    """The ``streamlit run`` command line of the app on ``workspace``."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",  # no Deploy button nor developer menu
        "minimal",
        "--",
        "--workspace",
        str(workspace),
    ]


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
            raise RuntimeError(
                f"the dashboard exited with status {process.returncode} before answering"
            )
        try:
            if httpx.get(url + "_stcore/health", timeout=2).text.strip() == "ok":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the dashboard did not answer at {url} within {timeout:.0f} s")


def launch(
    workspace: str | os.PathLike[str],
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    wait: bool = True,
    timeout: float = 60.0,
    quiet: bool = True,
) -> Dashboard:
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
        process = subprocess.Popen(
            command(ws.path, port=port, host=host),
            env=environment(),
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            cwd=ws.path,
        )
    finally:
        if out:
            out.close()
    running = Dashboard(url=url, process=process, workspace=ws.path)
    _RUNNING[ws.path] = running
    (ws.path / STATE).write_text(json.dumps({"pid": process.pid, "url": url}) + "\n")
    if wait:
        try:
            wait_until_up(url, process, timeout=timeout)
        except (RuntimeError, TimeoutError) as exc:
            running.stop()
            raise InputError(f"{exc}; see {ws.path / 'dashboard.log'}") from None
    return running
