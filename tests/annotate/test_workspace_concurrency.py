"""Several processes on one workspace at once.

- A reader never waits for a writer: with another process holding a write
  transaction, opening the workspace and reading take well under the 30 s busy timeout.
- Four writers at once (labels imported, a judge's verdicts imported, the keyword judge
  run, a sample drawn), each its own ``safecal`` process: every table ends exactly as
  when the same commands run one after another: nothing lost, nothing twice.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from safecal.annotate import Workspace

REPO = Path(__file__).resolve().parents[2]
TABLES = ("annotations", "judge_runs", "verdicts", "judge_cache", "samples")


def _commands(ws: Path, example) -> list[list[str]]:
    base = [sys.executable, "-m", "safecal", "-w", str(ws)]
    return [
        [*base, "annotate", "import", str(example.human_labels)],
        [*base, "calibrate", "run", "--judge", "imported", "--name", "example-vlm-judge",
         "--file", str(example.judge_verdicts), "--no-progress"],
        [*base, "calibrate", "run", "--judge", "keyword", "--no-progress"],
        [*base, "annotate", "sample", "--n", "200", "--by", "model,language", "--seed", "3",
         "--sample-id", "s1"],
    ]  # fmt: skip


def _counts(ws: Path) -> dict[str, int]:
    con = sqlite3.connect(ws / "safecal.sqlite")
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def _content(ws: Path) -> dict[str, list[tuple]]:
    """Each table's rows without run ids and timestamps (which differ between runs)."""
    con = sqlite3.connect(ws / "safecal.sqlite")
    try:
        return {
            "annotations": sorted(
                con.execute("SELECT response_id, item_id, annotator, field, label FROM annotations")
            ),
            "verdicts": sorted(
                con.execute(
                    "SELECT j.judge, v.response_id, v.field, v.label, v.valid, v.score"
                    " FROM verdicts v JOIN judge_runs j USING (run_id)"
                )
            ),
            "samples": sorted(
                con.execute("SELECT sample_id, response_id, stratum, inclusion_prob FROM samples")
            ),
        }
    finally:
        con.close()


def test_reading_does_not_wait_for_a_writer(example_workspace):
    holder = sqlite3.connect(example_workspace.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO meta (key, value) VALUES ('held', 'yes')")
    try:
        start = time.monotonic()
        ws = Workspace.open(example_workspace.path, create=False)
        n = int(ws.read_sql("SELECT count(*) AS n FROM responses")["n"].iloc[0])
        done = subprocess.run(
            [sys.executable, "-m", "safecal", "-w", str(ws.path), "annotate", "export",
             str(ws.path.parent / "gold.csv")],
            capture_output=True, text=True, timeout=120, cwd=REPO,
        )  # fmt: skip
        elapsed = time.monotonic() - start
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert n == 720
    assert "locked" not in done.stderr, done.stderr
    assert elapsed < 20, f"reading waited {elapsed:.1f} s for the writer"


def test_four_writers_at_once_lose_and_duplicate_nothing(example, example_workspace, tmp_path):
    serial = tmp_path / "serial"
    shutil.copytree(example_workspace.path, serial)
    env = dict(os.environ)
    for cmd in _commands(serial, example):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
        assert done.returncode == 0, (cmd, done.stderr)

    together = example_workspace.path
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=REPO)
        for cmd in _commands(together, example)
    ]  # fmt: skip
    for cmd, proc in zip(_commands(together, example), procs, strict=True):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, (cmd, err)
        assert "Traceback" not in err

    assert _counts(together) == _counts(serial)
    counts = _counts(together)
    assert all(counts[t] > 0 for t in TABLES if t != "judge_cache"), counts  # no LLM judge here
    assert _content(together) == _content(serial)
