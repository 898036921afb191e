"""Corrected rates (PPI++): hand values, edge cases, simulated coverage and bias."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from safecal.annotate.errors import InputError
from safecal.calibrate import corrected_rate, gold_budget, wilson
from safecal.calibrate.ppi import ppi_interval, ppi_mean


def test_hand_derived_fixed_lambda() -> None:
    # yhat on 4 rows = 1 0 1 1; rows 0 and 1 labeled with y = 0 0
    # lambda = 1: mean(yhat) + mean_L(y - yhat) = 3/4 + (-1 + 0)/2 = 1/4
    yhat = np.array([1, 0, 1, 1.0])
    y = np.array([0, 0, 0, 0.0])
    labeled = np.array([True, True, False, False])
    assert ppi_mean(yhat, y, labeled, lam=1.0).value == pytest.approx(0.25)
    # lambda = 0: the human-only mean, 0
    assert ppi_mean(yhat, y, labeled, lam=0.0).value == pytest.approx(0.0)


def test_all_labeled_reduces_to_the_sample_mean() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.3).astype(float)
    yhat = np.where(rng.random(200) < 0.8, y, 1 - y)
    fit = ppi_mean(yhat, y, np.ones(200, bool))
    assert fit.value == pytest.approx(y.mean())
    # se = population sd / sqrt(n): the covariance term cancels the judge term
    assert fit.se == pytest.approx(y.std() / math.sqrt(200))


def test_matches_ppi_plus_plus_mean_estimator() -> None:
    """Unweighted, the estimator is PPI++'s with the unlabeled rows as the unlabeled set
    and lambda' = lambda (M - n) / M (Angelopoulos et al. 2023, mean estimation)."""
    rng = np.random.default_rng(1)
    m, n = 1000, 150
    y = (rng.random(m) < 0.4).astype(float)
    yhat = np.where(rng.random(m) < 0.85, y, 1 - y)
    labeled = np.zeros(m, bool)
    labeled[:n] = True
    fit = ppi_mean(yhat, y, labeled)
    lam2 = fit.lam * (m - n) / m
    paper = lam2 * yhat[~labeled].mean() + (y[labeled] - lam2 * yhat[labeled]).mean()
    assert fit.value == pytest.approx(paper)
    # PPI++'s variance for independent labeled / unlabeled sets:
    # lambda'^2 Var(Yhat_U) / N + Var(Y - lambda' Yhat)_L / n
    paper_var = (
        lam2**2 * yhat[~labeled].var() / (m - n) + (y[labeled] - lam2 * yhat[labeled]).var() / n
    )
    assert fit.se == pytest.approx(math.sqrt(paper_var), rel=0.02)
    assert 0 < fit.lam <= 1


def test_wilson_hand_value() -> None:
    # 0 of 10 at 95%: upper = z^2/n / (1 + z^2/n) = 3.8415/13.8415 = 0.2775
    e = wilson(0, 10, 0.95)
    assert e.value == 0 and e.ci[0] == pytest.approx(0, abs=1e-12)
    assert e.ci[1] == pytest.approx(0.27754, abs=1e-4)


def test_table_api_and_invalid_rows() -> None:
    t = pd.DataFrame(
        {
            "gold": ["unsafe", "safe_with_warning", None, None, None, "unsafe"],
            "judge": ["unsafe", "unsafe", "unsafe", "safe_with_refusal", "???", None],
        }
    )
    r = corrected_rate(t, positive="unsafe")
    assert (r.n_labeled, r.n_unlabeled, r.n_invalid) == (2, 2, 2)
    assert r.judge_rate.value == pytest.approx(3 / 4)
    assert r.human_rate.value == pytest.approx(1 / 2)
    d = r.to_dict()
    assert set(d) >= {"n_labeled", "n_unlabeled", "judge_rate", "human_rate", "corrected"}


def test_weight_column_must_be_a_probability() -> None:
    t = pd.DataFrame({"gold": ["unsafe", None], "judge": ["unsafe", "unsafe"], "p": [0, None]})
    with pytest.raises(InputError, match="inclusion probabilities"):
        corrected_rate(t, positive="unsafe", weight="p")


def simulate(
    rng: np.random.Generator, m: int, p: float, fpr: float, fnr: float
) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random(m) < p).astype(float)
    flip = np.where(y == 1, rng.random(m) < fnr, rng.random(m) < fpr)
    return y, np.where(flip, 1 - y, y)


