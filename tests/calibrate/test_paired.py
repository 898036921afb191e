"""Paired judge comparison against statsmodels' McNemar."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from safecal.calibrate import paired_test


def table(seed: int, n: int, acc_a: float, acc_b: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.random(n) < 0.4
    a = np.where(rng.random(n) < acc_a, g, ~g)
    b = np.where(rng.random(n) < acc_b, g, ~g)
    lab = lambda x: np.where(x, "unsafe", "safe_with_warning")  # noqa: E731
    return pd.DataFrame({"gold": lab(g), "a": lab(a), "b": lab(b)})


@pytest.mark.parametrize("n,exact", [(40, True), (400, False)])
def test_matches_statsmodels(n: int, exact: bool) -> None:
    t = table(1, n, 0.9, 0.75)
    r = paired_test(t, gold="gold", judge_a="a", judge_b="b", positive="unsafe", exact=exact)
    ra, rb = t["a"] == t["gold"], t["b"] == t["gold"]
    tab = [
        [int((ra & rb).sum()), int((ra & ~rb).sum())],
        [int((~ra & rb).sum()), int((~ra & ~rb).sum())],
    ]
    ref = mcnemar(tab, exact=exact, correction=True)
    assert r.p_value == pytest.approx(ref.pvalue)
    assert r.statistic == pytest.approx(ref.statistic)
    assert r.a_only == tab[0][1] and r.b_only == tab[1][0]
    # accuracy difference = (b - c) / n
    assert r.difference.value == pytest.approx((tab[0][1] - tab[1][0]) / n)
    assert r.difference.ci[0] <= r.difference.value <= r.difference.ci[1]


def test_hand_derived_exact() -> None:
    # 6 items only A right, 0 only B right: p = 2 * 0.5^6 = 1/32
    g = ["unsafe"] * 10
    a = ["unsafe"] * 10
    b = ["safe_with_warning"] * 6 + ["unsafe"] * 4
    r = paired_test(
        pd.DataFrame({"gold": g, "a": a, "b": b}), gold="gold", judge_a="a", judge_b="b"
    )
    assert r.p_value == pytest.approx(1 / 32)
    assert r.difference.value == pytest.approx(0.6)
