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

**Small samples** (what :func:`corrected_rate` and :func:`calibrate.benchmark_cells`
report). With 0/1 verdicts the regression of ``Y`` on ``Yhat`` is saturated, so PPI++ with
its best (least-squares) lambda is exactly the estimator written by verdict,

    theta = q PPV + (1 - q) FOR

(``q`` the judge-positive share of all responses, PPV = P(Y = 1 | Yhat = 1) and the
false-omission rate FOR = P(Y = 1 | Yhat = 0) measured on the gold; the double-sampling
estimator of Tenenbein 1970; the rectifier ``mean(Y - Yhat)`` is
``q (PPV - 1) + (1 - q) FOR``). As everywhere in this module the responses are draws from
the population the benchmark stands for (not a finite population to be completed), so with
every response labeled the interval is the human labels' own, not a point. At
10-100 labels, with a rare outcome, the plug-in variance of PPI++ is optimistic twice: the
lambda is tuned on the same labels (Mani et al. 2025, "No free lunch") and a verdict
stratum whose few labels all agree has variance 0 (5 agreeing labels gave an interval as
narrow as the raw judge's). Here PPV and FOR get Jeffreys ``Beta(x + 1/2, n - x + 1/2)``
posteriors, i.e. the lambda's own uncertainty is in the interval, and the interval is the
Beta with the posterior mean and variance of ``theta`` (:func:`beta_interval`, method
:data:`BY_VERDICT`), the unlabeled responses' Bernoulli noise added; the point estimate
stays the unbiased plug-in (the interval widened to hold it). In cells
(:func:`pooled_error`) the two rates are pooled across the model's cells instead. With a
score (continuous ``Yhat``) the estimator is PPI++ with cross-fit lambda
(:func:`ppi_mean` ``folds``, :data:`PPI_CROSSFIT`) and the interval above. Either falls
back to the human-only rate, with the reason, when it is not narrower
(:func:`no_narrower`). Coverage is measured in tests/calibrate/test_cells_pooling.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.calibrate.results import Estimate
from safecal.calibrate.vocab import label_list, label_vocabulary, normalize_labels

#: ``Estimate.method`` names of the corrected intervals
BY_VERDICT = "ppi-by-verdict-jeffreys"
POOLED_CELLS = "ppi-by-verdict-eb-pooled"
STRATIFIED = "ppi-by-verdict-stratified"
PPI_CROSSFIT = "ppi++-crossfit"
HUMAN_ONLY = "human_only"
WILSON = "wilson"
#: folds of the cross-fit lambda (PPI++ on a score)
CROSSFIT_FOLDS = 10
#: the most labels a pool of other cells may count for in one cell (module docs of
#: :func:`pooled_error`): it floors the between-cell variance at ``mu (1 - mu) / 7``
MAX_PRIOR_LABELS = 6.0


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
    folds: int | None = None,
) -> PPIFit:
    """The PPI++ estimate of the population mean of ``y`` (module docstring).

    ``yhat``: (M,) judge predictions on all rows; ``y``: (M,) gold (ignored where not
    ``labeled``); ``labeled``: (M,) bool; ``weight``: (M,) ``1 / inclusion probability``
    (used on labeled rows). ``lam`` fixes lambda instead of tuning it.

    ``folds``: cross-fit lambda (Mani et al. 2025, "No free lunch: non-asymptotic analysis
    of prediction-powered inference"; the cross-fitting of Zrnic & Candes 2024). The
    labeled rows are dealt into ``K`` folds (in row order, ``i mod K``); a row of fold
    ``k`` is rectified with the lambda tuned on the labels of the other folds, so its own
    label does not pick the lambda that makes its term small. Lambda tuned on the same
    labels makes the interval optimistic at small ``n`` (the tuned lambda chases the
    labels' noise); cross-fit, each term is an unbiased estimate of the rectifier for the
    lambda it uses. The reported ``lam`` is the folds' mean.
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
    if lam is None and folds is not None and folds >= 2 and n >= 2:
        k = min(folds, n)
        fold = np.full(m, -1)
        fold[np.flatnonzero(s)] = np.arange(n) % k
        lams = np.array(
            [ppi_mean(yhat, y, s & (fold != f), weight, lam=None).lam for f in range(k)]
        )
        lam_i = np.where(s, lams[np.maximum(fold, 0)], 0.0)
        lam_bar = float(lams.mean())
        # sum_L w (Y - lam_i (Yhat - mean Yhat)) / sum_L w
        value = ybar_w - float((w * lam_i * (yhat - yhat.mean())).sum() / w.sum())
        a_i = (yhat - yhat.mean()) * lam_bar - s * g * lam_i * (yhat - yhbar_w)
        psi = b + a_i
        se = math.sqrt((psi * psi).sum()) / m
        return PPIFit(float(value), float(se), lam_bar)
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
    #: ``"human_only"`` when the judge could not narrow the interval (then ``corrected``
    #: is the human-only rate), with the reason in words; else empty
    fallback: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.corrected.method,
            "fallback": self.fallback or None,
            "fallback_reason": self.reason or None,
            "n_labeled": self.n_labeled,
            "n_unlabeled": self.n_unlabeled,
            "n_invalid": self.n_invalid,
            # the interval methods are named once, in "methods"
            "judge_rate": replace(self.judge_rate, method="").to_dict(),
            "human_rate": replace(self.human_rate, method="").to_dict(),
            "corrected": replace(self.corrected, method="").to_dict(),
            "methods": {
                "judge_rate": self.judge_rate.method,
                "human_rate": self.human_rate.method,
                "corrected": self.corrected.method,
            },
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
    keep: np.ndarray | None = None  # the table's rows these are (valid verdicts)

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
    return RateData(yhat, y, labeled[keep], w, int((~valid).sum()), tuple(pos), prediction, keep)


def subset(d: RateData, rows: np.ndarray) -> RateData:
    """The rows ``rows`` (a boolean mask over ``d``'s rows) of ``d``; ``n_invalid`` is 0
    (invalid rows are counted by the caller, which knows where they were)."""
    return RateData(
        d.yhat[rows],
        d.y[rows],
        d.labeled[rows],
        None if d.weight is None else d.weight[rows],
        0,
        d.positive,
        None if d.prediction is None else d.prediction[rows],
    )


def human_only(d: RateData, confidence: float) -> Estimate:
    """The human-only rate with Wilson's interval (with weights: Hajek's mean at Kish's
    effective n); NaN without labels."""
    n = int(d.labeled.sum())
    yl = d.y[d.labeled]
    if d.weight is None:
        est = wilson(float(yl.sum()), n, confidence)
    elif n:
        wl = d.weight[d.labeled]
        p = float((wl * yl).sum() / wl.sum())
        n_eff = float(wl.sum() ** 2 / (wl * wl).sum())
        w = wilson(p * n_eff, n_eff, confidence)
        est = Estimate(p, w.ci, w.se)
    else:
        return Estimate(math.nan, (math.nan, math.nan))
    return Estimate(est.value, est.ci, est.se, method=WILSON)


def no_narrower(corrected: Estimate, human: Estimate) -> str:
    """The fallback diagnostic: why the human-only estimate is reported instead of the
    corrected one, or ``""`` when the corrected interval is the narrower. The judge helps
    only when its verdicts explain the gold well enough that the rectified interval beats
    the labels alone; with few labels, a rare outcome or a judge that often errs it does
    not, and then the human-only rate is the honest (and unbiased) one."""
    if math.isnan(human.value) or math.isnan(corrected.value):
        return ""
    if corrected.width >= human.width:
        return (
            f"the judge does not narrow the interval (corrected {corrected.width:.3f} wide, "
            f"human labels alone {human.width:.3f}): reporting the human-only rate"
        )
    return ""


def rate_from_data(d: RateData, confidence: float = 0.9) -> RateResult:
    """Judge, human-only and corrected rates of ``d`` (module docstring).

    With 0/1 verdicts the corrected rate is PPI++ with its regression lambda written by
    verdict (:data:`BY_VERDICT`, "small samples" in the module docstring); with a score,
    PPI++ with cross-fit lambda (:data:`PPI_CROSSFIT`). Either falls back to the
    human-only rate when it is not narrower (:func:`no_narrower`).
    """
    z_value(confidence)  # validates the level
    m, n = len(d.yhat), int(d.labeled.sum())
    judge_rate = Estimate(*_parts(wilson(float(d.yhat.sum()), m, confidence)), method=WILSON)
    human = human_only(d, confidence)
    lam = math.nan
    if n == 0:
        corrected = Estimate(math.nan, (math.nan, math.nan))
    elif d.prediction is None:
        c = by_verdict_counts(d)
        r = verdict_rates(c, confidence, pool=False)
        value, lo, hi = float(r.value[0]), float(r.ci[0, 0]), float(r.ci[0, 1])
        if c.n1[0] > 0 and c.n0[0] > 0:
            lam = float(c.x1[0] / c.n1[0] - c.x0[0] / c.n0[0])
            # the point estimate is the plug-in (unbiased, as PPI++'s is; the Jeffreys
            # posterior mean is pulled toward 1/2 by a stratum of few labels), the
            # interval the posterior's, widened to hold it (as the Jeffreys interval for
            # a proportion is reported beside x / n; Brown, Cai & DasGupta 2001)
            value = float(c.q[0] * c.x1[0] / c.n1[0] + (1 - c.q[0]) * c.x0[0] / c.n0[0])
            lo, hi = min(lo, value), max(hi, value)
        corrected = Estimate(value, (lo, hi), method=BY_VERDICT)
    else:
        fit = ppi_mean(d.predicted, d.y, d.labeled, d.weight, folds=CROSSFIT_FOLDS)
        lam = fit.lam
        if fit.lam == 0:
            corrected = human
        else:
            est = ppi_interval(fit.value, fit.se, n, confidence)
            corrected = Estimate(est.value, est.ci, est.se, method=PPI_CROSSFIT)
    reason = no_narrower(corrected, human)
    if reason:
        corrected = human
    return RateResult(
        n_labeled=n,
        n_unlabeled=m - n,
        judge_rate=judge_rate,
        human_rate=human,
        corrected=corrected,
        n_invalid=d.n_invalid,
        lam=lam,
        confidence=confidence,
        positive=d.positive,
        weighted=d.weight is not None,
        fallback=HUMAN_ONLY if reason else "",
        reason=reason,
    )


def _parts(e: Estimate) -> tuple[float, tuple[float, float], float | None]:
    return e.value, e.ci, e.se


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


# ---- small samples: the judge's error by verdict, with Beta posteriors ---------------


def beta_interval(mean: np.ndarray, var: np.ndarray, confidence: float) -> np.ndarray:
    """Equal-tailed interval of the Beta distribution with this ``mean`` and ``var``
    (moment matching; shape ``(..., 2)``).

    A rate's posterior is a Beta, or a mixture of Betas that one Beta with the same two
    moments approximates closely; unlike ``mean +- z sd`` the interval stays inside
    [0, 1] and is skewed near 0 and 1, as a rare rate's should be.
    """
    from scipy import stats

    z_value(confidence)
    mean = np.clip(np.asarray(mean, dtype=float), 1e-9, 1 - 1e-9)
    var = np.asarray(var, dtype=float)
    # a variance at or above mean (1 - mean) has no Beta; keep the concentration positive
    k = np.maximum(mean * (1 - mean) / np.maximum(var, 1e-300) - 1, 1e-3)
    alpha = (1 - confidence) / 2
    lo = stats.beta.ppf(alpha, mean * k, (1 - mean) * k)
    hi = stats.beta.ppf(1 - alpha, mean * k, (1 - mean) * k)
    return np.stack([lo, hi], axis=-1)


@dataclass(frozen=True)
class ErrorPosterior:
    """Posterior of one judge-error rate (PPV or false-omission rate) per cell.

    ``mean``, ``var``: posterior mean and variance (``var`` includes the pooled prior
    mean's uncertainty); ``var_cond``: the variance given the prior mean; ``shrink``: the
    weight ``kappa / (kappa + n_c)`` of the pool in the cell's mean. The prior means are
    ``design @ beta`` with ``Cov(beta) = cov``, shared by the cells (their estimates are
    correlated through it)."""

    mean: np.ndarray
    var: np.ndarray
    var_cond: np.ndarray
    shrink: np.ndarray
    design: np.ndarray  # (C, p)
    cov: np.ndarray  # (p, p)
    #: the between-cell variance each cell's prior carries (``tau^2``, floored)
    spread: np.ndarray | None = None


def pooled_error(
    x: np.ndarray,
    n: np.ndarray,
    *,
    covariate: np.ndarray | None = None,
    max_prior_labels: float = MAX_PRIOR_LABELS,
) -> ErrorPosterior:
    """Empirical-Bayes beta-binomial pooling of a rate across cells (a random-effects
    meta-regression on the probability scale).

    Cell ``c`` has ``x_c`` positives in ``n_c`` labels (effective counts with weights).
    Its rate is drawn from a Beta with mean ``mu_c`` and between-cell variance ``tau^2``
    (concentration ``kappa_c = mu_c (1 - mu_c) / tau^2 - 1``):

    * ``mu_c = b0 + b1 z_c``, ``z_c`` the ``covariate`` (the cell's judge-positive share:
      a cell where the judge says "unsafe" more often is one with a higher prevalence,
      so a higher PPV and false-omission rate; without this the prevalence differences
      between cells would all count as unexplained spread), fitted by weighted least
      squares on the cells with labels, weights ``1 / (mu_c (1 - mu_c) / n_c + tau^2)``;
      intercept only with fewer than 4 such cells. Without a label anywhere the rate gets
      Jeffreys' ``Beta(1/2, 1/2)`` in every cell;
    * ``tau^2`` by DerSimonian & Laird's (1986) moment estimator, in its meta-regression
      form ``(Q - (k - p)) / (sum w - tr((X'WX)^-1 X'W^2 X))``, **floored** at
      ``mu_c (1 - mu_c) / (K + 1)``, ``K`` = ``max_prior_labels``: the pool never counts
      for more than ``K`` labels of a cell. With 12 cells of 10 labels the moment
      estimate is often 0 (complete pooling) although the judge's error does vary by
      cell; the floor keeps the between-cell spread, and its uncertainty, in every
      interval, and it is what stops 5 agreeing labels from giving a zero-variance
      rectifier (an interval as narrow as the raw judge's);
    * each cell's posterior ``Beta(mu_c kappa_c + x_c, (1 - mu_c) kappa_c + n_c - x_c)``,
      its mean shrunk toward ``mu_c`` by ``kappa_c / (kappa_c + n_c)``; a cell without
      labels gets the prior, so its variance is ``tau^2``;
    * plus the uncertainty of ``mu_c`` itself, ``x_c' Cov(b) x_c`` with
      ``Cov(b) = (X'WX)^-1``, times ``shrink_c^2``.
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    cells = len(n)
    total = float(n.sum())
    if total <= 0:
        half = np.full(cells, 0.5)
        var = np.full(cells, 1 / 8)
        return ErrorPosterior(half, var, var, np.ones(cells), np.ones((cells, 1)), np.zeros((1, 1)))
    has = n > 0
    k = int(has.sum())
    design = np.ones((cells, 1))
    if covariate is not None and k >= 4 and np.ptp(np.asarray(covariate)[has]) > 0:
        design = np.column_stack([np.ones(cells), np.asarray(covariate, dtype=float)])
    lo = 0.5 / (total + 1)
    mu = np.full(cells, (float(x.sum()) + 0.5) / (total + 1))
    p_obs = np.divide(x, n, out=np.zeros(cells), where=has)
    xh = design[has]
    tau2 = 0.0
    cov = np.zeros((design.shape[1], design.shape[1]))
    for _ in range(3):  # refit the means with the random-effects weights
        pv = mu * (1 - mu)
        w = n[has] / pv[has]
        if k > design.shape[1]:
            a_inv = np.linalg.pinv(xh.T @ (w[:, None] * xh))
            beta = a_inv @ (xh.T @ (w * p_obs[has]))
            q_stat = float((w * (p_obs[has] - xh @ beta) ** 2).sum())
            trace = float(np.trace(a_inv @ (xh.T @ ((w * w)[:, None] * xh))))
            tau2 = max(0.0, (q_stat - (k - design.shape[1])) / max(w.sum() - trace, 1e-12))
        t2 = np.maximum(tau2, pv / (max_prior_labels + 1))
        ws = 1 / (pv[has] / n[has] + t2[has])
        cov = np.linalg.pinv(xh.T @ (ws[:, None] * xh))
        beta = cov @ (xh.T @ (ws * p_obs[has]))
        mu = np.clip(design @ beta, lo, 1 - lo)
    pv = mu * (1 - mu)
    kappa = np.clip(pv / np.maximum(tau2, pv / (max_prior_labels + 1)) - 1, 1.0, None)
    a = mu * kappa + x
    b = (1 - mu) * kappa + n - x
    mean = a / (a + b)
    var_cond = a * b / ((a + b) ** 2 * (a + b + 1))
    shrink = kappa / (kappa + n)
    var_mu = np.einsum("ci,ij,cj->c", design, cov, design)
    t2 = np.maximum(tau2, pv / (max_prior_labels + 1))
    return ErrorPosterior(mean, var_cond + shrink**2 * var_mu, var_cond, shrink, design, cov, t2)


@dataclass(frozen=True)
class ByVerdict:
    """Per cell: the judge-positive share ``q`` of its ``m`` judged responses and, on the
    labeled ones, ``x1`` gold positives among ``n1`` judged positive and ``x0`` among
    ``n0`` judged negative (effective counts under weights)."""

    q: np.ndarray
    m: np.ndarray
    x1: np.ndarray
    n1: np.ndarray
    x0: np.ndarray
    n0: np.ndarray

    def take(self, idx: np.ndarray) -> ByVerdict:
        """The cells ``idx``."""

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return ByVerdict(
            self.q[idx],
            self.m[idx],
            self.x1[idx],
            self.n1[idx],
            self.x0[idx],
            self.n0[idx],
        )


def by_verdict_counts(
    d: RateData, groups: np.ndarray | None = None, n_groups: int = 1
) -> ByVerdict:
    """:class:`ByVerdict` counts of ``d`` per group (``groups``: codes ``0..n_groups-1``
    per row; all one group by default), in one pass (``np.bincount``). With weights the
    gold share of a (group, verdict) stratum is Hajek's and its count Kish's effective n."""
    g = np.zeros(len(d.yhat), dtype=np.intp) if groups is None else groups
    yh = d.yhat > 0.5
    m = np.bincount(g, minlength=n_groups).astype(float)
    pos = np.bincount(g, weights=d.yhat, minlength=n_groups)
    q = np.divide(pos, m, out=np.zeros(n_groups), where=m > 0)
    lab = d.labeled
    w = np.where(lab, 1.0, 0.0) if d.weight is None else np.where(lab, d.weight, 0.0)
    out = []
    for side in (yh, ~yh):
        key = g[lab & side]
        ww = w[lab & side]
        sw = np.bincount(key, weights=ww, minlength=n_groups)
        sw2 = np.bincount(key, weights=ww * ww, minlength=n_groups)
        swy = np.bincount(key, weights=ww * d.y[lab & side], minlength=n_groups)
        n_eff = np.divide(sw * sw, sw2, out=np.zeros(n_groups), where=sw2 > 0)
        share = np.divide(swy, sw, out=np.zeros(n_groups), where=sw > 0)
        out.append((share * n_eff, n_eff))
    (x1, n1), (x0, n0) = out
    return ByVerdict(q, m, x1, n1, x0, n0)


@dataclass(frozen=True)
class CellRates:
    """Corrected rates of cells (arrays over the cells).

    ``var`` is each cell's posterior variance; ``var_own`` the part not shared with other
    cells; ``coef1`` and ``coef0`` the cells' loadings on the pooled PPV and false-omission
    rate, whose prior means ``design @ beta`` share ``Cov(beta)``."""

    value: np.ndarray
    var: np.ndarray
    ci: np.ndarray  # (C, 2)
    pool_weight: np.ndarray
    var_own: np.ndarray
    coef1: np.ndarray
    coef0: np.ndarray
    error1: ErrorPosterior
    error0: ErrorPosterior


def verdict_rates(
    c: ByVerdict, confidence: float, *, pool: bool, max_prior_labels: float = MAX_PRIOR_LABELS
) -> CellRates:
    """Corrected rates from the judge's error by verdict (the module docstring's
    "small samples" section): ``theta_c = q_c PPV_c + (1 - q_c) FOR_c``, the posterior
    of the PPV and the false-omission rate either Jeffreys' per cell (``pool=False``) or
    pooled across the cells (``pool=True``, :func:`pooled_error`); the judge share's own
    sampling variance ``(PPV - FOR)^2 q (1 - q) / m`` is added, and the interval is
    :func:`beta_interval` of the posterior mean and variance."""
    if pool:
        e1 = pooled_error(c.x1, c.n1, max_prior_labels=max_prior_labels)
        e0 = pooled_error(c.x0, c.n0, max_prior_labels=max_prior_labels)
    else:
        e1, e0 = (_jeffreys(x, n) for x, n in ((c.x1, c.n1), (c.x0, c.n0)))
    u1 = q = c.q
    u0 = 1 - q
    # the judge share's own sampling variance: with every response labeled the total is
    # Var(Y) / m (the law of total variance), the human labels' own
    judge_var = (e1.mean - e0.mean) ** 2 * q * (1 - q) / np.maximum(c.m, 1)
    value = u1 * e1.mean + u0 * e0.mean
    var = u1 * u1 * e1.var + u0 * u0 * e0.var + judge_var
    return CellRates(
        value=value,
        var=var,
        ci=beta_interval(value, var, confidence),
        pool_weight=q * e1.shrink + (1 - q) * e0.shrink,
        var_own=u1 * u1 * e1.var_cond + u0 * u0 * e0.var_cond + judge_var,
        coef1=u1 * e1.shrink,
        coef0=u0 * e0.shrink,
        error1=e1,
        error0=e0,
    )


def wilson_arrays(x: np.ndarray, n: np.ndarray, confidence: float) -> np.ndarray:
    """:func:`wilson` over arrays: ``(..., 3)`` of value, low, high (NaN where n = 0)."""
    z = z_value(confidence)
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        den = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    out = np.stack([p, np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)], -1)
    out[n <= 0] = math.nan
    return out


def _jeffreys(x: np.ndarray, n: np.ndarray) -> ErrorPosterior:
    a, b = x + 0.5, n - x + 0.5
    var = a * b / ((a + b) ** 2 * (a + b + 1))
    cells = len(n)
    return ErrorPosterior(a / (a + b), var, var, 1 / (1 + n), np.ones((cells, 1)), np.zeros((1, 1)))


@dataclass(frozen=True)
class CellsMean:
    """The unweighted mean of the cells' rates (:func:`stratified_mean`): ``value`` with
    the interval (``low``, ``high``), its variance ``var``, and ``n_borrowed``, how many of
    the cells' PPVs and false-omission rates (two a cell) came from the pool because the
    cell had no label on that verdict side."""

    value: float
    low: float
    high: float
    var: float
    n_borrowed: int


def stratified_mean(c: ByVerdict, r: CellRates, confidence: float) -> CellsMean:
    """The mean of ``C`` cells' rates as a stratified corrected rate (stratified PPI,
    Fisch et al. 2024, "Stratified prediction-powered inference for hybrid language model
    evaluation", with the cells as strata of equal weight ``1 / C``: every response of
    cell ``c`` weighs ``1 / (C M_c)``):

        theta = (1 / C) sum_c [q_c PPV_c + (1 - q_c) FOR_c]

    with each cell's **own, unshrunk** ``PPV_c = x1 / n1`` and ``FOR_c = x0 / n0``. The
    mean of the pooled cells (``r.value``) is not used for this: every pooled cell is
    shrunk toward the pool, and in a mean of 12 cells those small biases add up while the
    variance shrinks by 12 (the pooled mean covered 85-89% at a nominal 90% with 10-50
    labels per cell, tests/calibrate/test_cells_pooling.py). A cell with no label on a
    verdict side (no label at all, or none the judge called positive) has no own rate
    there: it borrows the pooled posterior (``r.error1`` / ``r.error0``, mean and variance,
    the between-cell spread ``tau^2`` included).

    Variance, summed over the independent cells and divided by ``C^2``:

    * an own rate: ``p~ (1 - p~) / n``, the binomial variance of ``x / n`` at the cell's
      pooled posterior mean ``p~`` (the pool only steadies the variance: a stratum of 3
      agreeing labels would otherwise have variance 0);
    * a borrowed rate: its posterior variance, plus the covariance of the borrowed cells
      through the pool's mean, ``g' Cov(b) g`` with ``g = sum u_c x_c`` over them, plus
      twice its covariance with the own rates the pool is made of,
      ``g' Cov(b) h``, ``h = sum u_c x_c f_c``, ``f_c = V_c / (V_c + tau^2_c)`` (the
      weight a cell's rate has in the pool's mean times its variance);
    * the judge shares' own sampling noise, ``(PPV_c - FOR_c)^2 q_c (1 - q_c) / M_c``.

    The interval is Wilson's at the effective sample size ``n_eff = t~ (1 - t~) / Var``
    (``t~`` the mean of the pooled cells, which is never 0 or 1), around the unbiased
    ``theta``: a mean of cells whose labels all say "safe" is 0 with an interval above it,
    never a point. Coverage is measured in tests/calibrate/test_cells_pooling.py.
    """
    k = len(c.q)
    if not k:
        return CellsMean(math.nan, math.nan, math.nan, math.nan, 0)
    theta = total = 0.0
    n_borrowed = 0
    for x, n, e, u in ((c.x1, c.n1, r.error1, c.q), (c.x0, c.n0, r.error0, 1 - c.q)):
        own = n > 0
        rate = np.where(own, np.divide(x, n, out=np.zeros(k), where=own), e.mean)
        v = np.where(own, e.mean * (1 - e.mean) / np.where(own, n, 1.0), e.var)
        theta += float((u * rate).sum())
        total += float((u * u * v).sum())
        borrowed = ~own
        n_borrowed += int(borrowed.sum())
        if borrowed.any():
            g = (u[borrowed, None] * e.design[borrowed]).sum(axis=0)
            total += float(g @ e.cov @ g)
            if own.any() and e.spread is not None:
                f = np.where(own, v / (v + e.spread), 0.0)
                h = ((u * f)[:, None] * e.design).sum(axis=0)
                total += 2 * float(g @ e.cov @ h)
    judge_var = (r.error1.mean - r.error0.mean) ** 2 * c.q * (1 - c.q) / np.maximum(c.m, 1)
    total += float(judge_var.sum())
    value, var = theta / k, total / k**2
    steady = min(max(float(np.mean(r.value)), 1e-9), 1 - 1e-9)
    n_eff = steady * (1 - steady) / max(var, 1e-300)
    _, lo, hi = wilson_arrays(np.array(value * n_eff), np.array(n_eff), confidence)
    return CellsMean(min(max(value, 0.0), 1.0), float(lo), float(hi), var, n_borrowed)
