"""Corrected rates of benchmark cells with few gold labels (pooled judge error), and of
rare outcomes with few labels: hand values and seeded coverage simulations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from safecal.calibrate import MEAN_OF_CELLS, POOLED, benchmark_cells, corrected_rate, wilson
from safecal.calibrate.ppi import (
    BY_VERDICT,
    CROSSFIT_FOLDS,
    MAX_PRIOR_LABELS,
    POOLED_CELLS,
    RateData,
    beta_interval,
    pooled_error,
    ppi_mean,
    rate_from_data,
)

POSITIVE = "unsafe"


def test_pooled_error_hand_values() -> None:
    """Two cells, 1 of 5 and 2 of 5. The random-effects mean of 0.2 and 0.4 is mu = 0.3;
    DerSimonian-Laird: w = 5 / 0.21, Q = w (0.01 + 0.01) = 0.476 < k - 1 = 1, so tau^2 = 0
    and the floor 0.21 / (K + 1) = 0.03 holds (K = 6): kappa = 0.21 / 0.03 - 1 = 6. Cell 1:
    Beta(1.8 + 1, 4.2 + 4) = Beta(2.8, 8.2), mean 2.8 / 11, variance
    2.8 * 8.2 / (11^2 * 12); Var(mu) = 1 / (2 / (0.21 / 5 + 0.03)) = 0.036, times the
    shrinkage weight (6 / 11)^2."""
    assert MAX_PRIOR_LABELS == 6
    e = pooled_error(np.array([1.0, 2.0]), np.array([5.0, 5.0]))
    assert e.mean[0] == pytest.approx(2.8 / 11)
    var_cond = 2.8 * 8.2 / (121 * 12)
    assert e.var_cond[0] == pytest.approx(var_cond)
    assert e.shrink[0] == pytest.approx(6 / 11)
    assert e.var[0] == pytest.approx(var_cond + (6 / 11) ** 2 * 0.036)
    # without labels anywhere: Jeffreys' Beta(1/2, 1/2) in every cell
    none = pooled_error(np.zeros(3), np.zeros(3))
    assert none.mean.tolist() == [0.5] * 3 and none.var.tolist() == [1 / 8] * 3


def test_beta_interval_matches_the_beta_quantiles() -> None:
    from scipy import stats

    # Beta(2, 8): mean 0.2, variance 2 * 8 / (100 * 11)
    lo, hi = beta_interval(np.array(0.2), np.array(16 / 1100), 0.9)
    assert lo == pytest.approx(stats.beta.ppf(0.05, 2, 8))
    assert hi == pytest.approx(stats.beta.ppf(0.95, 2, 8))


def _cells_table(
    rng: np.random.Generator,
    *,
    models: int,
    per_cell: int,
    n_gold: np.ndarray,
    prevalence: tuple[float, float],
    spread: float = 1.0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """``models`` models x 12 cells x ``per_cell`` responses; prevalence uniform in
    ``prevalence`` per cell; a judge whose recall (0.6-0.9 per model, sd 0.08 across cells)
    and false-positive rate (0.03-0.15, sd 0.04) vary by cell; ``n_gold`` (models, 12)
    gold labels per cell drawn at random. Returns the table and the true rates (the cells'
    prevalences: the responses are draws from the population a cell stands for)."""
    shape = (models, 12)
    p = rng.uniform(*prevalence, shape)
    tpr = np.clip(
        rng.uniform(0.6, 0.9, (models, 1)) + spread * rng.normal(0, 0.08, shape), 0.3, 0.99
    )
    fpr = np.clip(
        rng.uniform(0.03, 0.15, (models, 1)) + spread * rng.normal(0, 0.04, shape), 0.005, 0.5
    )
    y = rng.random((*shape, per_cell)) < p[..., None]
    u = rng.random((*shape, per_cell))
    yhat = np.where(y, u < tpr[..., None], u < fpr[..., None])
    labeled = np.argsort(rng.random((*shape, per_cell)), axis=2) < n_gold[..., None]
    gold = np.where(labeled, np.where(y, POSITIVE, "safe_with_warning"), None).ravel()
    names = np.array([f"m{i:04d}" for i in range(models)])
    table = pd.DataFrame(
        {
            "model": np.repeat(names, 12 * per_cell),
            "level1_category": np.tile(np.repeat(np.arange(12) // 4, per_cell), models).astype(str),
            "modality": np.tile(np.repeat(np.arange(12) % 4, per_cell), models).astype(str),
            "gold": gold,
            "judge": np.where(yhat, POSITIVE, "safe_with_refusal").ravel(),
        }
    )
    return table, p


def _coverage(
    table: pd.DataFrame, truth: np.ndarray, confidence: float = 0.9
) -> tuple[float, float, float]:
    """Coverage of the cell intervals, of the mean of cells', and the narrowest cell
    interval."""
    cells = benchmark_cells(table, positive=POSITIVE, confidence=confidence)
    body = cells[~cells["cell"].isin([POOLED, MEAN_OF_CELLS])]
    t = truth.ravel()  # models and cells come back in the same (sorted) order
    cover = ((body["corrected_low"] <= t) & (t <= body["corrected_high"])).mean()
    mean = cells[cells["cell"] == MEAN_OF_CELLS]
    tm = truth.mean(axis=1)
    cover_mean = ((mean["corrected_low"] <= tm) & (tm <= mean["corrected_high"])).mean()
    width = (body["corrected_high"] - body["corrected_low"]).min()
    return float(cover), float(cover_mean), float(width)


GOLD = {
    "10": lambda rng, s: np.full(s, 10),
    "20": lambda rng, s: np.full(s, 20),
    "50": lambda rng, s: np.full(s, 50),
    "0-10": lambda rng, s: rng.integers(0, 11, s),
}


@pytest.mark.parametrize("gold", list(GOLD))
def test_cell_coverage_prevalence_varying_by_cell(gold: str) -> None:
    """Prevalence 0.05-0.5 across the cells and a judge whose error varies by cell: the
    nominal 90% cell intervals and the mean of cells' cover 87-93% (160 models x 12
    cells of 150 responses), and no interval is a point."""
    rng = np.random.default_rng(12)
    models = 160
    table, truth = _cells_table(
        rng,
        models=models,
        per_cell=150,
        n_gold=GOLD[gold](rng, (models, 12)),
        prevalence=(0.05, 0.5),
    )
    cover, cover_mean, width = _coverage(table, truth)
    assert 0.87 <= cover <= 0.93
    assert 0.87 <= cover_mean <= 0.93
    assert width > 0.01


@pytest.mark.parametrize("prevalence", [0.05, 0.5])
@pytest.mark.parametrize("gold", ["10", "50", "0-10"])
def test_cell_coverage_one_prevalence(gold: str, prevalence: float) -> None:
    """The same prevalence in every cell: at least nominal coverage (up to 97% with
    10 labels or fewer per cell: the floor on the between-cell spread is conservative
    when the cells really are alike; the mean of cells 87-95%)."""
    rng = np.random.default_rng(13)
    models = 120
    table, truth = _cells_table(
        rng,
        models=models,
        per_cell=150,
        n_gold=GOLD[gold](rng, (models, 12)),
        prevalence=(prevalence, prevalence),
    )
    cover, cover_mean, width = _coverage(table, truth)
    assert 0.87 <= cover <= 0.98
    assert 0.87 <= cover_mean <= 0.95
    assert width > 0.005


MIXED = {
    # a quarter of the cells hold 0-5 labels, the others 20
    "0-5 mixed": lambda rng, s: np.where(rng.random(s) < 0.25, rng.integers(0, 6, s), 20),
}


def _mean_coverage(gold: str, prevalence: tuple[float, float], seeds: int) -> dict[float, float]:
    """Coverage of ``total (mean of cells)`` at nominal 90% and 95% over ``seeds`` x 160
    models (12 cells of 150 responses), and that no interval is a point."""
    draw = {**GOLD, **MIXED}[gold]
    hits: dict[float, list[bool]] = {0.9: [], 0.95: []}
    for seed in range(seeds):
        rng = np.random.default_rng(100 + seed)
        table, truth = _cells_table(
            rng, models=160, per_cell=150, n_gold=draw(rng, (160, 12)), prevalence=prevalence
        )
        for confidence, got in hits.items():
            cells = benchmark_cells(table, positive=POSITIVE, confidence=confidence)
            mean = cells[cells["cell"] == MEAN_OF_CELLS]
            assert (mean["corrected_high"] - mean["corrected_low"]).min() > 0.01
            tm = truth.mean(axis=1)
            got += list((mean["corrected_low"] <= tm) & (tm <= mean["corrected_high"]))
    return {c: float(np.mean(h)) for c, h in hits.items()}


@pytest.mark.parametrize("gold", ["10", "20", "50", "0-5 mixed"])
def test_mean_of_cells_coverage(gold: str) -> None:
    """``total (mean of cells)``, the stratified corrected rate (each cell's own judge
    error, the pool only where a verdict side has no label): within 3 points of nominal
    at 90% and 95%, prevalence 0.05-0.5 varying by cell, judge error varying by cell
    (640 models). The mean of the pooled cells covered 88-89% at nominal 90% here (their
    shrinkage biases add up in the mean)."""
    got = _mean_coverage(gold, (0.05, 0.5), seeds=4)
    assert 0.87 <= got[0.9] <= 0.93
    assert 0.92 <= got[0.95] <= 0.98


@pytest.mark.slow
@pytest.mark.parametrize("prevalence", [0.05, 0.5])
@pytest.mark.parametrize("gold", ["10", "20", "50", "0-10", "0-5 mixed"])
def test_mean_of_cells_coverage_one_prevalence(gold: str, prevalence: float) -> None:
    """The same at one prevalence in every cell (640 models): within 3 points of nominal
    (the pool's floor on the between-cell spread makes 0-10 labels a little
    conservative, as for the cells)."""
    got = _mean_coverage(gold, (prevalence, prevalence), seeds=4)
    assert 0.87 <= got[0.9] <= 0.94
    assert 0.92 <= got[0.95] <= 0.98


def test_every_cell_gets_a_rate_and_both_totals_are_defined() -> None:
    """Gold in only 4 of 12 cells: every cell still has a corrected rate with an interval,
    the cells without gold are marked as borrowed, and both totals are numbers."""
    rng = np.random.default_rng(5)
    n_gold = np.zeros((1, 12), dtype=int)
    n_gold[0, :4] = 20
    table, _ = _cells_table(rng, models=1, per_cell=300, n_gold=n_gold, prevalence=(0.1, 0.4))
    cells = benchmark_cells(table, positive=POSITIVE)
    body = cells[~cells["cell"].isin([POOLED, MEAN_OF_CELLS])]
    assert body["n_labeled"].tolist() == [20] * 4 + [0] * 8
    assert np.isfinite(body[["corrected", "corrected_low", "corrected_high"]]).all().all()
    assert body["borrowed"].tolist() == [False] * 4 + [True] * 8
    assert (body["method"] == POOLED_CELLS).all()
    assert body["human_rate"].isna().sum() == 8  # no gold: no human-only rate
    for total in (POOLED, MEAN_OF_CELLS):
        row = cells[cells["cell"] == total].iloc[0]
        assert row["corrected_low"] < row["corrected"] < row["corrected_high"]
    mean = cells[cells["cell"] == MEAN_OF_CELLS].iloc[0]
    # the 8 cells without gold borrow both verdict sides' rates from the pool
    assert mean["pool_weight"] == pytest.approx(16 / 24) and mean["borrowed"]
    assert math.isnan(mean["human_rate"])  # undefined: 8 cells have no gold


def test_five_agreeing_labels_do_not_give_the_judges_interval() -> None:
    """A cell of 2,000 responses with 5 gold labels that all agree with the judge: the
    rectifier's sample variance is 0, and plain PPI would report the raw judge's interval.
    Pooled with the other cells (whose judge errs), the interval is far wider."""
    rng = np.random.default_rng(8)
    n_gold = np.full((1, 12), 30)
    table, _ = _cells_table(rng, models=1, per_cell=2000, n_gold=n_gold, prevalence=(0.2, 0.4))
    first = (table["level1_category"] == "0") & (table["modality"] == "0")
    idx = np.flatnonzero(first.to_numpy())
    gold = table["gold"].to_numpy(dtype=object).copy()
    gold[idx] = None
    gold[idx[:5]] = table["judge"].to_numpy()[idx[:5]]
    gold[idx[:5]] = np.where(gold[idx[:5]] == POSITIVE, POSITIVE, "safe_with_warning")
    cells = benchmark_cells(table.assign(gold=gold), positive=POSITIVE)
    one = cells[cells["cell"] == "0 x 0"].iloc[0]
    assert one["n_labeled"] == 5
    judge_width = one["judge_rate_high"] - one["judge_rate_low"]
    plain = ppi_mean(
        (table.loc[first, "judge"] == POSITIVE).to_numpy(float),
        (pd.Series(gold[idx]) == POSITIVE).to_numpy(float),
        pd.Series(gold[idx]).notna().to_numpy(),
        lam=1.0,
    )
    assert plain.se * 2 * 1.645 == pytest.approx(judge_width, rel=0.1)  # the collapse
    assert one["corrected_high"] - one["corrected_low"] > 3 * judge_width


def _issue_draw(rng: np.random.Generator, m: int, n: int) -> tuple[RateData, float]:
    """The issue's scenario: 4.5% unsafe, a judge of recall 0.68 and precision 0.53."""
    p, recall, precision = 0.045, 0.68, 0.53
    fpr = (recall * p / precision - recall * p) / (1 - p)
    y = rng.random(m) < p
    yhat = np.where(y, rng.random(m) < recall, rng.random(m) < fpr)
    labeled = np.zeros(m, bool)
    labeled[rng.choice(m, n, replace=False)] = True
    d = RateData(yhat.astype(float), y.astype(float), labeled, None, 0, (POSITIVE,))
    return d, p


