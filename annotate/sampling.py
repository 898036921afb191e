"""Stratified sampling of responses worth labeling, with inclusion probabilities.

Strata are the cross of any of: target ``model``, ``level1`` / ``level2`` / ``level3``
category, ``modality``, ``language`` and ``aspect``. Allocation of the total ``n``:

* ``proportional``: ``n_h = n * N_h / N`` (largest-remainder rounding), at least one per
  stratum when ``n`` allows, so every response has a positive inclusion probability;
* ``equal``: ``n / H`` per stratum, what a small stratum cannot take goes to the others;
* ``width``: enough for a 95 % (``confidence``) interval of half-width ``width / 2``
  on a proportion in each stratum, worst case ``p = 0.5``, with the finite-population
  correction: ``n0 = z^2 p (1 - p) / (width / 2)^2``, ``n_h = ceil(n0 / (1 + (n0 - 1) / N_h))``
  (Cochran, *Sampling Techniques*, 3rd ed. 1977, eqs. 4.1-4.2).

Oversampling (``oversample = f > 1``): responses where the recorded judges disagree
(in the binary view of :mod:`annotate.labels`) or a judge's score sits within
``margin`` of ``threshold`` are read from the ``verdicts`` table and split each stratum
into a ``flagged`` and a ``rest`` sub-stratum; the flagged one gets ``f`` times its
proportional share. Within each (sub-)stratum the draw is simple random sampling
without replacement, so a response's inclusion probability is ``pi = n_h / N_h``;
weighting by ``1 / pi`` keeps estimates unbiased (Horvitz & Thompson 1952).
The draw depends only on the frame (sorted by response id) and ``seed``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

import numpy as np
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.labels import to_binary
from safecal.annotate.store import Workspace, judging
from safecal.annotate.store import samples as sample_rows

STRATUM_COLUMNS: Final[dict[str, str]] = {
    "model": "model",
    "level1": "level1_category",
    "level2": "level2_category",
    "level3": "level3_category",
    "modality": "modality",
    "language": "language",
    "aspect": "aspect",
}
ALLOCATIONS: Final = ("proportional", "equal", "width")


@dataclass(frozen=True)
class SampleResult:
    """The drawn sample: one row per response with stratum and inclusion probability,
    and the allocation per stratum (``N``, ``n``)."""

    sample_id: str
    sample: pd.DataFrame
    allocation: pd.DataFrame


def sampling_frame(ws: Workspace) -> pd.DataFrame:
    """Every response with the item columns strata can use, sorted by response id."""
    return sample_rows.sampling_frame(ws)


def flagged_responses(ws: Workspace, *, threshold: float = 0.5, margin: float = 0.1) -> set[str]:
    """Responses whose judges disagree (binary view) or whose score is near ``threshold``."""
    v = judging.valid_verdicts(ws)
    if v.empty:
        return set()
    known = v.apply(lambda r: _binary_or_none(r["field"], r["label"]), axis=1)
    v = v.assign(binary=known)
    disagree = v.dropna(subset=["binary"]).groupby("response_id")["binary"].nunique()
    out = set(disagree[disagree > 1].index)
    near = v.dropna(subset=["score"])
    out |= set(near.loc[(near["score"] - threshold).abs() < margin, "response_id"])
    return out


def _binary_or_none(field: str, label: object) -> float | None:
    try:
        return float(to_binary(field, str(label)))
    except (KeyError, ValueError):
        return None


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    raw = total * weights / weights.sum()
    base = np.floor(raw).astype(int)
    order = np.argsort(-(raw - base), kind="stable")
    base[order[: total - base.sum()]] += 1
    return base


def allocate(
    sizes: pd.Series,
    *,
    n: int | None,
    allocation: str,
    width: float | None = None,
    confidence: float = 0.95,
) -> pd.Series:
    """Sample size per stratum (see the module docstring); never above ``N_h``."""
    N = sizes.to_numpy(dtype=int)
    if allocation == "width":
        if not width or not 0 < width < 1:
            raise InputError("--allocation width needs --width between 0 and 1 (e.g. 0.2)")
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        n0 = z * z * 0.25 / (width / 2) ** 2
        out = np.array([math.ceil(n0 / (1 + (n0 - 1) / Nh)) for Nh in N])
        return pd.Series(np.minimum(out, N), index=sizes.index)
    if n is None or n < 1:
        raise InputError(f"--allocation {allocation} needs --n, a sample size >= 1")
    n = min(n, int(N.sum()))
    if allocation == "proportional":
        out = _largest_remainder(n, N.astype(float))
        if n >= len(N):  # at least one per stratum: take from the largest allocations
            for h in np.where(out == 0)[0]:
                out[int(np.argmax(out))] -= 1
                out[h] = 1
    elif allocation == "equal":
        out = np.zeros(len(N), dtype=int)
        left = n
        while left > 0:
            open_ = np.where(out < N)[0]
            share = _largest_remainder(left, np.ones(len(open_)))
            add = np.minimum(share, N[open_] - out[open_])
            out[open_] += add
            left -= int(add.sum())
    else:
        raise InputError(f"--allocation {allocation}: expected one of {', '.join(ALLOCATIONS)}")
    return pd.Series(np.minimum(out, N), index=sizes.index)


def draw_sample(
    ws: Workspace,
    *,
    n: int | None = None,
    by: tuple[str, ...] = ("model",),
    allocation: str = "proportional",
    width: float | None = None,
    confidence: float = 0.95,
    oversample: float = 1.0,
    threshold: float = 0.5,
    margin: float = 0.1,
    aspect: str | None = None,
    seed: int = 0,
    sample_id: str | None = None,
) -> SampleResult:
    """Draw and store a stratified sample (table ``samples``)."""
    unknown = [b for b in by if b not in STRATUM_COLUMNS]
    if unknown:
        raise InputError(
            f"--by {','.join(unknown)}: unknown stratum; choose from {', '.join(STRATUM_COLUMNS)}"
        )
    if oversample < 1:
        raise InputError(f"--oversample {oversample}: a factor >= 1 (1 = no oversampling)")
    frame = sampling_frame(ws)
    if aspect:
        frame = frame[frame["aspect"] == aspect]
    if frame.empty:
        raise InputError("no responses to sample from; run `safecal ingest responses` first")
    cols = [STRATUM_COLUMNS[b] for b in by]
    frame = frame.assign(
        stratum=frame[cols].fillna("").astype(str).agg("|".join, axis=1) if cols else "all"
    )
    sizes = frame.groupby("stratum").size()
    n_h = allocate(sizes, n=n, allocation=allocation, width=width, confidence=confidence)
    flagged = flagged_responses(ws, threshold=threshold, margin=margin) if oversample > 1 else set()
    if oversample > 1 and not frame["response_id"].isin(flagged).any():
        raise InputError(
            f"--oversample {oversample:g}: no response to sample is flagged (no two judge runs "
            f"disagree and no judge score lies within --margin {margin:g} of --threshold "
            f"{threshold:g}); run a judge that gives scores, or a second judge, first, or "
            "drop --oversample"
        )
    rng = np.random.default_rng(seed)
    parts, alloc_rows = [], []
    for stratum, group in frame.groupby("stratum", sort=True):
        want = int(n_h[stratum])
        is_flag = group["response_id"].isin(flagged).to_numpy()
        if oversample > 1 and is_flag.any():
            F, R = int(is_flag.sum()), int((~is_flag).sum())
            n_f = min(F, round(want * oversample * F / (oversample * F + R)))
            n_r = min(R, want - n_f)
            n_f = min(F, want - n_r)
            subs = [
                (f"{stratum}|flagged", group[is_flag], n_f),
                (f"{stratum}|rest", group[~is_flag], n_r),
            ]
        else:
            subs = [(stratum, group, want)]
        for name, sub, k in subs:
            alloc_rows.append({"stratum": name, "N": len(sub), "n": k})
            if k <= 0:
                continue
            chosen = sub.iloc[np.sort(rng.choice(len(sub), size=k, replace=False))]
            parts.append(chosen.assign(stratum=name, inclusion_prob=k / len(sub)))
    sample = pd.concat(parts, ignore_index=True) if parts else frame.iloc[:0]
    sample_id = sample_id or f"sample-{seed}-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}"
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with ws.transaction() as con:
        if sample_rows.sample_exists(con, sample_id=sample_id):
            raise InputError(f"sample {sample_id!r} exists already; choose another --sample-id")
        sample_rows.insert_sample(
            con,
            rows=[
                (sample_id, r, s, float(p), seed, now)
                for r, s, p in zip(
                    sample["response_id"], sample["stratum"], sample["inclusion_prob"], strict=True
                )
            ],
        )
    return SampleResult(
        sample_id=sample_id,
        sample=sample.reset_index(drop=True),
        allocation=pd.DataFrame(alloc_rows),
    )
