"""Bootstrap intervals cover the truth at their nominal rate (seeded simulations)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from safecal.calibrate import judge_metrics
from safecal.calibrate.agreement import agreement_from_codes


def test_kappa_and_ac1_intervals_cover() -> None:
    """Two raters drawn from a known joint distribution. Population values: Cohen's kappa
    (trace - sum row*col) / (1 - sum row*col); Fleiss' kappa (Scott's pi for two raters)
    with pi_k = (row_k + col_k) / 2 and P_e = sum pi_k^2; AC1 with
    P_e = sum pi_k (1 - pi_k) / (K - 1). 95% intervals over 200 items should cover each
    in about 95% of 200 trials."""
    joint = np.array([[0.30, 0.05, 0.02], [0.06, 0.25, 0.04], [0.02, 0.04, 0.22]])
    row, col = joint.sum(1), joint.sum(0)
    pe = (row * col).sum()
    cohen_truth = (np.trace(joint) - pe) / (1 - pe)
    pik = (row + col) / 2
    fleiss_truth = (np.trace(joint) - (pik**2).sum()) / (1 - (pik**2).sum())
    pe_g = (pik * (1 - pik)).sum() / 2
    ac1_truth = (np.trace(joint) - pe_g) / (1 - pe_g)
    rng = np.random.default_rng(11)
    trials, n = 200, 200
    cover = np.zeros(3)
    for _ in range(trials):
        cells = rng.choice(9, size=n, p=joint.ravel())
        codes = np.stack([cells // 3, cells % 3], axis=1)
        r = agreement_from_codes(
            codes, ["a", "b", "c"], n_boot=400, seed=int(rng.integers(1 << 31))
        )
        cover += [
            r.cohen_kappa.ci[0] <= cohen_truth <= r.cohen_kappa.ci[1],
            r.fleiss_kappa.ci[0] <= fleiss_truth <= r.fleiss_kappa.ci[1],
            r.gwet_ac1.ci[0] <= ac1_truth <= r.gwet_ac1.ci[1],
        ]
    assert ((0.91 <= cover / trials) & (cover / trials <= 0.98)).all(), cover / trials


def test_judge_accuracy_and_recall_intervals_cover() -> None:
    rng = np.random.default_rng(12)
    trials, n = 200, 300
    prevalence, tpr, tnr = 0.3, 0.8, 0.9
    accuracy_truth = prevalence * tpr + (1 - prevalence) * tnr
    cover_acc = cover_rec = 0
    for _ in range(trials):
        y = rng.random(n) < prevalence
        yhat = np.where(y, rng.random(n) < tpr, rng.random(n) > tnr)
        t = pd.DataFrame({"gold": np.where(y, "1", "0"), "judge": np.where(yhat, "1", "0")})
        r = judge_metrics(t, positive="1", n_boot=400, seed=int(rng.integers(1 << 31)))
        cover_acc += r.accuracy.ci[0] <= accuracy_truth <= r.accuracy.ci[1]
        cover_rec += r.recall.ci[0] <= tpr <= r.recall.ci[1]
    assert 0.91 <= cover_acc / trials <= 0.98
    assert 0.91 <= cover_rec / trials <= 0.98
