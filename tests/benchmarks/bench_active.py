"""Benchmark: labels needed for every cell's corrected 90% interval under 0.15 wide.

Simulation (tests/annotate/active_sim.py): 3 target models x 12 cells, 400 responses a
cell, judges whose error varies by cell (a quarter of the cells hard: scores near 0.5,
often wrong) and by score. Gold is collected in rounds of 100 until every cell's PPI
corrected interval (calibrate.ppi.corrected_rate, weights from annotate.rounds) is under
0.15 wide:

1. proportional: each round a uniform Poisson draw among the unlabeled responses;
2. active: ``annotate next``'s design (annotate.next_round.design_round).

Reports, per seed and in total, the labels needed and the coverage of the cells'
intervals over every round (nominal 90%).

Run: ``python tests/benchmarks/bench_active.py [--seeds 3]`` from the repository root.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

# the simulation lives beside the tests; loaded by path, since an installed package may
# own the top-level name ``tests``
_SIM = Path(__file__).resolve().parents[1] / "annotate" / "active_sim.py"
_spec = importlib.util.spec_from_file_location("active_sim", _SIM)
assert _spec is not None and _spec.loader is not None
sim = importlib.util.module_from_spec(_spec)
sys.modules["active_sim"] = sim
_spec.loader.exec_module(sim)


def labels_needed(
    seed: int, method: str, *, n: int, width: float, max_rounds: int
) -> tuple[int, int, float]:
    """(labels, rounds, coverage over every round and cell) until all cells < width."""
    pop = sim.population(seed)
    hist = sim.new_history(len(pop.frame))
    rng = np.random.default_rng(seed + 1000)
    covered: list[float] = []
    rounds = 0
    for _ in range(max_rounds):
        rounds += 1
        sim.run_round(pop, hist, n=n, method=method, rng=rng)
        est = sim.cell_estimates(pop, hist)
        covered += est["covered"].astype(float).tolist()
        if (est["width"] < width).all():
            break
    return int((hist.first >= 0).sum()), rounds, float(np.mean(covered))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--round", type=int, default=100)
    ap.add_argument("--width", type=float, default=0.15)
    ap.add_argument("--max-rounds", type=int, default=80)
    args = ap.parse_args()
    totals: dict[str, list[tuple[int, int, float]]] = {"proportional": [], "active": []}
    start = time.perf_counter()
    for seed in range(args.seeds):
        for method in totals:
            res = labels_needed(
                seed, method, n=args.round, width=args.width, max_rounds=args.max_rounds
            )
            totals[method].append(res)
            print(
                f"seed {seed} {method:12s}: {res[0]:5d} labels, {res[1]:3d} rounds, "
                f"coverage {res[2]:.3f}",
                flush=True,
            )
    prop = sum(r[0] for r in totals["proportional"])
    act = sum(r[0] for r in totals["active"])
    for method, res in totals.items():
        print(
            f"{method:12s}: mean {np.mean([r[0] for r in res]):.0f} labels, "
            f"coverage {np.mean([r[2] for r in res]):.3f} over every round and cell"
        )
    print(f"active needs {100 * (1 - act / prop):.0f}% fewer labels than proportional")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
