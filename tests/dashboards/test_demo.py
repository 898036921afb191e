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
    # the headline rests on the annotators' gold over the whole sample: every sampled
    # response has a gold label of its field, none of it copied from the truth file
    # except the reviewer's decisions, which are named as such
    field_of = {"vulnerability": "harmfulness", "overrefusal": "refusal"}
    sampled = ws.read_sql(
        "SELECT s.response_id, i.aspect FROM samples s JOIN responses r USING (response_id)"
        " JOIN items i USING (item_id) WHERE s.sample_id = 'demo'"
    )
    gold = ws.read_sql("SELECT response_id, field, method, adjudicator FROM gold")
    keys = set(zip(gold["response_id"], gold["field"], strict=True))
    missing = [r for r, a in zip(sampled["response_id"], sampled["aspect"], strict=True)
               if (r, field_of[a]) not in keys]  # fmt: skip
    assert len(sampled) == 240 and not missing
    methods = gold["method"].value_counts().to_dict()
    assert methods.get("dawid_skene", 0) > 150 and set(methods) <= {
        "dawid_skene", "honeypot", "adjudicated"}  # fmt: skip
    reviewed = gold[gold["method"] == "adjudicated"]
    assert set(reviewed["adjudicator"]) <= {"simulated reviewer (the example's truth)"}
    assert f"{len(reviewed)} uncertain units decided by the simulated reviewer" in out
    assert f"gold set: {len(gold)} gold labels" in out
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
