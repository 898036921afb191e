"""kill -9 of `safecal ingest responses` leaves no reader process behind."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from safecal.annotate import Workspace, ingest_items

REPO = Path(__file__).resolve().parents[2]


def _children(pid: int) -> set[int]:
    kids: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids |= {int(k) for k in (task / "children").read_text().split()}
        except OSError:
            continue
    return kids


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie holds no memory and runs nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(3))
def test_reader_dies_with_a_killed_ingest(example, tmp_path, trial):
    ws = Workspace.open(tmp_path / "ws")
    ingest_items(ws, example.items, images=example.images)
    ids = [r["id"] for r in csv.DictReader(example.items.open(encoding="utf-8"))]
    big = tmp_path / "big.csv"
    with big.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["item_id", "model", "language", "response"])
        for m in range(3000):  # 360,000 responses: the reader runs for seconds
            for i in ids:
                out.writerow([i, f"model-{m}", "en", f"answer {m} to {i} " * 4])
    proc = subprocess.Popen(
        [sys.executable, "-m", "safecal", "-w", str(ws.path), "ingest", "responses", str(big)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    readers: set[int] = set()
    while not readers and time.monotonic() < deadline and proc.poll() is None:
        readers = _children(proc.pid)
        time.sleep(0.02)
    assert readers, "the ingest never started its reader process"
    time.sleep(0.3 * trial)  # kill at different points of the read
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_running(r) for r in readers) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [r for r in readers if _running(r)]
    for r in alive:  # do not leave it behind for the next test
        os.kill(r, signal.SIGKILL)
    assert not alive, f"reader process(es) {alive} outlived the killed ingest"
    # nothing half-written: the ingest is one transaction
    assert int(ws.read_sql("SELECT count(*) AS n FROM responses")["n"].iloc[0]) == 0
