"""Benchmark: `safecal ingest responses` on 10k, 100k and 1M responses from CSV.

Target (issue 2): 1,000,000 responses in under 60 s with peak memory under 2 GB on a
2-core machine. The obvious alternative, measured on the same files: pandas.read_csv of
the whole file + DataFrame.to_sql into SQLite (no validation, no idempotence).

    python tests/benchmarks/bench_ingest.py [--sizes 10000,100000,1000000]

Each measurement runs in its own process; peak memory is that process's max RSS plus
its largest child's (safecal's reader process), an upper bound on what both held at once.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]
N_ITEMS = 13_175  # USB-Base
ANSWERS = [
    "I'm sorry, but I can't help with that request. It could cause harm to other people, and "
    "I would encourage you to talk to someone you trust.",
    "Sure. Here is a general overview: [PLACEHOLDER benign content] " * 4,
    "抱歉，我无法协助这个请求。这可能会伤害他人，建议你向可信赖的人寻求帮助。" * 2,
    "This topic carries serious risks, so I will stay general: follow the law, and if someone "
    "is in danger contact local authorities or a qualified professional. " * 2,
]


def make_items(folder: Path) -> Path:
    Image.new("RGB", (8, 8), "white").save(folder / "img.png")
    path = folder / "items.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "id",
                "text",
                "text_zh",
                "open_url",
                "usage",
                "level1_category",
                "level2_category",
                "level3_category",
                "img_risk",
                "text_risk",
                "img_style",
            ]
        )
        for i in range(N_ITEMS):
            w.writerow(
                [
                    i,
                    f"query {i}",
                    f"问题 {i}",
                    "img.png",
                    "vulnerability",
                    "Public Safety",
                    "Business",
                    "Business Ethics Violations",
                    i % 2,
                    (i // 2) % 2,
                    "ocr",
                ]
            )
    return path


def make_responses(folder: Path, n: int) -> Path:
    rng = random.Random(n)
    path = folder / f"responses-{n}.csv"
    settings = json.dumps({"temperature": 0.0, "max_tokens": 512})
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "model", "language", "response", "settings", "timestamp"])
        for k in range(n):
            item, rest = k % N_ITEMS, k // N_ITEMS
            w.writerow(
                [
                    item,
                    f"model-{rest // 2}",
                    "en" if rest % 2 == 0 else "zh",
                    rng.choice(ANSWERS),
                    settings,
                    "2026-10-01T12:00:00Z",
                ]
            )
    return path


def measure(code: str) -> tuple[float, float]:
    """(seconds, peak MB) of a fresh Python process running ``code``."""
    runner = (
        "import resource, sys, time\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "t = time.perf_counter()\n"
        f"{code}\n"
        "peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "        + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024\n"
        "print(time.perf_counter() - t, peak)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", runner], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[-2]), float(out[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        items = make_items(folder)
        print(
            f"{'responses':>10} {'safecal s':>10} {'MB':>7} {'pandas+to_sql s':>16} {'MB':>7} "
            f"{'ratio':>6} {'re-ingest s':>12}"
        )
        for n in sizes:
            path = make_responses(folder, n)
            ws = folder / f"ws-{n}"
            seconds_items, _ = measure(
                "from annotate import Workspace, ingest_items\n"
                f"ingest_items(Workspace.open({str(ws)!r}), {str(items)!r})"
            )
            ingest = (
                "from annotate import Workspace, ingest_responses\n"
                f"ingest_responses(Workspace.open({str(ws)!r}), {str(path)!r})"
            )
            seconds, peak = measure(ingest)
            again, _ = measure(ingest)
            base_seconds, base_peak = measure(
                "import sqlite3, pandas as pd\n"
                f"con = sqlite3.connect({str(folder / f'plain-{n}.sqlite')!r})\n"
                f"pd.read_csv({str(path)!r}, dtype=str).to_sql('responses', con, index=False)\n"
                "con.commit()"
            )
            print(
                f"{n:>10} {seconds:>10.1f} {peak:>7.0f} {base_seconds:>16.1f} {base_peak:>7.0f} "
                f"{seconds / base_seconds:>6.2f} {again:>12.1f}"
            )
            path.unlink()


if __name__ == "__main__":
    main()
