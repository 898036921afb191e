"""The AUPRC (average precision) interval: exact on the positives, never a point at 12/12,
coverage checked by seeded simulation at n = 10, 20, 50 and prevalence 0.05-0.5."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from safecal.calibrate.intervals import AP_EXACT, average_precision_interval
from safecal.calibrate.judge_metrics import judge_metrics


def test_twelve_of_twelve_ranked_right_is_not_a_point() -> None:
    t = pd.DataFrame(
        {
            "gold": ["1"] * 6 + ["0"] * 6,
            "judge": ["1"] * 6 + ["0"] * 6,
            "score": [0.9, 0.8, 0.85, 0.95, 0.7, 0.75] + [0.1, 0.2, 0.3, 0.15, 0.05, 0.25],
        }
    )
    r = judge_metrics(t, positive="1", score="score")
    assert r.auprc is not None and r.auprc.value == 1.0
    assert r.auprc.method == AP_EXACT == "clopper-pearson-positives"
    # Clopper-Pearson of 6 successes in 6: lower (alpha / 2)^(1 / 6), upper 1
    assert r.auprc.ci == pytest.approx((0.025 ** (1 / 6), 1.0))


def test_weighted_auprc_interval_uses_the_positives_effective_n() -> None:
    t = pd.DataFrame(
        {
            "gold": ["1", "1", "1", "1", "0", "0", "0", "0"],
            "judge": ["1", "1", "1", "0", "0", "0", "1", "0"],
            "score": [0.9, 0.8, 0.7, 0.3, 0.2, 0.1, 0.75, 0.05],
            "p": [0.5, 0.25, 0.5, 0.25, 0.5, 0.5, 0.25, 0.25],
        }
    )
    r = judge_metrics(t, positive="1", score="score", weight="p")
    w = 1 / t["p"][t["gold"] == "1"].to_numpy()
    n_eff = w.sum() ** 2 / (w * w).sum()  # Kish: (2+4+2+4)^2 / (4+16+4+16) = 3.6
    assert n_eff == pytest.approx(3.6)
    lo, hi = average_precision_interval(r.auprc.value, n_eff, confidence=0.95)
    assert r.auprc.ci == pytest.approx((lo, hi))


@pytest.mark.slow
@pytest.mark.parametrize("separation", [1.0, 2.5])
def test_auprc_interval_coverage(separation: float) -> None:
    """Binormal scores (positives shifted by ``separation``): the 95% interval covers the
    population average precision in at least 92% of 400 draws per cell."""
    rng = np.random.default_rng(7)
    for prevalence in (0.05, 0.2, 0.5):
        big = rng.random(200_000) < prevalence
        truth = average_precision_score(big, rng.normal(size=big.size) + separation * big)
        for n in (10, 20, 50):
            covered = drawn = 0
            while drawn < 400:
                y = rng.random(n) < prevalence
                if not 0 < y.sum() < n:
                    continue
                drawn += 1
                ap = average_precision_score(y, rng.normal(size=n) + separation * y)
                lo, hi = average_precision_interval(ap, float(y.sum()), confidence=0.95)
                covered += lo <= truth <= hi
            assert covered / drawn >= 0.92, (prevalence, n, covered / drawn)
