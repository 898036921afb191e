"""`safecal demo`: the README's main command, run as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from safecal.annotate import Workspace

REPO = Path(__file__).resolve().parents[2]


def demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "safecal", "demo", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_demo_runs_the_loop_without_servers(tmp_path):
    target = tmp_path / "demo"
    done = demo("--workspace", str(target), "--no-labelstudio", "--no-dashboard", "--exit")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "SYNTHETIC" in out
    for step in (
        "== 1. ingest",
        "== 2. annotation",
        "== 3. judges",
        "== 4. corrected rates",
        "== 5. curation",
    ):
        assert step in out
    ws = Workspace.open(target, create=False)
    count = lambda table: int(ws.read_sql(f"SELECT count(*) AS n FROM {table}")["n"][0])  # noqa: E731
    assert (count("items"), count("responses")) == (120, 720)
    assert count("gold") > 0 and count("samples") > 0
    assert count("judge_runs") == 2 and count("verdicts") == 2 * 720
    card = target / "reports" / "judge-card.html"
    assert card.is_file() and "<script src=" not in card.read_text()
    cells = pd.read_csv(target / "reports" / "harmfulness-cells.csv")
    assert set(cells["model"]) == {"aurora-vl-7b", "borealis-vl-13b", "cirrus-vl-72b"}
    assert {"total (pooled)", "total (mean of cells)"} <= set(cells["cell"])
    curation = pd.read_csv(target / "reports" / "curation" / "curation.csv", dtype=str)
    planted = pd.read_csv(target / "example-data" / "planted.csv", dtype=str)
    flagged = set(curation.loc[curation["decision"] != "keep", "item_id"])
    assert set(planted["item_id"]) <= flagged
    # a second run rebuilds the demo workspace instead of failing or duplicating
    again = demo("-w", str(target), "--no-labelstudio", "--no-dashboard", "--exit")
    assert again.returncode == 0, again.stderr


def test_demo_never_deletes_a_real_workspace(tmp_path):
    Workspace.open(tmp_path / "mine")
    done = demo("-w", str(tmp_path / "mine"), "--exit")
    assert done.returncode == 2 and "not made by `safecal demo`" in done.stderr
    assert (tmp_path / "mine" / "safecal.sqlite").exists()
