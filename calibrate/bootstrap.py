"""Vectorized, seeded bootstrap over items.

A bootstrap resample of ``N`` items is a count vector ``c ~ Multinomial(N, 1/N, ..., 1/N)``
(Efron & Tibshirani 1993, ch. 6). Every statistic here is a function of per-item
contributions summed with weights ``c``, and items with identical data contribute
identically. So items are first *compressed* to their distinct patterns ``p`` with
frequencies ``f_p``; the summed counts of a resample over the items of each pattern
are then ``Multinomial(N, f_p / N)`` (aggregation of a multinomial), which is exactly
the distribution of the item bootstrap, drawn in ``O(patterns)`` instead of ``O(N)``.
A statistic receives a ``(B, P)`` weight matrix (or the ``(P,)`` frequencies for the
point estimate) and returns one value per row: the whole bootstrap becomes a few
matrix products.

Intervals are percentile intervals (Efron 1979): the ``(1 - confidence) / 2`` and
``(1 + confidence) / 2`` quantiles of the resampled statistic, ignoring resamples where
it is undefined (e.g. no positive item drawn for recall).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from safecal.calibrate.results import Estimate

#: weights per chunk (rows x patterns) kept in memory at once
_CHUNK_CELLS = 4_000_000


def compress(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of ``keys`` (N x d integers): ``(first_index, inverse, freq)``.

    ``first_index[p]`` is one item with pattern ``p``; ``inverse[i]`` is item ``i``'s
    pattern; ``freq[p]`` how many items share it.
    """
    keys = np.asarray(keys)
    if keys.ndim == 1:
        keys = keys[:, None]
    if len(keys) == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)
    lo, hi = int(keys.min()), int(keys.max())
    base = hi - lo + 1
    if keys.shape[1] * math.log2(max(base, 2)) < 62:
        # one integer per row (mixed radix): a 1-D unique is far faster than axis=0
        flat = ((keys - lo) * (base ** np.arange(keys.shape[1], dtype=np.int64))).sum(axis=1)
        _, first, inverse, freq = np.unique(
            flat, return_index=True, return_inverse=True, return_counts=True
        )
    else:
        _, first, inverse, freq = np.unique(
            keys, axis=0, return_index=True, return_inverse=True, return_counts=True
        )
    return first, inverse.reshape(-1), freq


#: above this many patterns, draw item indices instead of a multinomial over patterns
_MULTINOMIAL_MAX_PATTERNS = 64


def resample_weights(freq: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, P)`` counts: how often each pattern is drawn in each item resample.

    Few patterns: one ``Multinomial(N, f / N)`` draw per resample. Many patterns (up to one
    per item): ``N`` uniform item indices per resample, counted per pattern with one
    ``bincount`` (numpy's multinomial costs a binomial draw per category).
    """
    freq = np.asarray(freq)
    n, p = int(freq.sum()), len(freq)
    if n == 0:
        return np.zeros((n_boot, p))
    if p <= _MULTINOMIAL_MAX_PATTERNS:
        return rng.multinomial(n, freq / n, size=n_boot).astype(float)
    pattern_of_item = np.repeat(np.arange(p), freq.astype(np.int64))
    draws = pattern_of_item[rng.integers(0, n, size=(n_boot, n))]
    draws += (np.arange(n_boot) * p)[:, None]
    return np.bincount(draws.ravel(), minlength=n_boot * p).reshape(n_boot, p).astype(float)


def bootstrap(
    freq: np.ndarray,
    statistic: Callable[[np.ndarray], dict[str, np.ndarray]],
    *,
    n_boot: int,
    seed: int | np.random.Generator | None,
) -> dict[str, np.ndarray]:
    """Apply ``statistic`` to ``n_boot`` resamples, in chunks; one array per statistic name."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    chunk = max(1, min(n_boot, _CHUNK_CELLS // max(1, len(freq))))
    parts: dict[str, list[np.ndarray]] = {}
    done = 0
    while done < n_boot:
        size = min(chunk, n_boot - done)
        values = statistic(resample_weights(freq, size, rng))
        for name, arr in values.items():
            parts.setdefault(name, []).append(np.asarray(arr, dtype=float).reshape(size))
        done += size
    return {name: np.concatenate(arrs) for name, arrs in parts.items()}


def percentile_estimate(
    point: float | np.ndarray, resampled: np.ndarray, confidence: float, *, method: str = ""
) -> Estimate:
    """Point value with the percentile interval of its resampled values (``method``: the
    name the estimate carries)."""
    point = float(point)
    resampled = np.asarray(resampled, dtype=float)
    resampled = resampled[np.isfinite(resampled)]
    if math.isnan(point) or resampled.size == 0:
        return Estimate(point, (math.nan, math.nan))
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(resampled, [tail, 100 - tail])
    return Estimate(point, (float(lo), float(hi)), method=method)


def safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where ``den`` is 0 (an undefined statistic)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out