def test_coverage_and_bias_simple_random_sample() -> None:
    """A biased judge (FPR .15, FNR .2) on 3,000 responses, 300 labeled at random:
    the 90% PPI++ interval covers the true rate about 90% of the time and the corrected
    rate is unbiased, while the raw judge rate is off by p*FNR - (1-p)*FPR."""
    rng = np.random.default_rng(2024)
    trials, m, n, p, z = 400, 3000, 300, 0.3, 1.6448536
    cover, values, raw = 0, [], []
    for _ in range(trials):
        y, yhat = simulate(rng, m, p, 0.15, 0.2)
        labeled = np.zeros(m, bool)
        labeled[rng.choice(m, n, replace=False)] = True
        fit = ppi_mean(yhat, y, labeled)
        cover += abs(fit.value - p) <= z * fit.se
        values.append(fit.value)
        raw.append(yhat.mean())
    assert 0.86 <= cover / trials <= 0.94
    sd = np.std(values) / math.sqrt(trials)
    assert abs(np.mean(values) - p) < 3 * sd
    expected_raw = p * 0.8 + (1 - p) * 0.15  # 0.345
    assert np.mean(raw) == pytest.approx(expected_raw, abs=0.003)
    assert abs(np.mean(raw) - p) > 10 * sd


def test_coverage_with_inclusion_probabilities() -> None:
    """Stratified Poisson sample: stratum A (70%, rate .2) sampled at 5%, stratum B (30%,
    rate .6) at 30%. Truth .32. Weighted PPI++ covers ~90% and is unbiased; ignoring the
    weights overweights B and is biased."""
    rng = np.random.default_rng(7)
    trials, m, z = 400, 4000, 1.6448536
    truth = 0.7 * 0.2 + 0.3 * 0.6
    cover, weighted, unweighted = 0, [], []
    for _ in range(trials):
        in_b = rng.random(m) < 0.3
        y = (rng.random(m) < np.where(in_b, 0.6, 0.2)).astype(float)
        flip = np.where(y == 1, rng.random(m) < 0.25, rng.random(m) < 0.1)
        yhat = np.where(flip, 1 - y, y)
        pi = np.where(in_b, 0.3, 0.05)
        labeled = rng.random(m) < pi
        fit = ppi_mean(yhat, y, labeled, 1 / pi)
        cover += abs(fit.value - truth) <= z * fit.se
        weighted.append(fit.value)
        unweighted.append(ppi_mean(yhat, y, labeled).value)
    assert 0.86 <= cover / trials <= 0.94
    sd = np.std(weighted) / math.sqrt(trials)
    assert abs(np.mean(weighted) - truth) < 3 * sd
    assert abs(np.mean(unweighted) - truth) > 10 * sd


def test_gold_budget_reaches_the_requested_width() -> None:
    """Plan from a 200-label sample, then label the planned number: the interval width
    lands near the target."""
    rng = np.random.default_rng(3)
    m = 20000
    y, yhat = simulate(rng, m, 0.3, 0.1, 0.2)
    order = rng.permutation(m)
    gold = np.full(m, None, dtype=object)
    gold[order[:200]] = np.where(y[order[:200]] == 1, "unsafe", "safe_with_warning")
    t = pd.DataFrame({"gold": gold, "judge": np.where(yhat == 1, "unsafe", "safe_with_refusal")})
    plan = gold_budget(t, positive="unsafe", width=0.04)
    assert plan.current_width > 0.04 and plan.n_more > 0
    assert plan.human_only_n_needed > plan.n_needed
    k = plan.n_needed
    gold[order[:k]] = np.where(y[order[:k]] == 1, "unsafe", "safe_with_warning")
    achieved = corrected_rate(t.assign(gold=gold), positive="unsafe").corrected.width
    assert achieved == pytest.approx(0.04, rel=0.15)


def test_gold_budget_floor() -> None:
    rng = np.random.default_rng(4)
    y, yhat = simulate(rng, 500, 0.3, 0.05, 0.05)
    gold = np.where(np.arange(500) < 100, np.where(y == 1, "unsafe", "safe_with_warning"), None)
    t = pd.DataFrame({"gold": gold, "judge": np.where(yhat == 1, "unsafe", "safe_with_refusal")})
    plan = gold_budget(t, positive="unsafe", width=0.001)
    assert math.isinf(plan.n_needed) and plan.to_dict()["n_needed"] is None


