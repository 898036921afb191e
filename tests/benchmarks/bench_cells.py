"""``safecal calibrate estimate --cells`` on a large workspace. Run from the repo root:

    python tests/benchmarks/bench_cells.py [--responses 1000000] [--gold 3000] [--models 5]

Builds (setup, not timed) a workspace of ``--responses`` harmfulness responses:
``--models`` target models x 3 level-1 categories x 4 modality combinations (12 cells a
model) x 2 languages, ``--gold`` gold labels on random responses (a simple random sample
without a sample table, so the command declares it with ``--assume-random``) and one judge
run over every response whose error differs by cell. Then times, end to end, a child process running
``python -m safecal calibrate estimate --workspace WS --run bench-judge --cells --json
--assume-random``
(interpreter start, imports, workspace read, every estimate, JSON out), best of
``--repeat``. In the same run it times, in-process, the two halves of the work: loading
the table (``calibrate.tables.estimate_table``) and ``benchmark_cells``, against the
obvious alternative for the cells: ``corrected_rate`` on each cell's rows (a boolean mask
per model and cell, the loop ``benchmark_cells`` used before). Target: under 10 s end to
end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from safecal.annotate import Workspace  # noqa: E402

CATEGORIES = ("Ethical Safety", "Public Safety", "Personal Safety")
MODALITIES = ("RIRT", "RIST", "SIRT", "SIST")
SCALE = ("unsafe", "safe_with_warning", "safe_with_refusal")
NOW = "2026-01-01T00:00:00+00:00"


def build(path: Path, n_responses: int, n_gold: int, n_models: int, seed: int = 0) -> Workspace:
    rng = np.random.default_rng(seed)
    ws = Workspace.open(path)
    n_items = max(12, n_responses // (2 * n_models))
    models = [f"model-{m}" for m in range(n_models)]
    items = []
    for i in range(n_items):
        mod = MODALITIES[i % 4]
        items.append(
            (str(i), f"query {i}", None, None, None, "vulnerability", CATEGORIES[(i // 4) % 3],
             "l2", "l3", int(mod[0] == "R" and mod[1] == "R"), int(mod[3] == "R" or mod == "SIRT"),
             mod, None, None, "bench", "h", NOW)
        )  # fmt: skip
    ids = np.array(
        [f"{i}|{m}|{lang}" for m in models for i in range(n_items) for lang in ("en", "zh")]
    )
    item_of = np.tile(np.repeat(np.arange(n_items), 2), n_models)
    model_of = np.repeat(np.arange(n_models), 2 * n_items)
    cell = (item_of % 4) + 4 * ((item_of // 4) % 3)
    prevalence = rng.uniform(0.05, 0.5, (n_models, 12))[model_of, cell]
    unsafe = rng.random(len(ids)) < prevalence
    recall = rng.uniform(0.6, 0.9, 12)[cell]
    fpr = rng.uniform(0.03, 0.15, 12)[cell]
    says = np.where(unsafe, rng.random(len(ids)) < recall, rng.random(len(ids)) < fpr)
    other = rng.integers(1, 3, len(ids))
    truth = np.where(unsafe, 0, other)
    verdict = np.where(says, 0, other)
    responses = [
        (rid, str(item_of[k]), models[model_of[k]], rid[-2:], "r", None, None, None, "b", "h", NOW)
        for k, rid in enumerate(ids)
    ]
    gold_rows = rng.choice(len(ids), n_gold, replace=False)
    with ws.transaction() as con:
        con.executemany(f"INSERT INTO items VALUES ({', '.join('?' * 17)})", items)
        con.executemany(f"INSERT INTO responses VALUES ({', '.join('?' * 11)})", responses)
        con.executemany(
            "INSERT INTO gold (response_id, field, label, method, decided_at)"
            " VALUES (?, ?, ?, ?, ?)",
            [(ids[k], "harmfulness", SCALE[truth[k]], "majority", NOW) for k in gold_rows],
        )
        con.execute(
            "INSERT INTO judge_runs (run_id, judge, kind, started_at) VALUES "
            "('bench-run', 'bench-judge', 'imported', ?)",
            (NOW,),
        )
        con.executemany(
            "INSERT INTO verdicts (run_id, response_id, field, label, valid, score)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("bench-run", rid, "harmfulness", SCALE[verdict[k]], 1, None)
                for k, rid in enumerate(ids)
            ],
        )
    return ws


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def end_to_end(ws: Workspace, repeat: int) -> tuple[float, float, dict]:
    """Best wall time and the CPU time (user + system) of that run. On the shared machine
    the wall time depends on the load; the CPU time is what a quiet machine would wait
    (the command is single-threaded)."""
    best, cpu, out = float("inf"), float("inf"), {}
    cmd = [sys.executable, "-m", "safecal", "calibrate", "estimate", "--workspace", str(ws.path),
           "--run", "bench-judge", "--cells", "--json", "--assume-random"]  # fmt: skip
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(
            cmd, capture_output=True, text=True, check=True, cwd=ROOT
        )  # fmt: skip
        wall = time.perf_counter() - start
        if wall < best:
            best, cpu = wall, _children_cpu() - start_cpu
        out = json.loads(done.stdout)
    return best, cpu, out


def in_process(ws: Workspace) -> dict[str, float]:
    from safecal.calibrate import benchmark_cells, corrected_rate
    from safecal.calibrate.tables import estimate_table

    start = time.perf_counter()
    loaded = estimate_table(ws, field="harmfulness", run="bench-judge", assume_random=True)
    t_load = time.perf_counter() - start
    kw = dict(gold="gold", judge=loaded.judge, positive=["unsafe"], weight=loaded.weight)
    start = time.perf_counter()
    benchmark_cells(loaded.table, **kw)
    t_cells = time.perf_counter() - start
    table = loaded.table
    start = time.perf_counter()
    for m in sorted(table["model"].unique()):
        sub = table[table["model"] == m]
        for c in sorted(sub["level1_category"].unique()):
            for d in sorted(sub["modality"].unique()):
                corrected_rate(sub[(sub["level1_category"] == c) & (sub["modality"] == d)], **kw)
        corrected_rate(sub, **kw)
    t_loop = time.perf_counter() - start
    return {"load": t_load, "cells": t_cells, "loop": t_loop}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--gold", type=int, default=3000)
    parser.add_argument("--models", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        ws = build(Path(tmp) / "ws", args.responses, args.gold, args.models)
        built = time.perf_counter() - start
        print(
            f"workspace: {args.responses:,} responses, {args.gold:,} gold labels, "
            f"{args.models} models x 12 cells, built in {built:.1f} s"
        )
        elapsed, cpu, out = end_to_end(ws, args.repeat)
        cells = out["cells"]
        assert len(cells) == args.models * 14, len(cells)
        assert all(c["corrected"] is not None for c in cells)
        load = os.getloadavg()[0]
        print(
            f"calibrate estimate --cells --json, end to end: {elapsed:.2f} s wall, {cpu:.2f} s "
            f"CPU (target < 10 s), {len(cells)} rows; load average {load:.1f}"
        )
        t = in_process(ws)
        print(
            f"in process: load the table {t['load']:.2f} s; benchmark_cells {t['cells']:.2f} s "
            f"vs corrected_rate per cell {t['loop']:.2f} s ({t['loop'] / t['cells']:.1f}x)"
        )


if __name__ == "__main__":
    main()