def test_rare_outcome_few_labels_issue_scenario() -> None:
    """4,000 responses, 4.5% unsafe, judge precision 0.53, recall 0.68, 40-100 random gold
    labels: the nominal 90% corrected interval (with its fallback to the human-only rate)
    covers the rate at least 87% of the time (PPI++ with a same-sample lambda and a CLT
    interval covered 73-82% here), and never collapses."""
    rng = np.random.default_rng(2025)
    trials = 1200
    cover = cover_plain = fallbacks = 0
    widths = []
    for _ in range(trials):
        d, truth = _issue_draw(rng, 4000, int(rng.integers(40, 101)))
        r = rate_from_data(d, 0.9)
        lo, hi = r.corrected.ci
        cover += lo <= truth <= hi
        widths.append(hi - lo)
        fallbacks += r.fallback == "human_only"
        assert r.corrected.method in (BY_VERDICT, "wilson")
        fit = ppi_mean(d.yhat, d.y, d.labeled)
        cover_plain += abs(fit.value - truth) <= 1.6448536 * fit.se
    assert cover / trials >= 0.87
    assert cover_plain / trials < 0.85
    assert min(widths) > 0.01
    assert 0 < fallbacks < trials / 2  # the diagnostic fires, but not most of the time


@pytest.mark.parametrize("n", [10, 20, 50])
@pytest.mark.parametrize("p", [0.05, 0.2, 0.5])
def test_corrected_rate_coverage_small_n(n: int, p: float) -> None:
    """One slice of 500 responses, n random gold labels, a judge with recall 0.8 and
    false-positive rate 0.1: coverage of the nominal 90% interval (of the prevalence the
    responses are drawn from) 87-97% (measured, p = 0.05 / 0.2 / 0.5: n = 10 89 / 96.5 /
    92%, n = 20 88 / 88 / 89%, n = 50 92 / 87 / 90%; the Jeffreys priors on the verdict
    strata are conservative when a stratum holds 2-3 labels, as at n = 10, p = 0.2)."""
    rng = np.random.default_rng(int(1000 * p) + n)
    trials, m, cover = 800, 500, 0
    for _ in range(trials):
        y = rng.random(m) < p
        yhat = np.where(y, rng.random(m) < 0.8, rng.random(m) < 0.1)
        labeled = np.zeros(m, bool)
        labeled[rng.choice(m, n, replace=False)] = True
        d = RateData(yhat.astype(float), y.astype(float), labeled, None, 0, (POSITIVE,))
        lo, hi = rate_from_data(d, 0.9).corrected.ci
        cover += lo <= p <= hi
    assert 0.87 <= cover / trials <= 0.97


