"""Exact threshold search over a judge's scores.

A scored judge says positive when ``score >= t``. :func:`threshold_table` evaluates
*every* distinct score as ``t`` at once: sort the scores in decreasing order, take
cumulative sums of positives and negatives, and read the confusion matrix of each
threshold at the last row holding that score. That is O(n log n) for all thresholds
together (the sort), against O(n) per threshold for scikit-learn's metric functions
(``cohen_kappa_score`` and friends evaluate one labelling at a time), which is why this
is written by hand. ``sklearn.metrics.roc_curve`` does the same sweep but returns only
rates and drops thresholds; we need the counts to derive kappa and F1.

Per threshold, with ``n = tp + fp + tn + fn``, ``P = tp + fn``, ``N = fp + tn``:

* Cohen's kappa (Cohen 1960): ``(p_o - p_e) / (1 - p_e)`` with ``p_o = (tp + tn) / n``
  and ``p_e = ((tp + fp) P + (fn + tn) N) / n^2`` (0 when ``p_e = 1``, i.e. one label only);
* F1 = ``2 tp / (2 tp + fp + fn)``;
* Youden's J (Youden 1950) = TPR - FPR = ``tp / P - fp / N``;
* FPR = ``fp / N``, FNR = ``fn / P``;
* cost = ``(c_fp fp + c_fn fn) / n`` (expected cost per item; lower is better).

:func:`tune_threshold` picks the best row; ties go to the highest threshold (the most
conservative positive call).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

OBJECTIVES = ("kappa", "f1", "youden", "cost", "fpr_at_fnr")


def threshold_table(
    y_true: np.ndarray | pd.Series | list[int],
    score: np.ndarray | pd.Series | list[float],
    *,
    cost_fp: float = 1.0,
    cost_fn: float = 1.0,
) -> pd.DataFrame:
    """One row per distinct score (decreasing): the confusion counts and metrics of
    the rule ``positive iff score >= threshold``. See the module docstring."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError("y_true and score must be 1-d and of the same length")
    if len(s) == 0:
        raise ValueError("no scores")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN; drop invalid verdicts first")
    order = np.argsort(-s)  # ties are merged below, so the sort need not be stable
    return pd.DataFrame(table_from_sorted(y[order], s[order], cost_fp=cost_fp, cost_fn=cost_fn))


def table_from_sorted(
    y_sorted: np.ndarray, s_sorted: np.ndarray, *, cost_fp: float = 1.0, cost_fn: float = 1.0
) -> dict[str, np.ndarray]:
    """The columns of :func:`threshold_table` (as arrays) for scores already sorted in
    decreasing order, in O(n). Cross-validation sorts once and passes each training
    fold's rows in that order (no DataFrame per fold: building one costs more than the
    search)."""
    y_sorted = np.asarray(y_sorted, dtype=bool)
    s = s_sorted = np.asarray(s_sorted, dtype=float)
    y = y_sorted
    if len(s) == 0:
        raise ValueError("no scores")
    tp_cum = np.cumsum(y_sorted)
    fp_cum = np.cumsum(~y_sorted)
    # last index of each run of equal scores (the sort is decreasing)
    last = np.flatnonzero(np.r_[s_sorted[1:] != s_sorted[:-1], True])
    tp = tp_cum[last].astype(np.int64)
    fp = fp_cum[last].astype(np.int64)
    n = len(s)
    pos = int(y.sum())
    neg = n - pos
    fn = pos - tp
    tn = neg - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        p_o = (tp + tn) / n
        p_e = ((tp + fp) * pos + (fn + tn) * neg) / float(n) ** 2
        kappa = np.where(p_e < 1, (p_o - p_e) / (1 - p_e), 0.0)
        denom = 2 * tp + fp + fn
        f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
        tpr = tp / pos if pos else np.full(len(tp), np.nan)
        fpr = fp / neg if neg else np.full(len(tp), np.nan)
        fnr = fn / pos if pos else np.full(len(tp), np.nan)
    return {
        "threshold": s_sorted[last],
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "cohen_kappa": kappa,
        "f1": f1,
        "youden_j": tpr - fpr,
        "fpr": fpr,
        "fnr": fnr,
        "cost": (cost_fp * fp + cost_fn * fn) / n,
    }


@dataclass(frozen=True)
class ThresholdChoice:
    """The chosen threshold and the row of :func:`threshold_table` it came from."""

    threshold: float
    objective: str
    value: float
    row: dict[str, float]
    feasible: bool = True  # fpr_at_fnr: False when no threshold meets the cap


def tune_threshold(
    y_true: np.ndarray | pd.Series | list[int],
    score: np.ndarray | pd.Series | list[float],
    *,
    objective: str = "kappa",
    cost_fp: float = 1.0,
    cost_fn: float = 1.0,
    max_fnr: float = 0.1,
) -> ThresholdChoice:
    """The exact optimum of ``objective`` over all distinct scores.

    ``kappa``, ``f1``, ``youden``: maximised; ``cost``: ``(c_fp fp + c_fn fn) / n``
    minimised; ``fpr_at_fnr``: the lowest FPR among thresholds with FNR <= ``max_fnr``
    (ties: lower FNR); when none meets the cap, the threshold with the lowest FNR,
    flagged ``feasible=False``. Ties go to the highest threshold.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, not {objective!r}")
    table = threshold_table(y_true, score, cost_fp=cost_fp, cost_fn=cost_fn)
    return choose_threshold(table, objective=objective, max_fnr=max_fnr)


def choose_threshold(
    table: pd.DataFrame | dict[str, np.ndarray], *, objective: str = "kappa", max_fnr: float = 0.1
) -> ThresholdChoice:
    """The best row of a :func:`threshold_table` (see :func:`tune_threshold`)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, not {objective!r}")
    col = {k: np.asarray(v) for k, v in table.items()}
    feasible = True
    if objective == "fpr_at_fnr":
        ok = col["fnr"] <= max_fnr + 1e-12
        if ok.any():
            fpr = np.where(ok, col["fpr"], np.inf)
            best = np.flatnonzero(fpr == fpr.min())
            index = int(best[np.argmin(col["fnr"][best])])
        else:
            feasible = False
            index = int(np.argmin(col["fnr"]))
        value = float(col["fpr"][index])
    else:
        name = {"kappa": "cohen_kappa", "f1": "f1", "youden": "youden_j", "cost": "cost"}[objective]
        values = col[name].astype(float)
        values = -values if objective == "cost" else values
        values = np.nan_to_num(values, nan=-np.inf)
        index = int(np.argmax(values))  # first maximum = highest threshold
        value = float(col[name][index])
    row = {k: float(v[index]) for k, v in col.items()}
    return ThresholdChoice(
        threshold=float(col["threshold"][index]),
        objective=objective,
        value=value,
        row=row,
        feasible=feasible,
    )
