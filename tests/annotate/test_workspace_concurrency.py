"""Several processes on one workspace at once, on SQLite and (on the PostgreSQL pass,
``SAFECAL_TEST_BACKEND=postgresql``) on PostgreSQL.

- A reader never waits for a writer: with another process holding a write
  transaction, opening the workspace and reading take well under the 30 s busy timeout
  (SQLite here; PostgreSQL in test_workspace_postgres.py).
- Five writers at once (labels imported, a judge's verdicts imported, the keyword judge
  run, a sample drawn, a reviewer deciding gold labels one transaction at a time), each
  its own process, and a reader loading what the dashboard shows all along: every table
  ends exactly as when the same writers run one after another (nothing lost, nothing
  twice), and no read waits for a write.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from safecal.annotate import Workspace
from tests.workspaces import copy_workspace

REPO = Path(__file__).resolve().parents[2]
TABLES = ("annotations", "judge_runs", "verdicts", "judge_cache", "samples", "gold", "reviews")


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


#: a reviewer deciding gold labels, one transaction per decision (argv: workspace)
REVIEWER = """
import sys
from safecal.annotate import Workspace
from safecal.annotate.review_decisions import record_decision
ws = Workspace.open(sys.argv[1], create=False)
ids = ws.read_sql("SELECT response_id FROM responses ORDER BY response_id")["response_id"]
for i, rid in enumerate(ids[:40]):
    record_decision(ws, rid, "harmfulness", ("unsafe", "safe_with_refusal")[i % 2], reviewer="rev")
"""

#: the dashboard's loaders read while the others write; prints the slowest read (s)
READER = """
import sys, time
from safecal.dashboards import data
path, slowest, end = sys.argv[1], 0.0, time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    start = time.monotonic()
    stamp = data.stamp(path)
    data.progress(path, stamp)
    data.long_labels(path, stamp, "harmfulness")
    data.runs(path, stamp, "harmfulness")
    data.review_queue(path, stamp)
    slowest = max(slowest, time.monotonic() - start)
print(slowest)
"""


def _read(ws: Path, sql: str) -> list[tuple]:
    frame = Workspace.open(ws, create=False).read_sql(sql)
    return sorted(tuple(None if v != v else v for v in row) for row in frame.itertuples(False))


def _counts(ws: Path) -> dict[str, int]:
    return {t: _read(ws, f"SELECT count(*) AS n FROM {t}")[0][0] for t in TABLES}


def _content(ws: Path) -> dict[str, list[tuple]]:
    """Each table's rows without run ids and timestamps (which differ between runs)."""
    return {
        "annotations": _read(
            ws, "SELECT response_id, item_id, annotator, field, label FROM annotations"
        ),
        "verdicts": _read(
            ws,
            "SELECT j.judge, v.response_id, v.field, v.label, v.valid, v.score"
            " FROM verdicts v JOIN judge_runs j USING (run_id)",
        ),
        "samples": _read(ws, "SELECT sample_id, response_id, stratum, inclusion_prob FROM samples"),
        "gold": _read(ws, "SELECT response_id, field, label, method, adjudicator FROM gold"),
        "reviews": _read(ws, "SELECT response_id, field, reason, label, reviewer FROM reviews"),
    }


@pytest.mark.sqlite  # a raw SQLite write lock; PostgreSQL's: test_workspace_postgres.py
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


def test_five_writers_and_a_reader_at_once_lose_and_duplicate_nothing(
    example, example_workspace, tmp_path
):
    serial = copy_workspace(example_workspace.path, tmp_path / "serial").path
    env = dict(os.environ)
    reviewer = [sys.executable, "-c", REVIEWER]
    for cmd in [*_commands(serial, example), [*reviewer, str(serial)]]:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
        assert done.returncode == 0, (cmd, done.stderr)

    together = example_workspace.path
    commands = [*_commands(together, example), [*reviewer, str(together)]]
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(together), "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**env, "SAFECAL_DASHBOARD_CACHE": "0"}, cwd=REPO,
    )  # fmt: skip
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=REPO)
        for cmd in commands
    ]  # fmt: skip
    for cmd, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, (cmd, err)
        assert "Traceback" not in err
    out, err = reader.communicate(timeout=600)
    assert reader.returncode == 0, err
    assert float(out) < 15, f"a read waited {float(out):.1f} s"  # never the 30 s lock timeout

    assert _counts(together) == _counts(serial)
    counts = _counts(together)
    assert all(counts[t] > 0 for t in TABLES if t != "judge_cache"), counts  # no LLM judge here
    assert _content(together) == _content(serial)
