"""Corrected attack-success and refusal rates: prediction-powered inference (PPI++).

The judge labels every response; humans label a sample. With ``Yhat_i`` the judge's
binary verdict (1 = positive; or its score P(positive) when ``score`` is given) on all ``M``
responses with a valid verdict, ``Y_i`` the
human gold on the labeled sample ``L`` and ``w_i = 1 / pi_i`` the inverse inclusion
probabilities (all 1 without ``weight``), the estimator is

    theta = lambda * mean_{all M}(Yhat) + sum_L w_i (Y_i - lambda Yhat_i) / sum_L w_i

the judge rate, rectified by the human-measured judge error (Angelopoulos, Duchi & Zrnic
2023, "PPI++: Efficient prediction-powered inference", arXiv 2311.01453). The rectifier is
the Horvitz-Thompson (Hajek, ratio) mean over the sample, so a stratified or unequal-
probability sample estimates the population's error. Without weights and with the
labeled rows taken out of the first mean this is PPI++'s mean estimator exactly (with
``lambda' = lambda (M - n) / M``).

Variance, by linearization over the ``M`` responses (each an independent draw of the
population the benchmark represents, Poisson sampling into ``L``):

    psi_i = lambda (Yhat_i - mean Yhat) + S_i g_i ((Y_i - Ybar_w) - lambda (Yhat_i - Yhatbar_w))
    Var(theta) = sum_i psi_i^2 / M^2,   g_i = w_i M / sum_L w

(``S_i`` = 1 on labeled rows). This keeps the covariance between the two terms, so it
reduces to ``Var(Y) / n`` when every response is labeled. The power-tuning ``lambda``
minimises it in closed form, ``lambda = -sum b_i a_i / sum a_i^2`` with
``a_i = (Yhat_i - mean Yhat) - S_i g_i (Yhat_i - Yhatbar_w)``, ``b_i = S_i g_i (Y_i - Ybar_w)``,
clipped to [0, 1] (0: human labels only; 1: plain PPI).

The interval is PPI++'s CLT interval ``theta +- z sqrt(Var)`` made fit for the small labeled
samples of single benchmark cells (:func:`ppi_interval`): ``Var`` with ``n - 1`` degrees of
freedom, Student's ``t_{n-1}`` quantile, and Wilson's score form at the effective sample size
``theta (1 - theta) / Var``. In simulation (tests/calibrate/test_ppi.py) the plain CLT interval
covered 80-85% at a nominal 90% with 10-30 labels per cell; this one 88-92%, and both agree
with each other on large samples. When ``lambda`` is 0 the estimate is the human-only rate
and carries its Wilson interval (the CLT interval would collapse to a point when every
labeled item has the same gold label). Values are clipped to [0, 1].

Beside it: the raw judge rate (Wilson interval over all judged responses; it carries the
judge's bias, which no interval covers) and the human-only rate (Wilson 1927 interval; with
weights, the Hajek mean with Kish's effective sample size ``(sum w)^2 / sum w^2``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.calibrate.results import Estimate
from safecal.calibrate.vocab import label_list, label_vocabulary, normalize_labels


def z_value(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, not {confidence}")
    return NormalDist().inv_cdf((1 + confidence) / 2)


def wilson(successes: float, n: float, confidence: float = 0.9) -> Estimate:
    """Rate ``successes / n`` with the Wilson score interval (Wilson 1927)."""
    if n <= 0:
        return Estimate(math.nan, (math.nan, math.nan))
    z = z_value(confidence)
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    # se: the Wilson half-width over z (not 0 at p = 0 or 1), used to combine cells
    return Estimate(float(p), (lo, hi), se=(hi - lo) / (2 * z))


@dataclass(frozen=True)
class PPIFit:
    value: float
    se: float
    lam: float


def ppi_mean(
    yhat: np.ndarray,
    y: np.ndarray,
    labeled: np.ndarray,
    weight: np.ndarray | None = None,
    *,
    lam: float | None = None,
) -> PPIFit:
    """The PPI++ estimate of the population mean of ``y`` (module docstring).

    ``yhat``: (M,) judge predictions on all rows; ``y``: (M,) gold (ignored where not
    ``labeled``); ``labeled``: (M,) bool; ``weight``: (M,) ``1 / inclusion probability``
    (used on labeled rows). ``lam`` fixes lambda instead of tuning it.
    """
    yhat = np.asarray(yhat, dtype=float)
    y = np.where(labeled, np.asarray(y, dtype=float), 0.0)
    s = np.asarray(labeled, dtype=bool)
    m = len(yhat)
    n = int(s.sum())
    if n == 0 or m == 0:
        return PPIFit(math.nan, math.nan, math.nan)
    w = np.ones(m) if weight is None else np.where(s, np.asarray(weight, dtype=float), 0.0)
    w = np.where(s, w, 0.0)
    g = w * m / w.sum()
    ybar_w = (w * y).sum() / w.sum()
    yhbar_w = (w * yhat).sum() / w.sum()
    a = (yhat - yhat.mean()) - s * g * (yhat - yhbar_w)
    b = s * g * (y - ybar_w)
    if lam is None:
        den = (a * a).sum()
        lam = float(np.clip(-(a * b).sum() / den, 0.0, 1.0)) if den > 0 else 0.0
    value = lam * yhat.mean() + ybar_w - lam * yhbar_w
    psi = b + lam * a
    se = math.sqrt((psi * psi).sum()) / m
    return PPIFit(float(value), float(se), float(lam))


def ppi_interval(value: float, se: float, n_labeled: int, confidence: float) -> Estimate:
    """The corrected rate's interval, made for small labeled samples (module docstring).

    ``se`` is inflated by ``sqrt(n / (n - 1))`` (the sample variance's degrees of freedom),
    the quantile is Student's ``t`` with ``n - 1`` degrees of freedom, and the interval is
    Wilson's score interval at the effective sample size ``n_eff = theta (1 - theta) / se^2``
    (the design-effect adjustment used for survey proportions, Korn & Graubard 1998), so it
    stays inside [0, 1] and is asymmetric near 0 and 1 as a proportion's should be. For an
    estimate outside (0, 1) it is ``theta +- t se`` clipped. The value is clipped to [0, 1].
    """
    from scipy import stats

    z_value(confidence)
    if n_labeled > 1:
        se = se * math.sqrt(n_labeled / (n_labeled - 1))
        q = float(stats.t.ppf((1 + confidence) / 2, n_labeled - 1))
    else:
        q = z_value(confidence)
    clipped = min(max(value, 0.0), 1.0)
    if 0 < value < 1 and se > 0:
        n_eff = value * (1 - value) / se**2
        den = 1 + q * q / n_eff
        centre = (value + q * q / (2 * n_eff)) / den
        half = q * math.sqrt(value * (1 - value) / n_eff + q * q / (4 * n_eff**2)) / den
        lo, hi = centre - half, centre + half
    else:
        lo, hi = value - q * se, value + q * se
    return Estimate(clipped, (max(0.0, lo), min(1.0, hi)), se=se)


@dataclass(frozen=True)
class RateResult:
    """Judge rate, human-only rate and the PPI++ corrected rate of one slice."""

    n_labeled: int
    n_unlabeled: int
    judge_rate: Estimate
    human_rate: Estimate
    corrected: Estimate
    n_invalid: int = 0
    lam: float = math.nan
    confidence: float = 0.9
    positive: tuple[str, ...] = ()
    weighted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_labeled": self.n_labeled,
            "n_unlabeled": self.n_unlabeled,
            "n_invalid": self.n_invalid,
            "judge_rate": self.judge_rate.to_dict(),
            "human_rate": self.human_rate.to_dict(),
            "corrected": self.corrected.to_dict(),
            "lambda": None if math.isnan(self.lam) else self.lam,
            "confidence": self.confidence,
            "positive": list(self.positive),
            "weighted": self.weighted,
        }


def inverse_inclusion(table: pd.DataFrame, weight: str, labeled: np.ndarray) -> np.ndarray:
    """Horvitz-Thompson weights ``1 / pi_i`` from the inclusion-probability column
    ``weight`` on the ``labeled`` rows (0 elsewhere). A probability outside (0, 1] on a
    labeled row is refused, naming the first such row."""
    if weight not in table.columns:
        raise InputError(f"no column {weight!r}; the table has {list(table.columns)}")
    prob = pd.to_numeric(table[weight], errors="coerce").to_numpy(float)
    bad = labeled & ~((prob > 0) & (prob <= 1))
    if bad.any():
        raise InputError(
            f"column {weight!r} must hold inclusion probabilities in (0, 1] on every "
            f"labeled row; {int(bad.sum())} labeled rows do not (first: row "
            f"{int(np.nonzero(bad)[0][0]) + 1})"
        )
    return np.where(labeled, 1.0 / np.where(labeled, prob, 1.0), 0.0)


@dataclass(frozen=True)
class RateData:
    """The arrays a rate is computed from (valid judge verdicts only)."""

    yhat: np.ndarray
    y: np.ndarray
    labeled: np.ndarray
    weight: np.ndarray | None
    n_invalid: int
    positive: tuple[str, ...]
    prediction: np.ndarray | None = None  # what PPI uses as Yhat (default: yhat)

    @property
    def predicted(self) -> np.ndarray:
        return self.yhat if self.prediction is None else self.prediction


def rate_data(
    table: pd.DataFrame,
    *,
    gold: str,
    judge: str,
    positive: Iterable[str] | str,
    weight: str | None = None,
    labels: Iterable[str] | None = None,
    score: str | None = None,
) -> RateData:
    """Binary arrays from a table: judge verdict, gold where present, inverse weights.

    Rows whose judge answer is missing or outside the vocabulary are invalid: counted and
    left out (PPI needs a prediction on every row it uses). With ``score``, PPI's prediction
    is the judge's P(positive) where given (else its binary verdict).
    """
    for col in [gold, judge, *([weight] if weight else []), *([score] if score else [])]:
        if col not in table.columns:
            raise InputError(f"no column {col!r}; the table has {list(table.columns)}")
    g = normalize_labels(table[gold])
    j = normalize_labels(table[judge])
    pos = label_list(positive) or []  # any case: --positive Unsafe is unsafe
    if not pos:
        raise InputError("give the positive label(s) with --positive")
    vocab = label_vocabulary(
        g.dropna().unique(),
        pos,
        None if labels is None else list(labels),
        what=f"gold column {gold!r}",
    )
    valid = j.notna() & j.isin(vocab)
    labeled = g.notna().to_numpy() & valid.to_numpy()
    w = None
    if weight:
        w = inverse_inclusion(table, weight, labeled)[valid.to_numpy()]
    keep = valid.to_numpy()
    yhat = j[valid].isin(pos).to_numpy(float)
    y = g[valid].isin(pos).to_numpy(float)
    prediction = None
    if score:
        s = pd.to_numeric(table[score], errors="coerce").to_numpy(float)[keep]
        if np.any((s < 0) | (s > 1)):
            raise InputError(f"column {score!r} must hold probabilities in [0, 1]")
        prediction = np.where(np.isfinite(s), s, yhat)
    return RateData(yhat, y, labeled[keep], w, int((~valid).sum()), tuple(pos), prediction)


def rate_from_data(d: RateData, confidence: float = 0.9) -> RateResult:
    z_value(confidence)  # validates the level
    m, n = len(d.yhat), int(d.labeled.sum())
    judge_rate = wilson(float(d.yhat.sum()), m, confidence)
    yl = d.y[d.labeled]
    if d.weight is None:
        human = wilson(float(yl.sum()), n, confidence)
    else:
        wl = d.weight[d.labeled]
        if n:
            p = float((wl * yl).sum() / wl.sum())
            n_eff = float(wl.sum() ** 2 / (wl * wl).sum())
            human = wilson(p * n_eff, n_eff, confidence)
            human = Estimate(p, human.ci, human.se)
        else:
            human = Estimate(math.nan, (math.nan, math.nan))
    fit = ppi_mean(d.predicted, d.y, d.labeled, d.weight)
    if math.isnan(fit.value):
        corrected = Estimate(math.nan, (math.nan, math.nan))
    elif fit.lam == 0:
        # lambda = 0: the estimate is the human-only rate; its Wilson interval is the
        # small-sample version of the CLT interval (which collapses when all gold agree)
        corrected = human
    else:
        corrected = ppi_interval(fit.value, fit.se, n, confidence)
    return RateResult(
        n_labeled=n,
        n_unlabeled=m - n,
        judge_rate=judge_rate,
        human_rate=human,
        corrected=corrected,
        n_invalid=d.n_invalid,
        lam=fit.lam,
        confidence=confidence,
        positive=d.positive,
        weighted=d.weight is not None,
    )


def corrected_rate(
    table: pd.DataFrame,
    *,
    gold: str = "gold",
    judge: str = "judge",
    positive: Iterable[str] | str,
    weight: str | None = None,
    confidence: float = 0.9,
    score: str | None = None,
) -> RateResult:
    """A model's attack-success (or refusal) rate corrected for the judge's errors.

    Rows without gold are unlabeled. ``weight``: a column of inclusion probabilities of
    the human sample (rows of a stratified sample carry their stratum's probability).
    Returns the raw judge rate, the human-only rate and the PPI++ corrected rate, each
    with its interval (module docstring). ``score``: a column with the judge's P(positive);
    PPI then rectifies the score instead of the 0/1 verdict (any prediction keeps the
    estimate unbiased; a more informative one narrows the interval).
    """
    d = rate_data(table, gold=gold, judge=judge, positive=positive, weight=weight, score=score)
    return rate_from_data(d, confidence)


@dataclass(frozen=True)
class BudgetResult:
    """How many human labels bring an interval to ``target_width``."""

    target_width: float
    n_labeled: int
    current_width: float
    n_needed: float  # inf when the target is below the reachable floor
    n_more: float
    human_only_n_needed: float
    floor_width: float  # width with infinitely many labels (judge-rate noise)
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        def f(x: float) -> float | None:
            return None if not math.isfinite(x) else x

        return {
            "target_width": self.target_width,
            "n_labeled": self.n_labeled,
            "current_width": f(self.current_width),
            "n_needed": f(self.n_needed),
            "n_more": f(self.n_more),
            "human_only_n_needed": f(self.human_only_n_needed),
            "floor_width": f(self.floor_width),
            "confidence": self.confidence,
        }


def gold_budget(
    table: pd.DataFrame,
    *,
    gold: str = "gold",
    judge: str = "judge",
    positive: Iterable[str] | str,
    width: float,
    weight: str | None = None,
    confidence: float = 0.9,
    score: str | None = None,
) -> BudgetResult:
    """Labels needed for a corrected-rate interval of total width ``width``.

    From the current sample: the PPI++ variance splits into a judge term fixed by the
    ``M`` judged responses, ``V_J = lambda^2 s^2(Yhat) / M``, and a rectifier term that
    shrinks as ``V_R(n) = V_R * n_now / n``. Solving ``2 z sqrt(V_J + V_R(n)) = width``
    gives ``n = V_R n_now / ((width / 2z)^2 - V_J)`` (infinite when ``width`` is below the
    floor ``2 z sqrt(V_J)``; normal approximation, so on small samples the reported interval,
    which uses ``t`` and Wilson's form, can come out a little wider). Beside it, human labels
    alone need
    ``n = z^2 p (1 - p) / (width / 2)^2`` (normal approximation; with weights, times
    Kish's design effect).
    """
    if not 0 < width < 1:
        raise InputError(f"the target width must be between 0 and 1, not {width}")
    d = rate_data(table, gold=gold, judge=judge, positive=positive, weight=weight, score=score)
    z = z_value(confidence)
    m, n = len(d.yhat), int(d.labeled.sum())
    if n < 2:
        raise InputError("need at least 2 labeled rows to plan the gold budget")
    fit = ppi_mean(d.predicted, d.y, d.labeled, d.weight)
    v_total = fit.se**2
    v_judge = fit.lam**2 * d.predicted.var() / m
    v_rect = max(v_total - v_judge, 1e-12)
    half = width / (2 * z)
    n_needed = math.inf if half**2 <= v_judge else v_rect * n / (half**2 - v_judge)
    n_needed = max(n_needed, float(n)) if math.isfinite(n_needed) else n_needed
    yl = d.y[d.labeled]
    if d.weight is None:
        p, deff = float(yl.mean()), 1.0
    else:
        wl = d.weight[d.labeled]
        p = float((wl * yl).sum() / wl.sum())
        deff = n * float((wl * wl).sum()) / float(wl.sum() ** 2)
    p_plan = min(max(p, 0.05), 0.95)  # avoid planning on a zero variance
    human_n = deff * z * z * p_plan * (1 - p_plan) / half**2
    return BudgetResult(
        target_width=width,
        n_labeled=n,
        current_width=rate_from_data(d, confidence).corrected.width,
        n_needed=math.ceil(n_needed) if math.isfinite(n_needed) else math.inf,
        n_more=max(0, math.ceil(n_needed) - n) if math.isfinite(n_needed) else math.inf,
        human_only_n_needed=math.ceil(human_n),
        floor_width=2 * z * math.sqrt(v_judge),
        confidence=confidence,
    )
