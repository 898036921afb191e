"""The command line as a user runs it: a real subprocess, exit codes, messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def safecal(*args: str, cwd: Path | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "safecal", *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_ingest_from_the_command_line(example, tmp_path):
    ws = str(tmp_path / "ws")
    done = safecal(
        "ingest", "items", str(example.items), "--images", str(example.images), "--workspace", ws
    )
    assert done.returncode == 0, done.stderr
    assert "120 items read: 120 added" in done.stdout
    done = safecal("--workspace", ws, "ingest", "responses", *map(str, example.responses))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("240 responses read: 240 added") == 3


def test_bad_input_exits_2_without_traceback(example, tmp_path):
    ws = str(tmp_path / "ws")
    bad = tmp_path / "bad.csv"
    bad.write_text(example.items.read_text().replace("overrefusal", "over-refusal"))
    done = safecal("ingest", "items", str(bad), "--images", str(example.images), "-w", ws)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {bad}: nothing was ingested.")
    n_probes = example.items.read_text().count(",overrefusal,")
    assert n_probes > 0
    assert f"field usage must be one of vulnerability, overrefusal ({n_probes} rows)" in done.stderr
    assert "Traceback" not in done.stderr


def test_responses_without_a_workspace(tmp_path, example):
    done = safecal("ingest", "responses", str(example.responses[0]), "-w", str(tmp_path / "none"))
    assert done.returncode == 2 and "no safecal workspace" in done.stderr
    assert not (tmp_path / "none").exists()


def test_workspace_from_environment(example, tmp_path):
    import os

    env = {**os.environ, "SAFECAL_WORKSPACE": str(tmp_path / "from-env")}
    done = safecal("ingest", "items", str(example.items), "--images", str(example.images), env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "from-env" / "safecal.sqlite").is_file()


def test_help_lists_every_group():
    done = safecal("--help")
    for group in ("ingest", "annotate", "labelstudio", "calibrate", "curate", "dashboard", "demo"):
        assert group in done.stdout
