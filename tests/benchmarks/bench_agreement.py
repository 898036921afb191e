"""Benchmark: Krippendorff's alpha with 1,000 bootstrap resamples, 100,000 items x 3 raters.

Compares, on the same machine and data:

1. the obvious way: draw a resample of items, call ``krippendorff.alpha`` on it, 1,000 times
   (timed on ``--naive-resamples`` resamples and extrapolated, or all with ``--full``);
2. safecal's per-item form without pattern compression: per-item coincidence
   contributions computed once, each resample a multinomial count vector, alpha of all
   resamples by a matrix product (the worst case, when no two items share a pattern);
3. safecal's ``agreement`` as shipped: items compressed to distinct rating patterns first,
   all five coefficients with 1,000 resamples.

Run: ``python tests/benchmarks/bench_agreement.py`` from the repository root.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import krippendorff
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from safecal.calibrate.agreement import (  # noqa: E402
    RatingPatterns,
    agreement_from_codes,
    coincidence_contributions,
    krippendorff_alpha_w,
)
from safecal.calibrate.bootstrap import percentile_estimate, resample_weights  # noqa: E402


def data(n: int, raters: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    codes = np.where(rng.random((n, raters)) < 0.7, truth[:, None], rng.integers(0, k, (n, raters)))
    return np.where(rng.random((n, raters)) < 0.05, -1, codes)  # 5% missing ratings


def reliability(codes: np.ndarray) -> np.ndarray:
    d = codes.T.astype(float)
    d[d < 0] = np.nan
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--raters", type=int, default=3)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--naive-resamples", type=int, default=30)
    ap.add_argument("--full", action="store_true", help="run the naive loop for all resamples")
    args = ap.parse_args()
    codes = data(args.items, args.raters, 3, seed=0)
    codes = codes[(codes >= 0).sum(axis=1) >= 2]
    n = len(codes)
    domain = [0, 1, 2]
    print(f"{n} items x {args.raters} raters (5% ratings missing), {args.n_boot} resamples")

    rng = np.random.default_rng(1)
    point_ref = krippendorff.alpha(
        reliability(codes), level_of_measurement="nominal", value_domain=domain
    )
    runs = args.n_boot if args.full else args.naive_resamples
    t0 = time.perf_counter()
    naive = []
    for _ in range(runs):
        idx = rng.integers(0, n, n)
        naive.append(
            krippendorff.alpha(
                reliability(codes[idx]), level_of_measurement="nominal", value_domain=domain
            )
        )
    per = (time.perf_counter() - t0) / runs
    naive_total = per * args.n_boot
    print(
        f"naive krippendorff.alpha per resample: {per * 1000:.1f} ms -> "
        f"{naive_total:.1f} s for {args.n_boot} ({'measured' if args.full else 'extrapolated'}"
        f" from {runs})"
    )

    # per-item contributions, no compression: weights (chunk, N) @ (N, K*K)
    t0 = time.perf_counter()
    counts = np.zeros((n, 3))
    for r in range(codes.shape[1]):
        ok = codes[:, r] >= 0
        np.add.at(counts, (np.nonzero(ok)[0], codes[ok, r]), 1)
    items = RatingPatterns(codes, np.ones(n), counts, 3)
    contrib = coincidence_contributions(items)
    rng = np.random.default_rng(2)
    alphas = []
    for start in range(0, args.n_boot, 40):
        size = min(40, args.n_boot - start)
        w = resample_weights(items.freq, size, rng)  # one count per item: (size, N)
        alphas.append(krippendorff_alpha_w(items, w, "nominal", contrib))
    per_item_point = float(krippendorff_alpha_w(items, np.ones(n), "nominal", contrib))
    est = percentile_estimate(per_item_point, np.concatenate(alphas), 0.95)
    t_item = time.perf_counter() - t0
    print(
        f"per-item matrix product:  {t_item:.2f} s  alpha {est:.5f}  "
        f"speed-up {naive_total / t_item:.0f}x"
    )

    t0 = time.perf_counter()
    res = agreement_from_codes(codes, ["a", "b", "c"], n_boot=args.n_boot, seed=0)
    t_ship = time.perf_counter() - t0
    print(
        f"safecal agreement (all 5 coefficients, patterns): {t_ship:.2f} s  alpha "
        f"{res.krippendorff_alpha:.5f}  speed-up {naive_total / t_ship:.0f}x"
    )
    naive_ci = np.percentile(naive, [2.5, 97.5]) if len(naive) >= 20 else None
    print(
        f"point estimate: krippendorff {point_ref:.12f}  safecal "
        f"{res.krippendorff_alpha.value:.12f}  per-item {per_item_point:.12f}"
    )
    if naive_ci is not None:
        print(
            f"naive percentile interval from {len(naive)} resamples: "
            f"[{naive_ci[0]:.5f}, {naive_ci[1]:.5f}]"
        )
    assert abs(point_ref - res.krippendorff_alpha.value) < 1e-12
    assert abs(point_ref - per_item_point) < 1e-12


if __name__ == "__main__":
    main()
