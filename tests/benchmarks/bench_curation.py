"""Benchmark: near-duplicate search over 20,000 queries (English and Chinese).

Run ``python tests/benchmarks/bench_curation.py [--n 20000] [--dense-max 20000]``
from the repository root. For each size it times, on the same synthetic queries:

* ``pruned``: safecal's search (:func:`calibrate.curation.duplicates.similar_pairs`:
  sparse TF-IDF, rare-feature sparse product + Cauchy-Schwarz bound, exact);
* ``dense``: the obvious alternative, ``sklearn.metrics.pairwise.cosine_similarity``
  as one n x n matrix, thresholded (skipped above ``--dense-max``);
* ``radius``: scikit-learn ``NearestNeighbors(metric="cosine", algorithm="brute")``
  with ``radius_neighbors_graph`` (chunked internally).

and checks that all three return the same pairs. Vectorising (TF-IDF) is timed
separately, since every method needs it. Queries are template-like: Zipf-distributed
words (so frequent words are shared by most pairs, the hard case for a sparse
product) with 2% edited copies; Chinese from a Zipf-distributed set of 3,000
characters.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pandas as pd  # noqa: E402

from safecal.calibrate.curation import CurationInputs, curate  # noqa: E402
from safecal.calibrate.curation.duplicates import similar_pairs, tfidf_matrix  # noqa: E402


def queries(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    letters = list("abcdefghijklmnopqrstuvwxyz")
    words = ["".join(rng.choice(letters, size=rng.integers(2, 9))) for _ in range(5000)]
    p = 1 / np.arange(1, 5001)
    p /= p.sum()
    en = [" ".join(rng.choice(words, size=rng.integers(6, 25), p=p)) for _ in range(n)]
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    pz = 1 / np.arange(1, 3001)
    pz /= pz.sum()
    zh = ["".join(rng.choice(chars, size=rng.integers(8, 35), p=pz)) for _ in range(n)]
    for k in range(n // 50):  # edited copies
        en[n - 1 - k] = en[k] + " please"
        zh[n - 1 - k] = zh[k] + "谢谢"
    return en, zh


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def dense_pairs(X, threshold: float) -> set[tuple[int, int]]:
    from sklearn.metrics.pairwise import cosine_similarity

    S = cosine_similarity(X, dense_output=True)
    i, j = np.nonzero(np.triu(S >= threshold, k=1))
    return set(zip(i.tolist(), j.tolist(), strict=True))


def radius_pairs(X, threshold: float) -> set[tuple[int, int]]:
    from sklearn.neighbors import NearestNeighbors

    nn = NearestNeighbors(metric="cosine", algorithm="brute", radius=1 - threshold).fit(X)
    G = nn.radius_neighbors_graph(X, mode="distance").tocoo()
    keep = G.row < G.col
    return set(zip(G.row[keep].tolist(), G.col[keep].tolist(), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[5000, 10000, 20000])
    parser.add_argument("--dense-max", type=int, default=20000)
    parser.add_argument("--threshold", type=float, default=0.85)
    args = parser.parse_args()
    tfidf_matrix(["warm up imports"])  # keep scikit-learn's import out of the timings
    print(f"threshold {args.threshold}; times in seconds")
    print("| n | language | TF-IDF | pruned | dense n x n | radius (sklearn) | pairs | same |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.n:
        en, zh = queries(n)
        total = 0.0
        for lang, texts in (("en", en), ("zh", zh)):
            X, t_vec = timed(lambda texts=texts, lang=lang: tfidf_matrix(texts, language=lang))
            found, t_pruned = timed(lambda X=X: similar_pairs(X, threshold=args.threshold))
            total += t_vec + t_pruned
            ours = set(zip(found["i"].tolist(), found["j"].tolist(), strict=True))
            t_dense = t_radius = float("nan")
            same = []
            if n <= args.dense_max:
                dense, t_dense = timed(lambda X=X: dense_pairs(X, args.threshold))
                same.append(dense == ours)
            radius, t_radius = timed(lambda X=X: radius_pairs(X, args.threshold))
            # the radius search works in float distances: compare away from the boundary
            same.append(radius == ours or len(radius ^ ours) <= 1)
            print(
                f"| {n} | {lang} | {t_vec:.2f} | {t_pruned:.2f} | {t_dense:.2f} | "
                f"{t_radius:.2f} | {len(ours)} | {all(same)} |"
            )
        print(f"| {n} | en+zh total (TF-IDF + pruned) | | {total:.2f} | | | | |")
    n = max(args.n)
    en, zh = queries(n)
    items = pd.DataFrame(
        {
            "item_id": [str(k + 1) for k in range(n)],
            "text": en,
            "text_zh": zh,
            "image": None,
            "aspect": "vulnerability",
            "level1_category": "Public Safety",
            "level2_category": "Network Attacks",
            "level3_category": "Phishing Email Guidance",
            "img_risk": 0,
            "text_risk": 1,
            "modality": "SIRT",
        }
    )
    result, t_curate = timed(lambda: curate(CurationInputs(items=items)))
    print(
        f"\nend to end: curate() on {n} unlabelled items (duplicates in en and zh, decision "
        f"table, coverage): {t_curate:.2f} s; {result.counts()}"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the process: {peak:.0f} MB (the dense matrix dominates)")


if __name__ == "__main__":
    main()
