"""Do two judges really differ? A paired test on the same items.

On the items both judges answered validly and humans labelled, each judge is right or
wrong (binary view with ``positive``, exact label otherwise). With ``b`` the items only
judge A gets right and ``c`` those only B gets right, McNemar's test (McNemar 1947) asks
whether ``b`` and ``c`` differ more than chance: exact two-sided binomial p-value
``P(Binom(b + c, 1/2) as extreme as b)`` when ``b + c < 25``, else the continuity-corrected
chi-square ``(|b - c| - 1)^2 / (b + c)`` on one degree of freedom (as
``statsmodels.stats.contingency_tables.mcnemar``). Beside it: the accuracy difference
``(b - c) / n`` with a paired bootstrap percentile interval (items resampled jointly).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from safecal.calibrate.bootstrap import bootstrap, percentile_estimate
from safecal.calibrate.results import Estimate
from safecal.calibrate.vocab import infer_categories, label_list, normalize_labels


@dataclass(frozen=True)
class PairedResult:
    n: int
    a_only: int  # b: items only judge A gets right
    b_only: int  # c: items only judge B gets right
    statistic: float
    p_value: float
    method: str
    accuracy_a: float
    accuracy_b: float
    difference: Estimate  # accuracy A - accuracy B

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "a_only": self.a_only,
            "b_only": self.b_only,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "method": self.method,
            "accuracy_a": self.accuracy_a,
            "accuracy_b": self.accuracy_b,
            "difference": self.difference.to_dict(),
        }


MCNEMAR_EXACT = "McNemar exact (binomial)"
MCNEMAR_CHI2 = "McNemar chi-square, continuity-corrected"


def mcnemar(b: int, c: int, *, exact: bool | None = None) -> tuple[float, float, str]:
    """McNemar's test on the discordant counts ``b`` and ``c``: ``(statistic, p-value,
    method)``, exact binomial when ``exact`` (default: when ``b + c < 25``), else the
    continuity-corrected chi-square (module docstring)."""
    from scipy import stats as sstats  # heavy: imported when used

    use_exact = (b + c < 25) if exact is None else exact
    if b + c == 0:
        return 0.0, 1.0, "no discordant items"
    if use_exact:
        return float(min(b, c)), float(sstats.binomtest(b, b + c, 0.5).pvalue), MCNEMAR_EXACT
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    return statistic, float(sstats.chi2.sf(statistic, 1)), MCNEMAR_CHI2


def paired_test(
    table: pd.DataFrame,
    *,
    gold: str,
    judge_a: str,
    judge_b: str,
    positive: Iterable[str] | str | None = None,
    exact: bool | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> PairedResult:
    """McNemar's test (and a paired bootstrap interval) for two judges on the same items."""
    g = normalize_labels(table[gold])
    a = normalize_labels(table[judge_a])
    b = normalize_labels(table[judge_b])
    vocab = infer_categories(g.dropna().unique())
    keep = g.notna() & a.isin(vocab) & b.isin(vocab)
    g, a, b = g[keep], a[keep], b[keep]
    if positive is not None:
        pos = label_list(positive) or []  # any case: --positive Unsafe is unsafe
        g, a, b = g.isin(pos), a.isin(pos), b.isin(pos)
    right_a = (a == g).to_numpy(bool)
    right_b = (b == g).to_numpy(bool)
    n = int(keep.sum())
    nb = int((right_a & ~right_b).sum())
    nc = int((~right_a & right_b).sum())
    statistic, p, method = mcnemar(nb, nc, exact=exact)
    # four patterns: both right, only A, only B, both wrong -> accuracy difference
    freq = np.array([(right_a & right_b).sum(), nb, nc, (~right_a & ~right_b).sum()], float)
    diff_of = np.array([0.0, 1.0, -1.0, 0.0])

    def stat(w: np.ndarray) -> dict[str, np.ndarray]:
        return {"d": (w @ diff_of) / w.sum(axis=-1)}

    point = (nb - nc) / n if n else float("nan")
    boot = bootstrap(freq, stat, n_boot=n_boot, seed=seed)["d"] if n and n_boot else np.array([])
    return PairedResult(
        n=n,
        a_only=nb,
        b_only=nc,
        statistic=float(statistic),
        p_value=p,
        method=method,
        accuracy_a=float(right_a.mean()) if n else float("nan"),
        accuracy_b=float(right_b.mean()) if n else float("nan"),
        difference=percentile_estimate(point, boot, confidence),
    )
