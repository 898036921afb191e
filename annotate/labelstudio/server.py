"""A local Label Studio server for one workspace: start, stop, status.

Layout under the workspace::

    <workspace>/labelstudio/
        data/              LABEL_STUDIO_BASE_DATA_DIR (SQLite database, media, exports)
        server.json        pid, url, port, admin email, started_at (no secrets)
        credentials.json   admin password, API token and Django secret key (mode 0600)
        server.log         the server's stdout and stderr
    <workspace>/served/    Label Studio's document root: one link, ``images`` -> the
                           workspace's images folder, and nothing else

The server is ``python -m label_studio.server start`` bound to 127.0.0.1 on a port the
OS chooses, with the version check, analytics and Sentry off and local file serving
on. Label Studio Community lets any signed-in user (an annotator too) create a Local
Files storage on any folder under the document root and then download every file
under it through ``/data/local-files/``. So the document root is ``served/``, a folder
that holds only the link to the images: the credentials, the secret key, Label
Studio's own database and log, and the workspace database all live outside it, and
no storage anyone can create reaches them. (Label Studio normalises storage paths and
joins requested paths with Django's ``safe_join``, both lexically, so ``..`` cannot
climb out of the root through the link; the root itself cannot be a storage.) Each
project's storage is ``served/images``.
The first user and its legacy API token are created from environment variables (never
on the command line, where ``ps`` would show them); legacy tokens are enabled when the
organization is first created, so both the legacy token and personal access tokens
work. The secret key is fixed per workspace so sessions and personal access tokens
survive restarts.

Database: SQLite under ``data/`` by default; ``database="postgresql://user:password@host:port/name"``
(``safecal labelstudio start --database``, or ``SAFECAL_LABELSTUDIO_DATABASE``) runs
Label Studio on PostgreSQL instead, through its own variables (``DJANGO_DB=default``,
``POSTGRE_NAME``, ``POSTGRE_USER``, ``POSTGRE_PASSWORD``, ``POSTGRE_HOST``,
``POSTGRE_PORT``), set in the server's environment only. The URL (with its password) is
kept in ``credentials.json`` (0600) so later starts use the same database.

Nothing is installed at run time. :func:`stop_server` ends exactly the process it
started, by the PID in ``server.json``, after checking that this PID still runs
Label Studio on our data folder.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from safecal.annotate.errors import InputError

LS_DIR = "labelstudio"
#: Label Studio's document root under the workspace, and the one entry it holds
SERVED_DIR = "served"
SERVED_IMAGES = "images"
ADMIN_EMAIL = "admin@safecal.local"
START_TIMEOUT = 600.0
#: the folder holding the ``safecal`` package, so the server can load its settings
_PACKAGE_PARENT = Path(__file__).absolute().parents[3]


#: how long a start takes, said by every command that starts a server: measured on the
#: shared 2-core machine, 31 s for a start on an existing workspace and 201 s for the first
#: (database migrations) at load average 11 (earlier, less loaded: about a minute)
START_TIME = "about 30 s; the first start on a new workspace 1-3 minutes"


@dataclass(frozen=True)
class ServerInfo:
    """A running (or recorded) Label Studio server of a workspace."""

    url: str
    pid: int | None
    port: int
    email: str
    token: str
    password: str | None
    data_dir: Path
    log_path: Path
    started_here: bool = True


def ls_dir(workspace_path: Path) -> Path:
    return Path(workspace_path) / LS_DIR


def served_images(workspace_path: Path) -> Path:
    """The path Label Studio serves the images under (a Local Files storage's path)."""
    return Path(workspace_path).absolute() / SERVED_DIR / SERVED_IMAGES


def prepare_document_root(workspace_path: Path, images_dir: Path) -> Path:
    """Make ``<workspace>/served`` hold exactly one link, ``images`` -> ``images_dir``.

    Refuses (``InputError``) a ``served/`` folder that holds anything else: whatever
    sits there could be downloaded by any annotator.
    """
    root = Path(workspace_path).absolute() / SERVED_DIR
    root.mkdir(mode=0o755, exist_ok=True)
    link = root / SERVED_IMAGES
    target = Path(images_dir).absolute()
    extra = sorted(p.name for p in root.iterdir() if p.name != SERVED_IMAGES)
    if extra or (os.path.lexists(link) and not link.is_symlink()):
        raise InputError(
            f"{root} is Label Studio's document root and must hold only the link "
            f"'{SERVED_IMAGES}' to the images (any annotator can download what it holds); "
            f"it also holds {', '.join(extra) or f'a real {SERVED_IMAGES!r} entry'}: "
            "move that elsewhere and start again (a copy of the workspace made by a tool that "
            f"follows links turns the link into a folder: then delete {root} and start again)"
        )
    if link.is_symlink() and Path(os.readlink(link)) != target:
        link.unlink()
    if not link.is_symlink():
        link.symlink_to(target, target_is_directory=True)
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_private(path: Path, payload: dict) -> None:
    """Write a JSON file readable by the owner only (0600) from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=2)
    os.chmod(path, 0o600)


def load_credentials(workspace_path: Path) -> dict:
    """The admin credentials kept in ``labelstudio/credentials.json`` (mode 0600)."""
    return _read_json(ls_dir(workspace_path) / "credentials.json")


def _ensure_credentials(root: Path) -> dict:
    path = root / "credentials.json"
    creds = _read_json(path)
    if not creds:
        creds = {
            "email": ADMIN_EMAIL,
            "password": secrets.token_urlsafe(12),
            "token": secrets.token_hex(20),
            "secret_key": secrets.token_urlsafe(40),
        }
        _write_private(path, creds)
    return creds


def _is_our_process(pid: int, data_dir: Path) -> bool:
    """True if ``pid`` is alive and runs Label Studio on ``data_dir``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    if b"label_studio.server" not in cmdline:
        return False
    return f"LABEL_STUDIO_BASE_DATA_DIR={data_dir}".encode() in environ


def _healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def database_env(url: str) -> dict[str, str]:
    """Label Studio's PostgreSQL variables for ``postgresql://user:password@host:port/name``."""
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError as exc:
        raise InputError(f"--database: not a PostgreSQL URL ({exc})") from None
    name = unquote(parts.path.lstrip("/"))
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not name:
        raise InputError(
            "--database: expected postgresql://user:password@host:port/database "
            f"(got scheme {parts.scheme!r}, host {parts.hostname!r}, database {name!r})"
        )
    return {
        "DJANGO_DB": "default",
        "POSTGRE_NAME": name,
        "POSTGRE_USER": unquote(parts.username or "postgres"),
        "POSTGRE_PASSWORD": unquote(parts.password or ""),
        "POSTGRE_HOST": parts.hostname,
        "POSTGRE_PORT": str(port),
    }


def server_env(*, data_dir: Path, document_root: Path, creds: dict) -> dict[str, str]:
    """The environment a safecal-managed Label Studio runs with."""
    env = dict(os.environ)
    for key in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "DJANGO_DB", "POSTGRE_NAME",
                "POSTGRE_USER", "POSTGRE_PASSWORD", "POSTGRE_HOST", "POSTGRE_PORT"):  # fmt: skip
        env.pop(key, None)
    env.update(
        {
            "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
            "LATEST_VERSION_CHECK": "false",
            "COLLECT_ANALYTICS": "false",
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
            "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
            "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(document_root),
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "LABEL_STUDIO_USERNAME": creds["email"],
            "LABEL_STUDIO_PASSWORD": creds["password"],
            "LABEL_STUDIO_USER_TOKEN": creds["token"],
            "SECRET_KEY": creds["secret_key"],
            # the organization wall (annotate/labelstudio/ls_guard.py) and who the lead is
            "DJANGO_SETTINGS_MODULE": "safecal.annotate.labelstudio.ls_settings",
            "SAFECAL_LEAD_EMAIL": creds["email"],
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(_PACKAGE_PARENT), env.get("PYTHONPATH", "")) if p
            ),
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if creds.get("database"):
        env.update(database_env(creds["database"]))
    return env


