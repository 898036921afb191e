"""Dawid-Skene: soft labels and per-annotator confusion matrices by EM.

Dawid & Skene (1979), "Maximum likelihood estimation of observer error-rates using
the EM algorithm", JRSS C 28(1). Each unit i has a hidden true class k with prior
``p_k``; annotator j reports class l with probability ``pi_j[k, l]``. EM alternates

* E-step: ``T_ik ∝ p_k * prod_j prod_l pi_j[k, l] ** n_ijl``  (posterior of the class);
* M-step: ``pi_j[k, l] = (sum_i T_ik n_ijl + a) / (sum_i T_ik n_ij. + K a)``,
  ``p_k = mean_i T_ik``,

starting from the majority-vote proportions. ``a`` (default 0.01) is additive
smoothing so an annotator who never saw a class has a defined row. Written by hand
because none of the installed libraries provides it (crowd-kit is not a dependency).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class DawidSkeneResult:
    """Posteriors (one row per unit, one column per class), class priors,
    confusion matrices (annotator -> DataFrame true x reported) and iterations."""

    posteriors: pd.DataFrame
    priors: pd.Series
    confusion: dict[str, pd.DataFrame]
    iterations: int


def dawid_skene(
    long: pd.DataFrame,
    *,
    classes: list[str] | tuple[str, ...],
    unit: str = "unit",
    rater: str = "rater",
    label: str = "label",
    smoothing: float = 0.01,
    max_iter: int = 200,
    tol: float = 1e-8,
) -> DawidSkeneResult:
    """Fit Dawid-Skene to a long table ``(unit, rater, label)``."""
    classes = list(classes)
    unknown = set(long[label]) - set(classes)
    if unknown:
        raise ValueError(f"labels outside the classes {classes}: {sorted(unknown)}")
    units = pd.Index(sorted(long[unit].unique()))
    raters = sorted(long[rater].unique())
    K, n_units, J = len(classes), len(units), len(raters)
    n = np.zeros((n_units, J, K))
    ui = units.get_indexer(long[unit])
    ri = pd.Index(raters).get_indexer(long[rater])
    ci = pd.Index(classes).get_indexer(long[label])
    np.add.at(n, (ui, ri, ci), 1.0)
    T = n.sum(axis=1)
    T = T / T.sum(axis=1, keepdims=True)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (it is reported)
        p = T.mean(axis=0)
        pi = np.einsum("ik,ijl->jkl", T, n) + smoothing
        pi /= pi.sum(axis=2, keepdims=True)
        log_t = np.log(np.clip(p, 1e-300, None))[None, :] + np.einsum("ijl,jkl->ik", n, np.log(pi))
        log_t -= log_t.max(axis=1, keepdims=True)
        new = np.exp(log_t)
        new /= new.sum(axis=1, keepdims=True)
        delta = float(np.abs(new - T).max())
        T = new
        if delta < tol:
            break
    p = T.mean(axis=0)
    pi = np.einsum("ik,ijl->jkl", T, n) + smoothing
    pi /= pi.sum(axis=2, keepdims=True)
    confusion = {
        r: pd.DataFrame(
            pi[j], index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="reported")
        )
        for j, r in enumerate(raters)
    }
    return DawidSkeneResult(
        posteriors=pd.DataFrame(T, index=units, columns=classes),
        priors=pd.Series(p, index=classes),
        confusion=confusion,
        iterations=it,
    )
