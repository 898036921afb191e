"""Several samples, some drawn adaptively, as one design: each labeled response's weight.

Independent samples (``annotate sample``, whose probabilities depend on nothing labeled)
combine as independent draws: a response is in at least one with probability
``1 - prod_k (1 - pi_k)`` (the union; Horvitz & Thompson 1952 weights ``1 / pi``).

Rounds of ``annotate next`` are adaptive: round ``r`` draws, among the responses no earlier
sample drew (``U_r``), with probabilities ``pi_{r,i}`` computed from the gold of the
earlier rounds. Such probabilities are *conditional* on the history ``H_{r-1}``, and a
response drawn in round 1 has probability 0 in round 2, so the union formula is wrong for
them (it gives the response drawn in round 1 only its round-1 probability, although it
would also have had a chance in round 2). The design used instead is a **sequence of
conditionally independent samples** (multi-phase / martingale combination, as in Zrnic &
Candes 2024, "Active Statistical Inference", sec. 4, and the adaptive weights of Hadad et
al. 2021, PNAS 118(15)). Round ``r`` alone gives the conditionally unbiased estimate of
a total ``D = sum_i d_i``

    T_r = sum_{i labeled before r} d_i + sum_{i in S_r} d_i / pi_{r,i},   E[T_r | H_{r-1}] = D,

and the rounds combine as ``T = sum_r c_{r,i} T_r`` with per-response round weights
``c_{r,i} = m_{r,i} / sum_r' m_{r',i}``, ``m_{r,i}`` the round's *intensity* in the
response's stratum (its expected labels there over the unlabeled responses it drew from;
for an ``annotate sample`` sample, its size over all responses). Collecting the terms of
one response first drawn in phase ``s``:

    w_i = c_{s,i} / pi_{s,i} + sum_{r > s} c_{r,i},      T = sum_{labeled} w_i d_i,

so each labeled response carries one weight and every estimator that takes inverse
inclusion probabilities (PPI++, Hajek means, :mod:`calibrate.ppi`) uses ``1 / w_i``
unchanged. The weights ``c`` sum to 1 for every response, so ``T`` is unbiased when the
intensities are fixed in advance and, when they follow the data, the self-normalised
adaptive weighting of Hadad et al.: consistent and asymptotically normal. Weighting
rounds by intensity pools all rounds' labels of a stratum about equally per label (a
stratum that got 3 labels in round 1 and 30 in round 2 is not half-estimated from the 3).
tests/annotate/test_rounds.py checks by seeded simulation that the weighted mean is
unbiased and that PPI intervals keep their nominal coverage over adaptive rounds.

``w_i >= 1`` (an inclusion probability ``<= 1``) holds when
``pi_{s,i} <= m_{s,i} / sum_{r <= s} m_{r,i}``; :func:`probability_cap` gives this cap
and ``annotate next`` draws below it (it binds only when a round labels a large share of
what is left). An ``annotate sample`` drawn after the rounds with a larger probability
gets weight 1 (probability clipped to 1), the one approximation here.

Why hand-written: no library combines adaptive survey rounds into per-unit weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from safecal.annotate.sampling import STRATUM_COLUMNS
from safecal.annotate.store import Workspace
from safecal.annotate.store import rounds as round_rows
from safecal.annotate.store import samples as sample_rows


def stratum_keys(frame: pd.DataFrame, by: tuple[str, ...]) -> pd.Series:
    """The stratum of each row: its ``by`` columns joined by ``|`` (``all`` when none)."""
    cols = [STRATUM_COLUMNS[b] for b in by]
    if not cols:
        return pd.Series("all", index=frame.index, dtype=object)
    parts = [frame[c].astype(object).where(frame[c].notna(), "").astype(str) for c in cols]
    out = parts[0]
    for part in parts[1:]:  # vectorised; a row-wise join takes a minute on 100,000 rows
        out = out + "|" + part
    return out.astype(object)


def combined_weights(first: np.ndarray, prob: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    """``w_i`` of the module docstring for responses drawn in phase ``first[i]`` (0-based
    index into the rows of ``intensity``, shape (phases, responses)) with probability
    ``prob[i]``. A phase with no recorded intensity where it drew falls back to the
    response's own probability."""
    first = np.asarray(first, dtype=int)
    prob = np.asarray(prob, dtype=float)
    m = np.array(intensity, dtype=float, copy=True)
    cols = np.arange(m.shape[1])
    own = m[first, cols]
    m[first, cols] = np.where(own > 0, own, prob)
    c = m / m.sum(axis=0)
    later = np.arange(m.shape[0])[:, None] > first[None, :]
    return c[first, cols] / prob + (c * later).sum(axis=0)


