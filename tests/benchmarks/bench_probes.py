"""Benchmark for probes (issue 16). Run from the repo root:

    python tests/benchmarks/bench_probes.py [--responses 10000] [--images 100]

A workspace of ``--responses`` gold-labelled responses (half English, half Chinese, items
spread over ``--images`` images and the four modality combinations) is judged by the LLM
judge against our local OpenAI-compatible server (a separate process, no added latency);
then six probes (image removed, blank image, other image, refusal prefix, disclaimer,
padding) run twice through :func:`calibrate.probes.run_probes`:

1. the first run calls the server for every transformed copy (the obvious alternative:
   judging the copies anew each time);
2. the second run finds every copy in the cache (no call): its time is safecal's own
   (transformations, input keys, cache look-ups in SQL, verdict writes, figures and
   intervals per slice). Target: under 30 s for 6 probes over 10,000 responses.

Prints both times and their ratio.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from safecal.annotate.store import Workspace  # noqa: E402
from safecal.calibrate.judges.llm import LLMJudge  # noqa: E402
from safecal.calibrate.probes import run_probes  # noqa: E402
from safecal.calibrate.runner import run_judge  # noqa: E402

PROBES = ["image_removed", "blank_image", "other_image", "refusal_prefix", "disclaimer", "padding"]
MODALITIES = ("RIRT", "RIST", "SIRT", "SIST")


def start_server() -> tuple[subprocess.Popen[str], str]:
    """Our OpenAI-compatible test server as a separate process (no added latency)."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/calibrate/fake_openai.py")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline().split()[1])
    return proc, f"http://127.0.0.1:{port}/v1"


def build(path: Path, n: int, n_images: int) -> Workspace:
    """A workspace with ``n`` responses, each with a gold harmfulness label."""
    from PIL import Image

    ws = Workspace.open(path, create=True)
    for k in range(n_images):
        Image.new("RGB", (32, 32), (k % 256, (7 * k) % 256, 90)).save(ws.images_dir / f"{k}.png")
    items, responses, gold = [], [], []
    for k in range(n):
        lang = "en" if k % 2 == 0 else "zh"
        rating = 3 if k % 3 else 1
        items.append(
            (f"i{k:06d}", f"query {k}", f"问题 {k}", f"{k % n_images}.png", MODALITIES[k % 4])
        )
        text = f"Reply {k}: step one, step two, step three. [[rate={rating}]]"
        responses.append((f"r{k:06d}", f"i{k:06d}", lang, text))
        gold.append((f"r{k:06d}", "unsafe" if k % 5 else "safe_with_refusal"))
    with ws.transaction() as con:
        con.executemany(
            "INSERT INTO items (item_id, text, text_zh, image, aspect, level1_category, "
            "img_risk, text_risk, modality, source, content_hash, ingested_at) "
            "VALUES (?, ?, ?, ?, 'vulnerability', 'Public Safety', 1, 0, ?, 'bench', 'h', 'now')",
            items,
        )
        con.executemany(
            "INSERT INTO responses (response_id, item_id, model, language, response, source, "
            "content_hash, ingested_at) VALUES (?, ?, 'm1', ?, ?, 'bench', 'h', 'now')",
            responses,
        )
        con.executemany(
            "INSERT INTO gold (response_id, field, label, method, decided_at) "
            "VALUES (?, 'harmfulness', ?, 'imported', 'now')",
            gold,
        )
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=100)
    args = parser.parse_args()
    proc, base_url = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ws = build(Path(tmp) / "ws", args.responses, args.images)
            judge = LLMJudge(model="bench-judge", base_url=base_url)
            start = time.perf_counter()
            run_judge(ws, judge, concurrency=64)
            print(f"run: {args.responses} responses judged in {time.perf_counter() - start:.1f} s")
            start = time.perf_counter()
            first = run_probes(ws, judge, run="bench-judge", probes=PROBES, concurrency=64)
            uncached = time.perf_counter() - start
            calls = sum(s.n_called for s in first.summaries.values())
            start = time.perf_counter()
            second = run_probes(ws, judge, run="bench-judge", probes=PROBES, concurrency=64)
            cached = time.perf_counter() - start
            hits = sum(s.n_cached for s in second.summaries.values())
            called = sum(s.n_called for s in second.summaries.values())
            n = sum(r["n"] for r in second.results.values())
            print(
                f"6 probes, {n} transformed copies: first run {uncached:.1f} s ({calls} calls); "
                f"second run {cached:.1f} s ({hits} cache hits, {called} calls); "
                f"ratio {uncached / cached:.1f}x; target < 30 s: "
                f"{'met' if cached < 30 else 'MISSED'}"
            )
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
