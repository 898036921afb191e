"""Per-slice results, and the benchmark's 12-cell report.

:func:`by_slice` wraps any statistic (``agreement``, ``judge_metrics``, ``corrected_rate``,
...) and applies it to each value of a slice column (target model, level-1/2/3 category,
modality, language, aspect, or the humans' unanimity), so no metric is written twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.calibrate.ppi import (
    HUMAN_ONLY,
    MAX_PRIOR_LABELS,
    POOLED_CELLS,
    STRATIFIED,
    WILSON,
    CellsMean,
    RateData,
    RateResult,
    by_verdict_counts,
    no_narrower,
    rate_data,
    rate_from_data,
    stratified_mean,
    subset,
    verdict_rates,
    wilson_arrays,
    z_value,
)
from safecal.calibrate.results import Estimate

R = TypeVar("R")

MISSING_SLICE = "(missing)"
POOLED = "total (pooled)"
MEAN_OF_CELLS = "total (mean of cells)"
#: the ``kind`` of a :func:`benchmark_cells` row: one of the 12 cells, or a total (whose
#: level1_category and modality read ``all``)
CELL = "cell"
TOTAL = "total"


def slice_values(table: pd.DataFrame, by: str) -> pd.Series:
    """The slice column as strings, ``(missing)`` where empty."""
    if by not in table.columns:
        raise InputError(f"no slice column {by!r}; the table has {list(table.columns)}")
    col = table[by].astype("string").fillna(MISSING_SLICE)
    return col


def by_slice(
    func: Callable[..., R], table: pd.DataFrame, *, by: str, **kwargs: Any
) -> dict[str, R]:
    """``{slice value: func(rows of that slice, **kwargs)}``, values in sorted order."""
    values = slice_values(table, by)
    return {str(v): func(table[values == v], **kwargs) for v in sorted(values.unique())}


def unanimity(table: pd.DataFrame, raters: Sequence[str]) -> pd.Series:
    """How unanimous the human raters of each row were: ``unanimous`` (2+ ratings, one
    label), ``split`` (2+ labels), ``single`` (one rating) or missing (none). Judges look
    better on unanimous items; slice judge metrics by this column to see by how much."""
    from safecal.calibrate.vocab import normalize_labels

    missing = [c for c in raters if c not in table.columns]
    if missing:
        raise InputError(f"no rater column {missing}; the table has {list(table.columns)}")
    labels = pd.DataFrame({c: normalize_labels(table[c]) for c in raters}, index=table.index)
    n = labels.notna().sum(axis=1)
    distinct = labels.nunique(axis=1, dropna=True)
    out = np.where(
        n >= 2,
        np.where(distinct == 1, "unanimous", "split"),
        np.where(n == 1, "single", np.array(None, dtype=object)),
    )
    return pd.Series(out, index=table.index, dtype="string", name="unanimity")


def _estimates(row: dict[str, Any], name: str, value: float, lo: float, hi: float) -> None:
    row[name], row[f"{name}_low"], row[f"{name}_high"] = value, lo, hi


def benchmark_cells(
    table: pd.DataFrame,
    *,
    gold: str = "gold",
    judge: str = "judge",
    positive: Sequence[str] | str,
    weight: str | None = None,
    confidence: float = 0.9,
    model: str = "model",
    category: str = "level1_category",
    modality: str = "modality",
    score: str | None = None,
    max_prior_labels: float = MAX_PRIOR_LABELS,
) -> pd.DataFrame:
    """Per model, the benchmark's 12 cells (level-1 category x modality combination) and
    two totals, each labelled in the ``cell`` column:

    * every cell: the corrected rate with the judge's error **pooled across the model's
      cells** (:func:`calibrate.ppi.pooled_error`, method ``ppi-by-verdict-eb-pooled``):
      ``theta_c = q_c PPV_c + (1 - q_c) FOR_c`` with ``q_c`` the cell's judge-positive
      share and the judge's PPV and false-omission rate (the rectifier, written by
      verdict) partially pooled, empirical-Bayes beta-binomial, the between-cell spread
      ``tau^2`` in every interval. So a cell with 0-5 gold labels still gets an estimate,
      and 5 agreeing labels cannot give an interval as narrow as the raw judge's (the
      pool counts for at most ``max_prior_labels`` labels, which floors ``tau^2``).
      ``borrowed`` is true when more than half of the cell's estimate of the judge's
      error comes from the other cells (``pool_weight``); a cell whose corrected
      interval is not narrower than its human-only one reports the human-only rate
      (``fallback``: ``human_only``, ``fallback_reason``). Cells use the 0/1 verdict
      even with ``score``;
    * ``total (pooled)``: :func:`calibrate.corrected_rate` over all the model's responses
      (USB-SafeBench v1);
    * ``total (mean of cells)``: the unweighted mean of the cells (the later version's
      total). Its corrected rate is not the mean of the pooled cells (their shrinkage
      biases add up in the mean) but the stratified corrected rate with each cell's own
      PPV and false-omission rate, the pool borrowed only for a verdict side without a
      label (:func:`calibrate.ppi.stratified_mean`, method ``ppi-by-verdict-stratified``;
      ``pool_weight``: the share of the cells' 2 x 12 verdict-side rates borrowed); so it
      can differ a little from the mean of the cell rows. Always defined for the
      corrected rate.

    Columns: model, cell, kind (``cell`` or ``total``: a total's level1_category and
    modality read ``all``, which a category could also be called), level1_category,
    modality, n_labeled, n_unlabeled, n_invalid, then judge_rate / human_rate / corrected
    with ``_low`` and ``_high`` bounds, then method, borrowed, pool_weight, fallback,
    fallback_reason. One pass over the table
    (``np.bincount`` per cell), so a million responses take about a second.
    """
    for col in (model, category, modality):
        if col not in table.columns:
            raise InputError(f"no column {col!r}; the table has {list(table.columns)}")
    d = rate_data(table, gold=gold, judge=judge, positive=positive, weight=weight, score=score)
    assert d.keep is not None
    codes = []
    names = []
    for col in (model, category, modality):
        c, u = pd.factorize(slice_values(table, col), sort=True)
        codes.append(c)
        names.append([str(v) for v in u])
    key = (codes[0] * len(names[1]) + codes[1]) * len(names[2]) + codes[2]
    cells, group = np.unique(key, return_inverse=True)
    n_cells = len(cells)
    cell_model = cells // (len(names[1]) * len(names[2]))
    cell_cat = (cells // len(names[2])) % len(names[1])
    cell_mod = cells % len(names[2])
    invalid = np.bincount(group[~d.keep], minlength=n_cells)
    g = group[d.keep]
    counts = by_verdict_counts(d, g, n_cells)
    n_lab = np.bincount(g, weights=d.labeled.astype(float), minlength=n_cells).astype(int)
    m_all = np.bincount(g, minlength=n_cells)
    judge_w = wilson_arrays(counts.q * counts.m, counts.m, confidence)
    human = _human_arrays(d, g, n_cells, confidence)
    rows: list[dict[str, Any]] = []
    for mi, mname in enumerate(names[0]):
        idx = np.flatnonzero(cell_model == mi)
        sub = counts.take(idx)
        r = verdict_rates(sub, confidence, pool=True, max_prior_labels=max_prior_labels)
        h_width = human[idx, 2] - human[idx, 1]
        fb = np.isfinite(h_width) & (r.ci[:, 1] - r.ci[:, 0] >= h_width)
        for k, c in enumerate(idx):
            row: dict[str, Any] = {
                "model": mname,
                "cell": f"{names[1][cell_cat[c]]} x {names[2][cell_mod[c]]}",
                "kind": CELL,
                "level1_category": names[1][cell_cat[c]],
                "modality": names[2][cell_mod[c]],
                "n_labeled": int(n_lab[c]),
                "n_unlabeled": int(m_all[c] - n_lab[c]),
                "n_invalid": int(invalid[c]),
            }
            _estimates(row, "judge_rate", *judge_w[c])
            _estimates(row, "human_rate", *human[c])
            if fb[k]:
                _estimates(row, "corrected", *human[c])
            else:
                _estimates(row, "corrected", float(r.value[k]), *map(float, r.ci[k]))
            row["method"] = WILSON if fb[k] else POOLED_CELLS
            row["borrowed"] = bool(not fb[k] and r.pool_weight[k] > 0.5)
            row["pool_weight"] = 0.0 if fb[k] else float(r.pool_weight[k])
            row["fallback"] = HUMAN_ONLY if fb[k] else None
            row["fallback_reason"] = (
                no_narrower(
                    Estimate(float(r.value[k]), (float(r.ci[k, 0]), float(r.ci[k, 1]))),
                    Estimate(float(human[c, 0]), (float(human[c, 1]), float(human[c, 2]))),
                )
                if fb[k]
                else None
            )
            rows.append(row)
        body = rows[len(rows) - len(idx) :]
        whole = rate_from_data(subset(d, cell_model[g] == mi), confidence)
        pooled = _row(mname, POOLED, whole)
        pooled["n_invalid"] = int(invalid[idx].sum())
        rows.append(pooled)
        rows.append(_mean_of_cells(mname, body, stratified_mean(sub, r, confidence), confidence))
    return pd.DataFrame(rows)


def _human_arrays(d: RateData, g: np.ndarray, n_groups: int, confidence: float) -> np.ndarray:
    """Per group the human-only rate and Wilson bounds (``(G, 3)``; with weights Hajek's
    mean at Kish's effective n), as :func:`calibrate.ppi.human_only` per group."""
    lab = d.labeled
    w = np.where(lab, 1.0, 0.0) if d.weight is None else np.where(lab, d.weight, 0.0)
    sw = np.bincount(g, weights=w, minlength=n_groups)
    swy = np.bincount(g, weights=w * d.y, minlength=n_groups)
    sw2 = np.bincount(g, weights=w * w, minlength=n_groups)
    n_eff = np.divide(sw * sw, sw2, out=np.zeros(n_groups), where=sw2 > 0)
    p = np.divide(swy, sw, out=np.zeros(n_groups), where=sw > 0)
    out = wilson_arrays(p * n_eff, n_eff, confidence)
    out[:, 0] = np.where(n_eff > 0, p, math.nan)
    return out


def _row(model: str, cell: str, r: RateResult) -> dict[str, Any]:
    row: dict[str, Any] = {
        "model": model,
        "cell": cell,
        "kind": TOTAL,
        "level1_category": "all",
        "modality": "all",
        "n_labeled": r.n_labeled,
        "n_unlabeled": r.n_unlabeled,
        "n_invalid": r.n_invalid,
    }
    for name in ("judge_rate", "human_rate", "corrected"):
        est: Estimate = getattr(r, name)
        _estimates(row, name, est.value, *est.ci)
    row["method"] = r.corrected.method
    row["borrowed"] = False
    row["pool_weight"] = 0.0
    row["fallback"] = r.fallback or None
    row["fallback_reason"] = r.reason or None
    return row


def _mean_of_cells(
    model: str, rows: list[dict[str, Any]], mean: CellsMean, confidence: float
) -> dict[str, Any]:
    """Unweighted mean of the cells. The corrected rate is the stratified one
    (:func:`calibrate.ppi.stratified_mean`: each cell's own judge error, not the mean of
    the pooled cells); the judge and human-only ones are the means of the cells' rates
    with normal intervals from the cells' Wilson half-widths (cells are disjoint, so
    independent): ``se = sqrt(sum se_c^2) / C``. The human-only mean is undefined when a
    cell has no gold."""
    z = z_value(confidence)
    out: dict[str, Any] = {
        "model": model,
        "cell": MEAN_OF_CELLS,
        "kind": TOTAL,
        "level1_category": "all",
        "modality": "all",
        "n_labeled": sum(r["n_labeled"] for r in rows),
        "n_unlabeled": sum(r["n_unlabeled"] for r in rows),
        "n_invalid": sum(r["n_invalid"] for r in rows),
    }
    for name in ("judge_rate", "human_rate"):
        values = np.array([r[name] for r in rows], dtype=float)
        ses = np.array([(r[f"{name}_high"] - r[f"{name}_low"]) / (2 * z) for r in rows])
        if not len(values) or np.isnan(values).any():
            _estimates(out, name, math.nan, math.nan, math.nan)
            continue
        m = float(values.mean())
        se = float(math.sqrt(np.sum(ses**2)) / len(values))
        _estimates(out, name, m, max(0.0, m - z * se), min(1.0, m + z * se))
    _estimates(out, "corrected", mean.value, mean.low, mean.high)
    out["method"] = STRATIFIED
    # borrowed: more than half of the cells' 2 C verdict-side rates come from the pool
    out["borrowed"] = bool(mean.n_borrowed > len(rows))
    out["pool_weight"] = mean.n_borrowed / (2 * len(rows)) if rows else 0.0
    fell = sum(r["fallback"] is not None for r in rows)
    out["fallback"] = None
    out["fallback_reason"] = (
        f"{fell} of {len(rows)} cells report their human-only rate" if fell else None
    )
    return out