def test_small_cell_coverage() -> None:
    """A single benchmark cell: 100 responses, 12 labeled, rate .3, a judge with FPR .15 and
    FNR .2. The reported interval (t quantile, Wilson form at the effective sample size;
    the human-only Wilson interval when lambda is 0, as corrected_rate does) covers about
    90%; the plain z interval covers about 82% here."""
    rng = np.random.default_rng(99)
    trials, m, n, p = 1000, 100, 12, 0.3
    cover = cover_plain = 0
    for _ in range(trials):
        y, yhat = simulate(rng, m, p, 0.15, 0.2)
        labeled = np.zeros(m, bool)
        labeled[rng.permutation(m)[:n]] = True
        fit = ppi_mean(yhat, y, labeled)
        if fit.lam == 0:
            ci = wilson(y[labeled].sum(), n, 0.9).ci
        else:
            ci = ppi_interval(fit.value, fit.se, n, 0.9).ci
        cover += ci[0] <= p <= ci[1]
        cover_plain += abs(fit.value - p) <= 1.6448536 * fit.se
    assert 0.86 <= cover / trials <= 0.94
    assert cover_plain < cover


def test_corrected_rate_stays_a_fraction() -> None:
    # the PPI value itself can leave [0, 1] on tiny samples; the reported rate cannot
    t = pd.DataFrame(
        {
            "gold": ["safe_with_warning", "unsafe", None, None],
            "judge": ["unsafe", "unsafe", "safe_with_refusal", "safe_with_refusal"],
        }
    )
    r = corrected_rate(t, positive="unsafe")
    assert 0 <= r.corrected.ci[0] <= r.corrected.value <= r.corrected.ci[1] <= 1


def test_score_as_prediction_is_unbiased_and_narrower() -> None:
    """PPI++ with the judge's score as the prediction: still unbiased (any prediction is),
    and narrower than with the 0/1 verdict when the score carries more information."""
    rng = np.random.default_rng(5)
    trials, m, n, p = 300, 3000, 200, 0.3
    values, se_score, se_label = [], [], []
    for _ in range(trials):
        y = (rng.random(m) < p).astype(float)
        score = 1 / (1 + np.exp(-(np.where(y == 1, 1.5, -1.5) + rng.normal(0, 1.2, m))))
        labeled = np.zeros(m, bool)
        labeled[rng.permutation(m)[:n]] = True
        a = ppi_mean(score, y, labeled)
        values.append(a.value)
        se_score.append(a.se)
        se_label.append(ppi_mean((score >= 0.5).astype(float), y, labeled).se)
    assert abs(np.mean(values) - p) < 3 * np.std(values) / math.sqrt(trials)
    assert np.mean(se_score) < np.mean(se_label)


def test_score_column_in_the_table_api() -> None:
    t = pd.DataFrame(
        {
            "gold": ["unsafe", "safe_with_warning", None, None],
            "judge": ["unsafe", "unsafe", "unsafe", "safe_with_refusal"],
            "s": [0.9, 0.6, 0.8, None],
        }
    )
    r = corrected_rate(t, positive="unsafe", score="s")
    # prediction: .9 .6 .8 and (no score) the verdict 0; fixed lambda = 1 would give
    # mean(.9, .6, .8, 0) + mean(1 - .9, 0 - .6) = .575 - .25 = .325
    fit = ppi_mean(
        np.array([0.9, 0.6, 0.8, 0.0]),
        np.array([1, 0, 0, 0.0]),
        np.array([True, True, False, False]),
        lam=1.0,
    )
    assert fit.value == pytest.approx(0.325)
    # two labels: PPI++'s t interval (1 degree of freedom) is wider than the human-only
    # Wilson interval, so the corrected rate falls back to the human-only 1/2 and says why
    assert r.fallback == "human_only" and "does not narrow" in r.reason
    assert r.corrected.value == pytest.approx(0.5) and r.corrected == r.human_rate
    assert r.judge_rate.value == pytest.approx(0.75)  # the verdicts, not the scores
    with pytest.raises(InputError, match="probabilities"):
        corrected_rate(t.assign(s=[2, 0, 0, 0]), positive="unsafe", score="s")


def test_positive_typo_is_an_error() -> None:
    t = pd.DataFrame({"gold": ["unsafe", None], "judge": ["unsafe", "unsafe"]})
    with pytest.raises(InputError, match="not a label"):
        corrected_rate(t, positive="usafe")
