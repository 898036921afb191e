"""`safecal demo`: the README's main command, run as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from annotate import Workspace

REPO = Path(__file__).resolve().parents[2]


def test_demo_builds_a_workspace_and_summarises(tmp_path):
    target = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "dashboards.cli", "demo", "--workspace",
                           str(target)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "SYNTHETIC" in done.stdout
    assert "items per level-1 category x modality combination" in done.stdout
    ws = Workspace.open(target, create=False)
    assert ws.read_sql("SELECT count(*) AS n FROM items")["n"][0] == 120
    assert ws.read_sql("SELECT count(*) AS n FROM responses")["n"][0] == 720
    # a second run rebuilds the demo workspace instead of failing or duplicating
    again = subprocess.run([sys.executable, "-m", "dashboards.cli", "demo", "-w", str(target)],
                           cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr


def test_demo_never_deletes_a_real_workspace(tmp_path):
    Workspace.open(tmp_path / "mine")
    done = subprocess.run([sys.executable, "-m", "dashboards.cli", "demo", "-w",
                           str(tmp_path / "mine")], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 2 and "not made by `safecal demo`" in done.stderr
    assert (tmp_path / "mine" / "safecal.sqlite").exists()
