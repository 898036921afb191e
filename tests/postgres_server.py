"""A real PostgreSQL server for the tests: Debian's postgresql, in a temporary folder.

:func:`start` runs ``initdb`` and ``pg_ctl start`` as an unprivileged user (PostgreSQL
refuses to run as root: as root, the user ``safecal-pg`` is created if missing), with
trust authentication, listening on 127.0.0.1 on a free port only. :meth:`Server.stop`
stops it and removes the folder. Each test gets a fresh database
(:meth:`Server.create_database`, optionally a copy of a template database).

Used by ``tests/conftest.py`` when ``SAFECAL_TEST_BACKEND=postgresql`` and by the
concurrency test and the PostgreSQL benchmark; runnable alone to try it::

    python tests/postgres_server.py   # starts, prints the URL, waits for Enter
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

USER = "safecal-pg"


def pg_bin() -> Path | None:
    """The folder of Debian's PostgreSQL programs (the newest version), if installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    return Path(found[-1]).parent if found else None


def _version(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except ValueError:
        return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _system_user() -> str | None:
    """The user the server runs as: ``None`` (this one) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            check=True,
            capture_output=True,
        )
    return USER


@dataclass
class Server:
    folder: Path
    port: int
    bin: Path
    run_as: str | None
    superuser: str
    _names: itertools.count = field(default_factory=itertools.count)
    created: list[str] = field(default_factory=list)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser on the maintenance database."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(sql)  # type: ignore[arg-type]

    def create_database(self, *, template: str | None = None, name: str | None = None) -> str:
        """A new, empty database (or a copy of ``template``); returns its URL."""
        name = name or f"t{os.getpid()}_{next(self._names)}"
        self.admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.created.append(name)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.remove(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Server:
    """initdb and start a server in a fresh temporary folder (a few seconds)."""
    binary = pg_bin()
    if binary is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    run_as = _system_user()
    folder = Path(tempfile.mkdtemp(prefix="safecal-pg-"))
    folder.chmod(0o755)
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    superuser = run_as or pwd.getpwuid(os.geteuid()).pw_name
    server = Server(folder, _free_port(), binary, run_as, superuser)
    data = folder / "data"
    server._run("initdb", "-D", str(data), "-A", "trust", "-U", superuser, "-E", "UTF8")
    options = (
        f"-c listen_addresses=127.0.0.1 -p {server.port} -c unix_socket_directories={folder} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        "-c max_connections=200 -c shared_buffers=256MB"
    )
    server._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
    return server


if __name__ == "__main__":
    s = start()
    try:
        input(f"{s.url()}  (Enter stops it)\n")
    finally:
        s.stop()
