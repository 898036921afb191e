"""Label Studio on a real PostgreSQL started by the test (Debian's postgresql 15
binaries, run as an unprivileged user in a temporary folder, on 127.0.0.1).

The fixture here is deliberately minimal (initdb, pg_ctl, createdb); a shared one may
replace it."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from safecal.annotate.errors import InputError
from safecal.annotate.labelstudio.accounts import ensure_accounts, login
from safecal.annotate.labelstudio.client import connect_to
from safecal.annotate.labelstudio.server import (
    database_env,
    ls_dir,
    start_server,
    stop_server,
)
from safecal.annotate.store import Workspace

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres_user(cmd: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster; yields the URL of an empty database."""
    user = "nobody" if os.geteuid() == 0 else None  # initdb refuses to run as root
    base = Path(tempfile.mkdtemp(prefix="safecal-pg-", dir="/tmp"))
    if user:
        pw = pwd.getpwnam(user)
        os.chown(base, pw.pw_uid, pw.pw_gid)
    data, port = base / "data", _free_port()

    def run(*cmd: str) -> None:
        subprocess.run(
            _as_postgres_user([str(PG_BIN / cmd[0]), *cmd[1:]], user),
            check=True,
            capture_output=True,
            timeout=300,
        )

    run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    run(
        "pg_ctl", "-D", str(data), "-l", str(base / "log"), "-w", "-t", "120",
        "-o", f"-h 127.0.0.1 -p {port} -k {base}", "start",
    )  # fmt: skip
    try:
        run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "labelstudio")
        yield f"postgresql://postgres@127.0.0.1:{port}/labelstudio"
    finally:
        run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def _psql(url: str, sql: str) -> str:
    env = database_env(url)
    out = subprocess.run(
        [str(PG_BIN / "psql"), "-h", env["POSTGRE_HOST"], "-p", env["POSTGRE_PORT"],
         "-U", env["POSTGRE_USER"], "-d", env["POSTGRE_NAME"], "-At", "-c", sql],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return out.stdout.strip()


def test_database_url_maps_to_label_studios_variables():
    env = database_env("postgresql://lab%40x:p%2Fw@db.example:6543/ls")
    assert env == {
        "DJANGO_DB": "default",
        "POSTGRE_NAME": "ls",
        "POSTGRE_USER": "lab@x",
        "POSTGRE_PASSWORD": "p/w",
        "POSTGRE_HOST": "db.example",
        "POSTGRE_PORT": "6543",
    }
    for bad in ("mysql://h/db", "postgresql://host", "postgresql://h:notaport/db"):
        with pytest.raises(InputError, match="--database"):
            database_env(bad)


def test_label_studio_runs_on_postgresql(postgres_url, tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    info = start_server(ws.path, images_dir=ws.images_dir, database=postgres_url)
    try:
        conn = connect_to(info.url, info.token, server_key="workspace")
        conn.client.projects.create(title="on postgres")
        # the data is in PostgreSQL, and there is no SQLite database
        assert _psql(postgres_url, "SELECT title FROM project") == "on postgres"
        assert not (ls_dir(ws.path) / "data" / "label_studio.sqlite3").exists()
        # accounts and their organizations (made inside the server's Django) too
        account = ensure_accounts(ws, conn, ["pg@test.org"])[0]
        assert _psql(
            postgres_url, "SELECT title FROM organization WHERE title LIKE 'safecal%'"
        ) == ("safecal annotator: pg@test.org")
        login(info.url, account.email, account.password or "").close()
    finally:
        stop_server(ws.path)
    # a later start without the URL uses the same database (kept in credentials.json)
    again = start_server(ws.path, images_dir=ws.images_dir)
    try:
        conn = connect_to(again.url, again.token, server_key="workspace")
        assert [p.title for p in conn.client.projects.list()] == ["on postgres"]
    finally:
        stop_server(ws.path)
    assert (ls_dir(ws.path) / "credentials.json").stat().st_mode & 0o077 == 0
