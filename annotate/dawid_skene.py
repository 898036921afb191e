"""Dawid-Skene: soft labels and per-annotator confusion matrices by EM.

Dawid & Skene (1979), "Maximum likelihood estimation of observer error-rates using
the EM algorithm", JRSS C 28(1). Each unit i has a hidden true class k with prior
``p_k``; annotator j reports class l with probability ``pi_j[k, l]``. EM alternates

* E-step: ``T_ik ∝ p_k * prod_j prod_l pi_j[k, l] ** n_ijl``  (posterior of the class);
* M-step: ``pi_j[k, l] = (sum_i T_ik n_ijl + a + d 1[k = l]) / (sum_i T_ik n_ij. + K a + d)``,
  ``p_k = (sum_i T_ik + b) / (N + K b)``,

starting from the majority-vote proportions. This is EM for the posterior mode
(MAP) under Dirichlet priors: each confusion row gets ``a`` (``smoothing``, default
0.5) pseudo-labels on every class plus ``d`` (``prior_diagonal``, default 2) on the
right one, i.e. the prior belief "better than chance" worth ``K a + d`` labels (for
three classes, accuracy 0.71 worth 3.5 labels); the class proportions get ``b``
(``prior_classes``, default 1) per class. On hundreds of labels the priors barely
move the estimates; on a handful they keep the fit from collapsing onto one
annotator. Plain maximum likelihood (``a`` near 0, ``d = b = 0``) with two annotators
and no known labels is not identified (either annotator can be "the right one") and
drives posteriors to 0 or 1. Written by hand because none of the runtime dependencies
provides it; crowd-kit's ``DawidSkene`` (a test dependency only) checks it: with the
priors off, the same EM iterates (tests/annotate/test_dawid_skene_crowdkit.py).

Known labels (``known``, e.g. honeypots): a unit whose true class is known keeps
``T_ik = 1[k = known_i]`` from the start and through every E-step (the same idea as
crowd-kit's ``true_labels``), so it measures the annotators' confusion matrices
directly; the prior ``p_k`` is estimated from the units *without* a known label (the
known units are planted, not drawn from the population), or over all units when every
unit is known. An annotator who misses honeypots gets a lower diagonal ``pi_j[k, k]``
and so counts for less in every other unit's posterior; nothing is thrown away.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    smoothing: float = 0.5,
    prior_diagonal: float = 2.0,
    prior_classes: float = 1.0,
    max_iter: int = 200,
    tol: float = 1e-8,
    known: Mapping[str, str] | None = None,
) -> DawidSkeneResult:
    """Fit Dawid-Skene to a long table ``(unit, rater, label)``.

    ``known`` maps units to their known class (honeypots); those units' posteriors stay
    clamped to it (see the module docstring). Known units absent from ``long`` are
    ignored (they carry no label to learn from).
    """
    classes = list(classes)
    unknown = set(long[label]) - set(classes)
    if unknown:
        raise ValueError(f"labels outside the classes {classes}: {sorted(unknown)}")
    known = dict(known or {})
    bad = {v for v in known.values() if v not in classes}
    if bad:
        raise ValueError(f"known labels outside the classes {classes}: {sorted(bad)}")
    units = pd.Index(sorted(long[unit].unique()))
    raters = sorted(long[rater].unique())
    K, n_units, J = len(classes), len(units), len(raters)
    n = np.zeros((n_units, J, K))
    ui = units.get_indexer(long[unit])
    ri = pd.Index(raters).get_indexer(long[rater])
    ci = pd.Index(classes).get_indexer(long[label])
    np.add.at(n, (ui, ri, ci), 1.0)
    clamped = np.zeros(n_units, dtype=bool)
    fixed = np.zeros((n_units, K))
    for u, c in known.items():
        i = units.get_indexer([u])[0]
        if i >= 0:
            clamped[i] = True
            fixed[i, classes.index(c)] = 1.0
    free = ~clamped if (~clamped).any() else np.ones(n_units, dtype=bool)
    T = n.sum(axis=1)
    T = T / T.sum(axis=1, keepdims=True)
    T[clamped] = fixed[clamped]
    it = 0
    prior_pi = smoothing + prior_diagonal * np.eye(K)[None, :, :]
    for it in range(1, max_iter + 1):  # noqa: B007 (it is reported)
        p = T[free].sum(axis=0) + prior_classes
        p /= p.sum()
        pi = np.einsum("ik,ijl->jkl", T, n) + prior_pi
        pi /= pi.sum(axis=2, keepdims=True)
        log_t = np.log(np.clip(p, 1e-300, None))[None, :] + np.einsum("ijl,jkl->ik", n, np.log(pi))
        log_t -= log_t.max(axis=1, keepdims=True)
        new = np.exp(log_t)
        new /= new.sum(axis=1, keepdims=True)
        new[clamped] = fixed[clamped]
        delta = float(np.abs(new - T).max())
        T = new
        if delta < tol:
            break
    p = T[free].sum(axis=0) + prior_classes
    p /= p.sum()
    pi = np.einsum("ik,ijl->jkl", T, n) + prior_pi
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