def probability_cap(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """The largest probability a round of intensity ``current`` may give each response,
    ``m_s / sum_{r <= s} m_r``, so its weight stays ``>= 1`` (``previous``: the sum of the
    earlier phases' intensities for each response)."""
    total = np.asarray(previous, dtype=float) + np.asarray(current, dtype=float)
    return np.where(total > 0, np.asarray(current, dtype=float) / np.where(total > 0, total, 1), 1)


def union_probabilities(draws: pd.DataFrame) -> pd.DataFrame:
    """Independent samples: ``1 - prod(1 - pi)`` per response (response_id, inclusion_prob)."""
    if draws.empty:
        return pd.DataFrame(
            {"response_id": pd.Series(dtype="string"), "inclusion_prob": pd.Series(dtype=float)}
        )
    miss = draws.assign(miss=1 - draws["inclusion_prob"].astype(float))
    g = miss.groupby("response_id")["miss"].prod().reset_index()
    g["inclusion_prob"] = 1 - g.pop("miss")
    return g


def phase_intensities(ws: Workspace, frame: pd.DataFrame, phases: pd.DataFrame) -> np.ndarray:
    """``m_{r,i}`` (phases x rows of ``frame``): each phase's intensity in each response's
    stratum (module docstring). ``frame``: rows of the sampling frame; ``phases``:
    :func:`store.rounds.sample_phases` rows."""
    strata = round_rows.round_strata(ws)
    n_all = max(round_rows.response_count(ws), 1)
    out = np.zeros((len(phases), len(frame)))
    for k, ph in enumerate(phases.itertuples()):
        if pd.isna(ph.round):
            out[k] = float(ph.n_rows) / n_all
            continue
        mine = strata[strata["sample_id"] == ph.sample_id]
        rate = dict(
            zip(
                mine["stratum"],
                mine["n_expected"].astype(float) / mine["n_frame"].clip(lower=1),
                strict=True,
            )
        )
        by = tuple(b for b in str(ph.by_columns).split(",") if b)
        keys = stratum_keys(frame, by)
        m = keys.map(rate).fillna(0.0).to_numpy(float)
        if ph.aspect is not None and not pd.isna(ph.aspect):
            m = np.where(frame["aspect"].to_numpy() == ph.aspect, m, 0.0)
        out[k] = m
    return out


def inclusion_probabilities(ws: Workspace) -> pd.DataFrame:
    """response_id, inclusion_prob of every response a (non-honeypot) sample drew: the
    union formula when no sample is an adaptive round, else ``1 / w_i``."""
    draws = round_rows.sample_draws(ws)
    phases = round_rows.sample_phases(ws)
    if draws.empty or phases["round"].isna().all():
        return union_probabilities(draws[["response_id", "inclusion_prob"]])
    order = {s: k for k, s in enumerate(phases["sample_id"])}
    draws = draws.assign(phase=draws["sample_id"].map(order))
    first = draws.sort_values(["phase", "response_id"]).drop_duplicates("response_id")
    frame = sample_rows.sampling_frame(ws).set_index("response_id")
    frame = frame.loc[first["response_id"]].reset_index()
    m = phase_intensities(ws, frame, phases)
    w = combined_weights(first["phase"].to_numpy(int), first["inclusion_prob"].to_numpy(float), m)
    return pd.DataFrame(
        {
            "response_id": first["response_id"].to_numpy(),
            "inclusion_prob": np.minimum(1.0, 1.0 / w),
        }
    )


def previous_intensity(ws: Workspace, frame: pd.DataFrame) -> np.ndarray:
    """For each row of ``frame``, the summed intensity of every sample drawn so far."""
    phases = round_rows.sample_phases(ws)
    if phases.empty:
        return np.zeros(len(frame))
    return phase_intensities(ws, frame, phases).sum(axis=0)
