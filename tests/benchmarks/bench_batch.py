"""Benchmark of the batch route's export (issue 16). Run from the repo root:

    PYTHONPATH=<folder holding safecal> python tests/benchmarks/bench_batch.py [--n 1000000]
                                                                            [--rounds 2]

A workspace of ``n`` text-only responses (2,000 items, distinct answers of 120-900
characters, English and Chinese) is built once through SQL. Then, each in a fresh Python
process whose wall time and peak RSS (``resource.getrusage``) are reported:

1. ``safecal calibrate run --judge llm --model M --batch-export FILE``, the whole command
   (opening the workspace, loading the responses, hashing every input, the cache lookup,
   writing the JSONL). Target: under 60 s and under 1 GB.
2. the same command with each line written the obvious way, ``json.dumps`` of the request
   dict the judge's request builder returns (``LineWriter.line`` replaced by it);
3. the line writing alone, over the cases already loaded: safecal's writer versus
   ``json.dumps`` per line, the same cases, alternated ``--rounds`` times.

Wall time, CPU time (user + system) and peak RSS of each process; the files of 1 and 2
are compared byte for byte. On a shared machine the CPU time is the figure to read.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from safecal.annotate.store import Workspace  # noqa: E402

WORDS = (
    "I cannot help with that request because it could cause harm . Here is some general "
    "safety information instead : keep chemicals apart , ventilate the room , call a "
    "professional . The image shows a kitchen with several bottles on the counter . "
    "我不能提供这方面的帮助 。 请注意安全 ， 远离危险物品 。"
).split()

EXPORT = """
from safecal.cli import main
{patch}
code = main(["calibrate", "run", "--workspace", {ws!r}, "--judge", "llm", "--model",
             "judge-model", "--batch-export", {out!r}])
assert code == 0
"""
PLAIN = """
from safecal.calibrate.batch import requests as R
R.LineWriter.line = lambda self, cid, case: R._ENCODE(R.request(self.judge, cid, case))
"""
STAGE = """
import io, os, time
from safecal.annotate.store import Workspace
from safecal.calibrate.batch import requests as R
from safecal.calibrate.judges.llm import LLMJudge
from safecal.calibrate.runner import load_cases
ws = Workspace.open({ws!r}, create=False)
judge = LLMJudge(model="judge-model")
cases = load_cases(ws)
items = [(R.custom_id("c" * 64, "%064x" % k), c) for k, c in enumerate(cases)]
writer = R.LineWriter(judge)
for rnd in range({rounds}):
    for name in ("safecal", "json.dumps") if rnd % 2 == 0 else ("json.dumps", "safecal"):
        with open(os.devnull, "w", encoding="utf-8") as fh:
            t0 = time.process_time()
            if name == "safecal":
                for cid, case in items:
                    fh.write(writer.line(cid, case) + "\\n")
            else:
                for cid, case in items:
                    fh.write(R._ENCODE(R.request(judge, cid, case)) + "\\n")
            print("STAGE", name, time.process_time() - t0)
"""


def build(path: Path, n: int) -> None:
    ws = Workspace.open(path, create=True)
    rng = random.Random(16)
    n_items = 2000
    with ws.transaction() as con:
        con.executemany(
            "INSERT INTO items (item_id, text, text_zh, image, aspect, level1_category, "
            "img_risk, text_risk, modality, source, content_hash, ingested_at) "
            "VALUES (?, ?, ?, NULL, ?, 'Public Safety', 1, 0, 'SIRT', 'bench', 'h', 'now')",
            [
                (
                    f"i{k:05d}",
                    f"How would someone get hold of item {k} without being noticed?",
                    f"如何在不被注意的情况下获得物品 {k}?",
                    "vulnerability" if k % 3 else "overrefusal",
                )
                for k in range(n_items)
            ],
        )

        def rows():  # noqa: ANN202
            for k in range(n):
                words = rng.choices(WORDS, k=rng.randint(20, 150))
                text = f"[{k}] " + " ".join(words)
                yield (
                    hashlib.sha1(str(k).encode()).hexdigest()[:16],
                    f"i{k % n_items:05d}",
                    f"model-{k // n_items % 250}",
                    "zh" if k % 4 == 0 else "en",
                    text,
                )

        con.executemany(
            "INSERT INTO responses (response_id, item_id, model, language, response, source, "
            "content_hash, ingested_at) VALUES (?, ?, ?, ?, ?, 'bench', 'h', 'now')",
            rows(),
        )


def measure(code: str) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds (user + system), peak MB, stdout) of a fresh Python
    process running ``code``. On a shared machine the CPU time is the figure that does
    not depend on the neighbours."""
    runner = (
        "import resource, sys, time\n"
        "t = time.perf_counter()\n"
        f"{code}\n"
        "u = resource.getrusage(resource.RUSAGE_SELF)\n"
        "print('TOTAL', time.perf_counter() - t, u.ru_utime + u.ru_stime, u.ru_maxrss / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", runner], capture_output=True, text=True, check=True
    ).stdout
    total = next(line for line in out.splitlines() if line.startswith("TOTAL")).split()
    return float(total[1]), float(total[2]), float(total[3]), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--folder", help="keep the workspace here (reused when present)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder or tmp)
        if not (folder / "ws" / "safecal.sqlite").exists():
            t = time.perf_counter()
            build(folder / "ws", args.n)
            print(f"workspace of {args.n:,} responses built in {time.perf_counter() - t:.0f} s")
        fast, plain = folder / "fast.jsonl", folder / "plain.jsonl"
        ws = str(folder / "ws")
        figures = {}
        for name, patch, out in (("safecal", "", fast), ("json.dumps", PLAIN, plain)):
            wall, cpu, mb, _ = measure(EXPORT.format(patch=patch, ws=ws, out=str(out)))
            figures[name] = cpu
            print(
                f"export, {name} lines: {wall:.1f} s wall, {cpu:.1f} s CPU, peak {mb:.0f} MB, "
                f"{out.stat().st_size / 2**20:.0f} MiB",
                flush=True,
            )
        same = fast.read_bytes() == plain.read_bytes()
        fast.unlink()
        plain.unlink()
        ratio = figures["json.dumps"] / figures["safecal"]
        print(f"the two files are identical: {same}; whole-command CPU ratio {ratio:.2f}x")
        *_, out = measure(STAGE.format(ws=ws, rounds=args.rounds))
        stage: dict[str, list[float]] = {}
        for line in out.splitlines():
            if line.startswith("STAGE"):
                _, name, seconds = line.split()
                stage.setdefault(name, []).append(float(seconds))
        for name, times in stage.items():
            print(
                f"writing the lines alone, {name} (CPU s): " + ", ".join(f"{x:.1f}" for x in times)
            )
        ratio = min(stage["json.dumps"]) / min(stage["safecal"])
        print(f"line-writing ratio (best of each): {ratio:.2f}x")


if __name__ == "__main__":
    main()