def test_crossfit_lambda_hand_formula() -> None:
    """Cross-fit lambda: labeled rows dealt into folds by order; each is rectified with the
    lambda tuned on the other folds' labels; the value is
    mean_L(Y - lambda_i (Yhat - mean Yhat))."""
    rng = np.random.default_rng(3)
    m = 300
    y = (rng.random(m) < 0.3).astype(float)
    score = np.clip(y * 0.6 + rng.random(m) * 0.4, 0, 1)
    labeled = np.zeros(m, bool)
    labeled[:40] = True
    fit = ppi_mean(score, y, labeled, folds=4)
    fold = np.arange(40) % 4
    lams = [ppi_mean(score, y, labeled & np.isin(np.arange(m), np.flatnonzero(fold != f))).lam
            for f in range(4)]  # fmt: skip
    lam_i = np.array(lams)[fold]
    expected = np.mean(y[:40] - lam_i * (score[:40] - score.mean()))
    assert fit.value == pytest.approx(expected)
    assert fit.lam == pytest.approx(np.mean(lams))
    assert CROSSFIT_FOLDS == 10


def test_score_corrected_rate_coverage_small_n() -> None:
    """PPI++ on the judge's score with cross-fit lambda (and the fallback): at least
    nominal coverage with 30 labels, prevalence 0.1."""
    rng = np.random.default_rng(17)
    trials, m, n, p, cover = 600, 600, 30, 0.1, 0
    for _ in range(trials):
        y = rng.random(m) < p
        score = 1 / (1 + np.exp(-(np.where(y, 1.5, -1.5) + rng.normal(0, 1.2, m))))
        labeled = np.zeros(m, bool)
        labeled[rng.choice(m, n, replace=False)] = True
        d = RateData(
            (score > 0.5).astype(float), y.astype(float), labeled, None, 0, (POSITIVE,), score
        )
        lo, hi = rate_from_data(d, 0.9).corrected.ci
        cover += lo <= p <= hi
    assert 0.87 <= cover / trials <= 0.97


