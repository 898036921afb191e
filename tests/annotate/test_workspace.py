from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from safecal.annotate import SCHEMA_VERSION, InputError, Workspace, resolve_workspace


@pytest.mark.sqlite  # SQLite's own pragmas and files
def test_new_workspace_has_schema_and_wal(tmp_path):
    ws = Workspace.open(tmp_path / "w")
    assert ws.schema_version() == SCHEMA_VERSION
    con = ws.connect()
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "items",
        "responses",
        "samples",
        "annotations",
        "gold",
        "judge_runs",
        "verdicts",
    } <= tables
    assert ws.images_dir.is_dir()


def test_resolve_workspace_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("SAFECAL_WORKSPACE", str(tmp_path / "env"))
    assert resolve_workspace("given").name == "given"
    assert resolve_workspace(None) == tmp_path / "env"
    monkeypatch.delenv("SAFECAL_WORKSPACE")
    assert resolve_workspace(None).name == "safecal-workspace"


@pytest.mark.sqlite  # SQLite's own pragmas and files
def test_newer_schema_is_refused(tmp_path):
    ws = Workspace.open(tmp_path / "w")
    con = sqlite3.connect(ws.db_path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(InputError, match="newer than this safecal"):
        Workspace.open(ws.path)


def test_missing_workspace_without_create(tmp_path):
    with pytest.raises(InputError, match="no safecal workspace"):
        Workspace.open(tmp_path / "nothing", create=False)


def test_not_a_database(tmp_path):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "safecal.sqlite").write_text("this is not sqlite" * 100)
    with pytest.raises(InputError, match="not a usable safecal database"):
        Workspace.open(tmp_path / "w")


def test_transaction_rolls_back(tmp_path):
    ws = Workspace.open(tmp_path / "w")
    with pytest.raises(RuntimeError), ws.transaction() as con:
        con.execute("INSERT INTO meta VALUES ('k', 'v')")
        raise RuntimeError
    assert ws.read_sql("SELECT * FROM meta WHERE key = 'k'").empty


def test_two_processes_write_at_once(tmp_path):
    """WAL plus a busy timeout: two writer processes both land all their rows."""
    ws = Workspace.open(tmp_path / "w")
    script = (
        "import sys\n"
        "from annotate import Workspace\n"
        "ws = Workspace.open(sys.argv[1], create=False)\n"
        "for i in range(200):\n"
        "    with ws.transaction() as con:\n"
        "        con.execute('INSERT INTO meta VALUES (?, ?)', (sys.argv[2] + str(i), 'x'))\n"
    )
    repo = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(ws.path), tag], cwd=repo)
        for tag in ("a", "b")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert len(ws.read_sql("SELECT key FROM meta WHERE value = 'x'")) == 400


def test_a_url_of_another_database_is_refused_clearly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite:///x.db", "mysql://me:pw@db/safecal"):
        with pytest.raises(InputError, match="is not a database safecal can use") as err:
            Workspace.open(url)
        assert "pw@" not in str(err.value)  # a URL may carry a password
    assert not any(tmp_path.iterdir())  # no folder named after the URL
