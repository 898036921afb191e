"""A workspace in a PostgreSQL database (a real server: tests/postgres_server.py).

These run on every pass (the server starts once per session): opening by URL, the
files folder that remembers its database, passwords kept out of files and messages,
migrations, the SQL rewrite, and a reader not waiting for a writer.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from safecal.annotate import SCHEMA_VERSION, InputError, Workspace
from safecal.annotate.store import DB_NAME, URL_FILE
from safecal.annotate.store.backend import redact, to_postgres, without_password
from safecal.annotate.store.schema import migration_statements

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def database(postgres) -> str:
    return postgres.create_database()


def test_a_url_opens_a_workspace_with_its_files_beside_it(database, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ws = Workspace.open(database)
    assert ws.dialect == "postgresql" and ws.schema_version() == SCHEMA_VERSION
    assert ws.path == tmp_path / "safecal-files" and ws.images_dir.is_dir()
    assert (ws.path / URL_FILE).read_text().strip() == database
    again = Workspace.open(ws.path, create=False)  # the folder remembers its database
    assert again.url == database
    with ws.transaction() as con:
        con.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
    assert again.read_sql("SELECT value FROM meta WHERE key = ?", ("k",))["value"].tolist() == ["v"]
    monkeypatch.setenv("SAFECAL_FILES", str(tmp_path / "elsewhere"))
    assert Workspace.open(database).path == tmp_path / "elsewhere"


def test_the_files_folder_of_another_database_or_of_sqlite_is_refused(
    postgres, database, tmp_path, monkeypatch
):
    monkeypatch.setenv("SAFECAL_FILES", str(tmp_path / "files"))
    Workspace.open(database)
    other = postgres.create_database()
    with pytest.raises(InputError, match="holds the files of another database"):
        Workspace.open(other)
    (tmp_path / "lite").mkdir()  # a SQLite workspace's folder (its database file)
    sqlite3.connect(tmp_path / "lite" / DB_NAME).execute("CREATE TABLE t (x)")
    monkeypatch.setenv("SAFECAL_FILES", str(tmp_path / "lite"))
    with pytest.raises(InputError, match="holds a SQLite workspace"):
        Workspace.open(other)


def test_an_empty_database_without_create_is_not_a_workspace(database, tmp_path, monkeypatch):
    monkeypatch.setenv("SAFECAL_FILES", str(tmp_path / "files"))
    with pytest.raises(InputError, match="no safecal workspace in this database"):
        Workspace.open(database, create=False)
    assert not (tmp_path / "files").exists()


def test_a_password_is_never_written_or_shown(postgres, tmp_path, monkeypatch):
    """The test server trusts 127.0.0.1, so any password is accepted: what matters here
    is where it goes (nowhere but the connection)."""
    name = postgres.create_database().rsplit("/", 1)[1]
    url = f"postgresql://{postgres.superuser}:pw-s3cret@127.0.0.1:{postgres.port}/{name}"
    monkeypatch.setenv("SAFECAL_FILES", str(tmp_path / "files"))
    ws = Workspace.open(url)
    assert ws.url == url  # kept for connecting, in memory only
    kept = (ws.path / URL_FILE).read_text().strip()
    assert kept == f"postgresql://{postgres.superuser}@127.0.0.1:{postgres.port}/{name}"
    assert "s3cret" not in repr(ws) and "s3cret" not in ws.location
    empty = url.replace(name, postgres.create_database().rsplit("/", 1)[1])
    monkeypatch.setenv("SAFECAL_FILES", str(tmp_path / "other"))
    with pytest.raises(InputError, match="no safecal workspace") as err:
        Workspace.open(empty, create=False)
    assert "s3cret" not in str(err.value) and "***" in str(err.value)
    done = subprocess.run(
        [sys.executable, "-m", "safecal", "-w", empty, "calibrate", "run", "--judge", "keyword"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
    )
    assert done.returncode == 2 and "error:" in done.stderr
    assert "s3cret" not in done.stdout + done.stderr
    assert without_password(url) == kept and redact(url).count("***") == 1


def test_messages_name_a_database_workspace_by_its_url_without_password(
    postgres, tmp_path, monkeypatch, capsys
):
    """A command's message about a PostgreSQL workspace names the database (the URL with
    ``***`` for its password), not the files folder beside it."""
    from safecal.cli import main

    name = postgres.create_database().rsplit("/", 1)[1]
    url = f"postgresql://{postgres.superuser}:pw-s3cret@127.0.0.1:{postgres.port}/{name}"
    shown = f"postgresql://{postgres.superuser}:***@127.0.0.1:{postgres.port}/{name}"
    files = tmp_path / "files"
    monkeypatch.setenv("SAFECAL_FILES", str(files))
    Workspace.open(url)  # an empty workspace: no responses, no labels, no dashboard
    commands = (
        (["calibrate", "run", "--judge", "keyword"], 2, f"error: {shown}: no responses to judge"),
        (["dashboard", "stop"], 0, f"no dashboard was running for {shown}"),
    )
    for command, code, message in commands:
        assert main(["-w", url, *command]) == code
        out = capsys.readouterr()
        assert message in out.out + out.err, (command, out)
        assert "s3cret" not in out.out + out.err and str(files) not in out.out + out.err


def test_an_unreachable_server_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SAFECAL_FILES", str(tmp_path / "files"))
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError, match="cannot connect") as err:
        Workspace.open(f"postgresql://me:hunter2@127.0.0.1:{port}/db")
    assert "hunter2" not in str(err.value) and not (tmp_path / "files").exists()


def test_a_newer_schema_is_refused(database, tmp_path, monkeypatch):
    monkeypatch.setenv("SAFECAL_FILES", str(tmp_path / "files"))
    ws = Workspace.open(database)
    with ws.transaction() as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(InputError, match="newer than this safecal"):
        Workspace.open(database)


def test_version_2_keeps_the_newest_of_duplicate_item_labels(database, tmp_path, monkeypatch):
    """Migration 2 on PostgreSQL (ctid instead of rowid) from a version-1 database."""
    monkeypatch.setenv("SAFECAL_FILES", str(tmp_path / "files"))
    with psycopg.connect(database, autocommit=True) as con:
        for statement in migration_statements(1, "postgresql"):
            con.execute(statement)  # type: ignore[arg-type]
        con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        for label in ("good", "bad"):  # version 1 let one annotator hold both
            con.execute(
                "INSERT INTO annotations (item_id, annotator, field, label) "
                "VALUES ('i1', 'ann', 'query_quality', %s)",
                (label,),
            )
    ws = Workspace.open(database, create=False)
    assert ws.schema_version() == SCHEMA_VERSION
    assert ws.read_sql("SELECT label FROM annotations")["label"].tolist() == ["bad"]
    with pytest.raises(psycopg.errors.UniqueViolation), ws.transaction() as con:
        con.execute(
            "INSERT INTO annotations (item_id, annotator, field, label) "
            "VALUES ('i1', 'ann', 'query_quality', 'good')"
        )


def test_version_7_trades_the_verdict_foreign_keys_for_statement_checks(
    database, tmp_path, monkeypatch
):
    """Migration 7 on a version-6 database holding a verdict: the verdict stays, the two
    foreign keys of ``verdicts`` go, and their triggers take over (what they refuse:
    test_verdict_references.py, on both backends)."""
    monkeypatch.setenv("SAFECAL_FILES", str(tmp_path / "files"))
    with psycopg.connect(database, autocommit=True) as con:
        for version in range(1, 7):
            for statement in migration_statements(version, "postgresql"):
                con.execute(statement)  # type: ignore[arg-type]
        con.execute("INSERT INTO meta VALUES ('schema_version', '6')")
        con.execute(
            "INSERT INTO items (item_id, text, aspect, img_risk, text_risk, modality, source, "
            "content_hash, ingested_at) VALUES ('i1', 'q', 'vulnerability', 1, 1, 'RIRT', "
            "'f', 'h', 't')"
        )
        con.execute(
            "INSERT INTO responses (response_id, item_id, model, language, response, source, "
            "content_hash, ingested_at) VALUES ('a1', 'i1', 'm', 'en', 'text', 'f', 'h', 't')"
        )
        con.execute(
            "INSERT INTO judge_runs (run_id, judge, kind, started_at) VALUES ('r', 'j', 'x', 't')"
        )
        con.execute(
            "INSERT INTO verdicts (run_id, response_id, field, label, valid) "
            "VALUES ('r', 'a1', 'harmfulness', 'safe', 1)"
        )
    ws = Workspace.open(database, create=False)
    assert ws.schema_version() == SCHEMA_VERSION >= 7
    assert ws.read_sql("SELECT response_id FROM verdicts")["response_id"].tolist() == ["a1"]
    keys = ws.read_sql(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'verdicts'::regclass AND contype = 'f'"
    )
    assert keys.empty
    triggers = ws.read_sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname")[
        "tgname"
    ].tolist()
    assert triggers == [
        "judge_runs_in_verdicts",
        "judge_runs_key_in_verdicts",
        "responses_in_verdicts",
        "responses_key_in_verdicts",
        "verdicts_key_update",
        "verdicts_refs",
    ]
    with pytest.raises(psycopg.errors.ForeignKeyViolation), ws.transaction() as wcon:
        wcon.execute("DELETE FROM responses")


def test_the_rewrite_of_sqlite_statements():
    assert to_postgres("SELECT a FROM t WHERE b = ? AND c LIKE 'x%?'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE 'x%%?'"
    )
    assert to_postgres("UPDATE t SET a = :a WHERE k = :k") == (
        "UPDATE t SET a = %(a)s WHERE k = %(k)s"
    )
    assert to_postgres("SELECT x::text FROM t WHERE a IS ? AND b IS NULL") == (
        "SELECT x::text FROM t WHERE a IS NOT DISTINCT FROM %s AND b IS NULL"
    )
    assert to_postgres("INSERT OR IGNORE INTO t (a, b) VALUES (?, ?)") == (
        "INSERT INTO t (a, b) VALUES (%s, %s) ON CONFLICT DO NOTHING"
    )
    assert to_postgres("INSERT OR REPLACE INTO judge_cache (config_key, input_key, label) "
                       "VALUES (?, ?, ?)") == (
        "INSERT INTO judge_cache (config_key, input_key, label) VALUES (%s, %s, %s) "
        "ON CONFLICT (config_key, input_key) DO UPDATE SET label = excluded.label"
    )  # fmt: skip


def test_a_reader_does_not_wait_for_a_writer(database, tmp_path, monkeypatch):
    monkeypatch.setenv("SAFECAL_FILES", str(tmp_path / "files"))
    ws = Workspace.open(database)
    with ws.transaction() as con:
        con.execute("INSERT INTO meta (key, value) VALUES ('held', 'yes')")
        start = time.monotonic()
        other = Workspace.open(ws.path, create=False)
        assert other.read_sql("SELECT value FROM meta WHERE key = 'held'").empty
        assert time.monotonic() - start < 5
    assert not other.read_sql("SELECT value FROM meta WHERE key = 'held'").empty