def test_fallback_is_reported() -> None:
    """The issue's rare outcome with 40 labels: in some draws the by-verdict interval is
    not narrower than the human-only one (a stratum of 1-3 labels carries its Jeffreys
    prior), and then the human-only rate is reported with the reason, through the table
    API too."""
    rng = np.random.default_rng(6)
    for _ in range(200):
        d, _ = _issue_draw(rng, 4000, 40)
        if rate_from_data(d, 0.9).fallback:
            break
    else:
        raise AssertionError("no draw fell back")
    gold = np.where(d.labeled, np.where(d.y == 1, POSITIVE, "safe_with_warning"), None)
    t = pd.DataFrame({"gold": gold, "judge": np.where(d.yhat == 1, POSITIVE, "safe_with_warning")})
    r = corrected_rate(t, positive=POSITIVE)
    assert r.fallback == "human_only" and "does not narrow" in r.reason
    assert r.corrected == r.human_rate
    x = int(d.y[d.labeled].sum())
    assert r.human_rate.value == pytest.approx(x / 40)
    assert r.human_rate.ci == pytest.approx(wilson(x, 40, 0.9).ci)
    out = r.to_dict()
    assert out["fallback"] == "human_only" and out["fallback_reason"] == r.reason
    assert out["methods"]["corrected"] == "wilson"


