"""`ingest responses a b c`: each file is one transaction, and a failure says which
files stayed ingested and which did not; the rerun after the fix completes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _count(ws) -> int:
    return int(ws.read_sql("SELECT count(*) AS n FROM responses")["n"].iloc[0])


def test_a_bad_second_file_keeps_the_first_and_says_so(example, tmp_path):
    from safecal.annotate import Workspace, ingest_items

    ws = Workspace.open(tmp_path / "ws")
    ingest_items(ws, example.items, images=example.images)
    good, third = example.responses[0], example.responses[2]
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,model,language,response\nno-such-item,m,en,hello\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "safecal", "-w", str(ws.path), "ingest", "responses"]
    done = subprocess.run([*cmd, str(good), str(bad), str(third)], capture_output=True,
                          text=True, cwd=REPO)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no-such-item" in done.stderr
    assert f"{good} stayed ingested; {bad}, {third} not" in done.stderr
    assert _count(ws) == 240  # the first file, whole; nothing of the others
    fixed = tmp_path / f"fixed{example.responses[1].suffix}"
    shutil.copy(example.responses[1], fixed)
    done = subprocess.run([*cmd, str(good), str(fixed), str(third)], capture_output=True,
                          text=True, cwd=REPO)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _count(ws) == 720