def server_status(workspace_path: Path) -> ServerInfo | None:
    """The workspace's running server, or ``None`` when none runs."""
    root = ls_dir(workspace_path)
    state = _read_json(root / "server.json")
    if not state:
        return None
    data_dir = root / "data"
    pid = int(state.get("pid", 0))
    if not pid or not _is_our_process(pid, data_dir) or not _healthy(state["url"]):
        return None
    creds = load_credentials(workspace_path)
    return ServerInfo(
        url=state["url"],
        pid=pid,
        port=int(state["port"]),
        email=creds.get("email", ""),
        token=creds.get("token", ""),
        password=creds.get("password"),
        data_dir=data_dir,
        log_path=root / "server.log",
    )


def start_server(
    workspace_path: Path,
    *,
    images_dir: Path | None = None,
    port: int | None = None,
    template: Path | None = None,
    timeout: float = START_TIMEOUT,
    database: str | None = None,
) -> ServerInfo:
    """Start Label Studio for the workspace (or return the one already running).

    ``template``: a ``labelstudio/`` folder of an earlier (stopped) server, copied in
    when this workspace has none yet, so the database need not be migrated again
    (a start then takes seconds instead of about a minute).
    ``database``: a PostgreSQL URL (see the module docstring); kept for later starts.
    """
    workspace_path = Path(workspace_path).absolute()
    running = server_status(workspace_path)
    if running is not None:
        return running
    root = ls_dir(workspace_path)
    if template is not None and not (root / "data").exists():
        shutil.copytree(
            template,
            root,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("server.json", "server.log"),
        )
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    images_dir = Path(images_dir or workspace_path / "images").absolute()
    images_dir.mkdir(parents=True, exist_ok=True)
    document_root = prepare_document_root(workspace_path, images_dir)
    creds = _ensure_credentials(root)
    if database and database != creds.get("database"):
        database_env(database)  # refuse a malformed URL before anything starts
        creds["database"] = database
        _write_private(root / "credentials.json", creds)
    port = port or _free_port()
    log_path = root / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "label_studio.server",
        "start",
        "--no-browser",
        "--internal-host",
        "127.0.0.1",
        "--port",
        str(port),
        "--enable-legacy-api-token",
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            env=server_env(data_dir=data_dir, document_root=document_root, creds=creds),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=root,
        )
    url = f"http://127.0.0.1:{port}"
    (root / "server.json").write_text(
        json.dumps(
            {
                "pid": proc.pid,
                "port": port,
                "url": url,
                "email": creds["email"],
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            indent=2,
        )
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise InputError(
                f"Label Studio exited with status {proc.returncode} while starting; see {log_path}"
            )
        actual = _announced_port(log_path)
        if actual and actual != port:  # the server moved to another port
            port, url = actual, f"http://127.0.0.1:{actual}"
            state = _read_json(root / "server.json") | {"port": port, "url": url}
            (root / "server.json").write_text(json.dumps(state, indent=2))
        if _healthy(url):
            return ServerInfo(
                url=url,
                pid=proc.pid,
                port=port,
                email=creds["email"],
                token=creds["token"],
                password=creds["password"],
                data_dir=data_dir,
                log_path=log_path,
            )
        time.sleep(0.5)
    _terminate(proc.pid)
    raise InputError(f"Label Studio did not answer within {timeout:.0f} s; see {log_path}")


def _announced_port(log_path: Path) -> int | None:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return None
    found = re.search(r"Starting development server at http://127\.0\.0\.1:(\d+)/", text)
    return int(found.group(1)) if found else None


def _terminate(pid: int, *, grace: float = 15.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child: poll /proc instead
            done = 0 if Path(f"/proc/{pid}").exists() else pid
        if done:
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def stop_server(workspace_path: Path) -> bool:
    """Stop the server this workspace started (by its recorded PID); ``True`` if one ran."""
    root = ls_dir(Path(workspace_path).absolute())
    state = _read_json(root / "server.json")
    pid = int(state.get("pid", 0) or 0)
    ran = bool(pid) and _is_our_process(pid, root / "data")
    if ran:
        _terminate(pid)
    (root / "server.json").unlink(missing_ok=True)
    return ran
