"""Our Dawid-Skene against an independent implementation, crowd-kit's ``DawidSkene``
(Toloka's crowdsourcing library), on seeded simulated long tables.

crowd-kit fits plain maximum likelihood (no priors) by EM from the majority-vote shares,
as ours does with its Dirichlet priors switched off (``smoothing`` near 0,
``prior_diagonal = prior_classes = 0``); no known labels (honeypots clamp posteriors in
ours, crowd-kit's ``true_labels`` differs in detail). Run for the same number of EM
iterations the two give the same iterates; run to their own stopping rules they give
the same labels (their stopping rules differ: crowd-kit stops when the evidence lower
bound stops rising, ours when no posterior moves, and EM is slow along flat
directions, so the posteriors can then differ by a few hundredths).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene

from safecal.annotate.dawid_skene import dawid_skene

CLASSES = ["unsafe", "safe_with_warning", "safe_with_refusal"]
PLAIN = {"smoothing": 1e-12, "prior_diagonal": 0.0, "prior_classes": 0.0}


def _long_table(seed: int, *, units: int = 300, per_unit: int = 3) -> pd.DataFrame:
    """``units`` units, true classes 30/30/40%, each labeled by ``per_unit`` of 5 raters
    of accuracy 0.9 down to 0.55 (errors spread evenly over the other classes)."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, units, p=[0.3, 0.3, 0.4])
    accuracy = np.array([0.9, 0.8, 0.7, 0.6, 0.55])
    rows = []
    for i in range(units):
        for j in rng.choice(5, per_unit, replace=False):
            k = int(truth[i])
            wrong = [c for c in range(3) if c != k]
            said = k if rng.random() < accuracy[j] else int(rng.choice(wrong))
            rows.append((f"u{i:04d}", f"r{j}", CLASSES[said]))
    return pd.DataFrame(rows, columns=["unit", "rater", "label"])


def _crowd_kit(long: pd.DataFrame, **kwargs: float) -> DawidSkene:
    with warnings.catch_warnings():  # crowd-kit's pandas deprecation warnings
        warnings.simplefilter("ignore")
        return DawidSkene(**kwargs).fit(long.rename(columns={"unit": "task", "rater": "worker"}))


def test_same_em_iterates_as_crowd_kit() -> None:
    """60 EM iterations each from the same start: posteriors, class priors and every
    rater's confusion matrix agree to 1e-6, and so every label."""
    for seed in (7, 9):
        long = _long_table(seed)
        ours = dawid_skene(long, classes=CLASSES, max_iter=60, tol=0.0, **PLAIN)
        assert ours.iterations == 60
        ck = _crowd_kit(long, n_iter=60, tol=-np.inf)
        assert len(ck.loss_history_) == 60
        theirs = ck.probas_.reindex(index=ours.posteriors.index, columns=CLASSES)
        assert np.abs(theirs.to_numpy() - ours.posteriors.to_numpy()).max() < 1e-6
        assert (theirs.idxmax(axis=1) == ours.posteriors.idxmax(axis=1)).all()
        assert np.abs(ck.priors_.reindex(CLASSES).to_numpy() - ours.priors.to_numpy()).max() < 1e-6
        for rater, mine in ours.confusion.items():
            # crowd-kit: rows (worker, reported label), columns the true label
            other = ck.errors_.loc[rater].T.reindex(index=CLASSES, columns=CLASSES)
            assert np.abs(other.to_numpy() - mine.to_numpy()).max() < 1e-6, rater
        # and the fit recovers the simulation: the best rater's diagonal near 0.9
        assert np.diag(ours.confusion["r0"].to_numpy()).mean() > 0.8


def test_same_labels_as_crowd_kit_at_convergence() -> None:
    """Each to its own stopping rule, 5 labels per unit: the same label on at least 99%
    of units (all of them in these draws)."""
    for seed in (7, 8):
        long = _long_table(seed, per_unit=5)
        ours = dawid_skene(long, classes=CLASSES, max_iter=500, tol=1e-9, **PLAIN)
        ck = _crowd_kit(long, n_iter=500, tol=1e-9)
        theirs = ck.probas_.reindex(index=ours.posteriors.index, columns=CLASSES)
        agree = (theirs.idxmax(axis=1) == ours.posteriors.idxmax(axis=1)).mean()
        assert agree >= 0.99
        assert np.abs(theirs.to_numpy() - ours.posteriors.to_numpy()).max() < 0.1