def test_weighted_sample_oversampling_judge_positives() -> None:
    """A gold sample that oversamples the judge's positives (inclusion probability 0.2
    where the judge says unsafe, 0.02 elsewhere), 2,000 responses, prevalence 0.1: with the
    weights the corrected rate covers at least 87% and is unbiased; the human-only rate
    without weights would be far off (it sees mostly judge positives)."""
    rng = np.random.default_rng(21)
    trials, m, p = 600, 2000, 0.1
    cover, values, naive = 0, [], []
    for _ in range(trials):
        y = rng.random(m) < p
        yhat = np.where(y, rng.random(m) < 0.75, rng.random(m) < 0.08)
        pi = np.where(yhat, 0.2, 0.02)
        labeled = rng.random(m) < pi
        d = RateData(
            yhat.astype(float), y.astype(float), labeled, np.where(labeled, 1 / pi, 0.0), 0, ("u",)
        )
        r = rate_from_data(d, 0.9)
        lo, hi = r.corrected.ci
        cover += lo <= p <= hi
        values.append(r.corrected.value - y.mean())
        naive.append(y[labeled].mean() - y.mean())
    assert cover / trials >= 0.87
    assert abs(np.mean(values)) < 3 * np.std(values) / math.sqrt(trials) + 0.003
    assert np.mean(naive) > 0.2
