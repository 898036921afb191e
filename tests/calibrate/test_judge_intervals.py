"""Judge-validation intervals at n = 10-50: coverage by seeded, vectorised simulation.

The regime of issue 12: slices of 10, 20, 50 gold labels, prevalence 0.05-0.5, a judge
right 92% of the time on either class. Each replicate is a multinomial draw of the four
confusion cells; the intervals are computed for all replicates at once with the same
functions :func:`calibrate.judge_metrics` calls (a wiring test checks that it does).
Coverage is counted over the replicates where the metric is defined (recall needs a gold
positive). Monte Carlo standard error of a coverage near 0.95 over 1000 replicates: 0.007.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score
from statsmodels.stats.proportion import proportion_confint

from safecal.annotate.errors import InputError
from safecal.calibrate import judge_metrics
from safecal.calibrate.agreement import kappa_from_confusion
from safecal.calibrate.intervals import (
    auroc_interval,
    dirichlet_intervals,
    kish_n,
    mover_mean,
    multiclass_priors,
    proportion_interval,
)
from safecal.calibrate.judge_metrics import _binary_from_cells
from safecal.cli import main

SIZES = (10, 20, 50)
PREVALENCES = (0.05, 0.2, 0.5)
ACC = 0.92
R = 1000


def _cells(prev: float, acc: float = ACC) -> np.ndarray:
    """Population cell probabilities tp, fn, fp, tn."""
    return np.array([prev * acc, prev * (1 - acc), (1 - prev) * (1 - acc), (1 - prev) * acc])


def _coverage(lo: np.ndarray, hi: np.ndarray, truth: float, defined: np.ndarray) -> float:
    d = defined & np.isfinite(lo) & np.isfinite(hi)
    return float(((lo[d] <= truth) & (truth <= hi[d])).mean())


#: metric -> (numerator cells, denominator cells) in tp, fn, fp, tn order
PROPORTIONS = {
    "accuracy": ([0, 3], [0, 1, 2, 3]),
    "recall": ([0], [0, 1]),
    "fpr": ([2], [2, 3]),
    "precision": ([0], [0, 2]),
    "fnr": ([1], [0, 1]),
}


def _proportion_coverage(method: str, seed: int) -> dict[tuple[str, int, float], float]:
    rng = np.random.default_rng(seed)
    out = {}
    for n in SIZES:
        for prev in PREVALENCES:
            pi = _cells(prev)
            truth = _binary_from_cells(pi)
            c = rng.multinomial(n, pi, size=R).astype(float)
            for name, (num, den) in PROPORTIONS.items():
                x, m = c[:, num].sum(1), c[:, den].sum(1)
                lo, hi = proportion_interval(x, m, method=method)  # type: ignore[arg-type]
                out[name, n, prev] = _coverage(lo, hi, float(truth[name]), m > 0)
    return out


def test_exact_proportion_intervals_keep_coverage_at_small_n() -> None:
    """Clopper-Pearson is exact (conservative): coverage at or above 95% in every cell of
    the grid (allowing one Monte Carlo point). The bootstrap percentile interval covered
    recall in 42% of 20-label slices (issue 12)."""
    cov = _proportion_coverage("exact", seed=12)
    low = {k: v for k, v in cov.items() if v < 0.94}
    assert not low, low
    assert np.mean(list(cov.values())) >= 0.96  # conservative on average, as exact is


def test_wilson_undercovers_the_small_classes_which_is_why_exact_is_the_default() -> None:
    """Wilson keeps accuracy within 3 points of 95% but not recall: with one or two gold
    positives in a slice its coverage of a 0.92 rate is 85-92%."""
    cov = _proportion_coverage("wilson", seed=12)
    assert min(cov["accuracy", n, p] for n in SIZES for p in PREVALENCES) >= 0.915
    assert min(cov["recall", n, 0.05] for n in SIZES) < 0.93


def test_balanced_accuracy_mover_interval_keeps_coverage() -> None:
    rng = np.random.default_rng(5)
    for n in SIZES:
        for prev in PREVALENCES:
            pi = _cells(prev)
            truth = float(_binary_from_cells(pi)["balanced_accuracy"])
            tp, fn, fp, tn = rng.multinomial(n, pi, size=R).astype(float).T
            l1, u1 = proportion_interval(tp, tp + fn)
            l2, u2 = proportion_interval(tn, tn + fp)
            with np.errstate(invalid="ignore", divide="ignore"):
                p1, p2 = tp / (tp + fn), tn / (tn + fp)
            value, lo, hi = mover_mean((p1, p2), (l1, l2), (u1, u2))
            cov = _coverage(lo, hi, truth, np.isfinite(value))
            assert cov >= 0.94, (n, prev, cov)


def test_kappa_f1_mcc_posterior_intervals_within_three_points() -> None:
    """Dirichlet posterior intervals joined over the priors 1/4 and 1/2: coverage at least
    92% (3 points under nominal) over the grid."""
    rng = np.random.default_rng(7)
    worst = {}
    for n in SIZES:
        for prev in PREVALENCES:
            pi = _cells(prev)
            truth = _binary_from_cells(pi)
            c = rng.multinomial(n, pi, size=R).astype(float)
            point = _binary_from_cells(c)
            names = ("cohen_kappa", "f1", "mcc")
            limits = dirichlet_intervals(
                c, _binary_from_cells, {k: point[k] for k in names}, n_draws=400, rng=rng
            )
            for name in names:
                lo, hi = limits[name]
                cov = _coverage(lo, hi, float(truth[name]), np.isfinite(point[name]))
                worst[name] = min(worst.get(name, 1.0), cov)
                assert cov >= 0.92, (name, n, prev, cov)
    assert min(worst.values()) < 0.99  # not trivially wide everywhere


def test_single_priors_undercover_where_the_union_does_not() -> None:
    """Why the interval joins two priors: Dirichlet(1) kappa at n = 20, prevalence 0.5,
    covers under 90%; Jeffreys' 1/2 alone at n = 10, prevalence 0.5 and 1/4 alone at
    n = 50, prevalence 0.05 fall under or near 92%."""
    rng = np.random.default_rng(8)

    def coverage(n: int, prev: float, priors: tuple[float, ...]) -> float:
        pi = _cells(prev)
        c = rng.multinomial(n, pi, size=2000).astype(float)
        point = _binary_from_cells(c)["cohen_kappa"]
        lo, hi = dirichlet_intervals(
            c,
            _binary_from_cells,
            {"cohen_kappa": point},
            n_draws=400,
            rng=rng,
            priors=priors,
        )["cohen_kappa"]
        return _coverage(lo, hi, float(_binary_from_cells(pi)["cohen_kappa"]), np.isfinite(point))

    assert coverage(20, 0.5, (1.0,)) < 0.9
    assert coverage(10, 0.5, (0.5,)) < 0.935 < coverage(10, 0.5, (0.25, 0.5))
    assert coverage(50, 0.05, (0.25,)) < 0.925 < coverage(50, 0.05, (0.25, 0.5))


@pytest.mark.parametrize("auc", [0.92, 0.75])
def test_auroc_newcombe_interval_coverage(auc: float) -> None:
    """Binormal scores with equal variances: AUROC = Phi(d / sqrt 2)."""
    rng = np.random.default_rng(int(auc * 100))
    d = math.sqrt(2) * norm.ppf(auc)
    for n in SIZES:
        for prev in PREVALENCES:
            y = rng.random((R, n)) < prev
            s = rng.normal(size=(R, n)) + d * y
            above = (s[:, :, None] > s[:, None, :]) & y[:, :, None] & ~y[:, None, :]
            m, k = y.sum(1), n - y.sum(1)
            with np.errstate(invalid="ignore", divide="ignore"):
                est = above.sum((1, 2)) / (m * k)
            lo, hi = auroc_interval(est, m, k)
            cov = _coverage(lo, hi, auc, np.isfinite(est))
            assert 0.93 <= cov <= 0.985, (n, prev, cov)


def test_twelve_of_twelve_never_collapses() -> None:
    t = pd.DataFrame(
        {
            "gold": ["1"] * 6 + ["0"] * 6,
            "judge": ["1"] * 6 + ["0"] * 6,
            "score": [0.9] * 6 + [0.1] * 6,
        }
    )
    for r in (judge_metrics(t, positive="1", score="score"), judge_metrics(t)):
        for name in ("accuracy", "cohen_kappa", "precision", "recall", "f1", "fpr", "fnr"):
            e = getattr(r, name)
            if e is None:
                continue
            assert e.width > 0.2, (name, e)
            assert e.ci[0] <= e.value <= e.ci[1], (name, e)
        for name in ("mcc", "balanced_accuracy", "auroc"):
            e = getattr(r, name)
            if e is not None:
                assert e.width > 0.2 and e.ci[0] <= e.value <= e.ci[1], (name, e)
    # exact lower bound of 12/12 is (alpha / 2)^(1/12): P(12 of 12 | p) = p^12 = 0.025
    r = judge_metrics(t, positive="1")
    assert r.accuracy.ci == pytest.approx((0.025 ** (1 / 12), 1.0))
    assert r.accuracy.method == "clopper-pearson"


def test_hand_derived_wilson_values() -> None:
    """Wilson (1927): centre (p + z^2/2n) / (1 + z^2/n), half-width
    z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n).

    * 12 of 12 (p = 1): the half-width is (z^2/2n) / (1 + z^2/n), so the lower bound is
      1 / (1 + z^2/n) = n / (n + z^2) = 12 / (12 + 1.959964^2) = 12 / 15.841459 = 0.757505.
    * 7 of 10: z^2 = 3.841459, 1 + z^2/n = 1.384146; centre (0.7 + 0.192073) / 1.384146
      = 0.644493; half 1.959964 sqrt(0.021 + 0.009604) / 1.384146 = 0.247715; so
      [0.396778, 0.892209].
    """
    r = judge_metrics(
        pd.DataFrame({"gold": ["1"] * 12, "judge": ["1"] * 12}),
        positive="1",
        proportion_interval="wilson",
    )
    assert r.accuracy.ci[0] == pytest.approx(0.757505, abs=1e-6)
    assert r.accuracy.ci[1] == 1.0 and r.accuracy.method == "wilson"
    lo, hi = proportion_interval(7, 10, method="wilson")
    assert (float(lo), float(hi)) == pytest.approx((0.396778, 0.892209), abs=1e-6)
    assert (float(lo), float(hi)) == pytest.approx(proportion_confint(7, 10, method="wilson"))
    lo, hi = proportion_interval(7, 10, method="exact")
    assert (float(lo), float(hi)) == pytest.approx(proportion_confint(7, 10, method="beta"))


def test_judge_metrics_uses_the_simulated_intervals() -> None:
    """Wiring: on random small tables judge_metrics gives the intervals the simulations
    check (cells -> exact limits, MOVER, Newcombe)."""
    rng = np.random.default_rng(3)
    for _ in range(5):
        n = int(rng.integers(10, 50))
        g = rng.random(n) < 0.3
        j = np.where(rng.random(n) < 0.85, g, ~g)
        s = np.clip(0.5 * j + rng.normal(0.25, 0.2, n), 0, 1).round(2)
        t = pd.DataFrame({"gold": np.where(g, "1", "0"), "judge": np.where(j, "1", "0"), "s": s})
        r = judge_metrics(t, positive="1", score="s", n_boot=200)
        tp, fn = int((g & j).sum()), int((g & ~j).sum())
        fp, tn = int((~g & j).sum()), int((~g & ~j).sum())
        assert r.recall.ci == pytest.approx(tuple(map(float, proportion_interval(tp, tp + fn))))
        assert r.fpr.ci == pytest.approx(tuple(map(float, proportion_interval(fp, fp + tn))))
        assert r.precision.ci == pytest.approx(tuple(map(float, proportion_interval(tp, tp + fp))))
        l1, u1 = proportion_interval(tp, tp + fn)
        l2, u2 = proportion_interval(tn, tn + fp)
        _, lo, hi = mover_mean((tp / (tp + fn), tn / (tn + fp)), (l1, l2), (u1, u2))
        assert r.balanced_accuracy.ci == pytest.approx((float(lo), float(hi)))
        lo, hi = auroc_interval(r.auroc.value, g.sum(), (~g).sum())
        assert r.auroc.ci == pytest.approx((float(lo), float(hi)))
        assert r.auroc.method == "newcombe-score" and r.mcc.method == "bayes-dirichlet(1/4..1/2)"
        assert r.balanced_accuracy.method == "mover-clopper-pearson"


def _population(rng: np.random.Generator, size: int = 4000) -> pd.DataFrame:
    """A judge with recall 0.6 and specificity 0.95 at prevalence 0.2 (accuracy 0.88) and a
    score; the gold sample oversamples disagreements (inclusion 0.05) over agreements
    (0.005)."""
    g = rng.random(size) < 0.2
    j = np.where(g, rng.random(size) < 0.6, rng.random(size) < 0.05)
    return pd.DataFrame(
        {
            "gold": np.where(g, "1", "0"),
            "judge": np.where(j, "1", "0"),
            "p": np.where(g != j, 0.05, 0.005),
            "s": np.clip(0.4 * j + 0.3 * g + rng.normal(0.2, 0.2, size), 0, 1),
        }
    )


def test_weights_recover_the_population_metrics() -> None:
    """Weighted: mean estimate near the population's accuracy, and every interval (on
    Kish's effective n, an approximation for unequal weights) covers the population value
    in at least 88% of 200 gold sets (measured with 300: 92-100% by metric). Unweighted: the
    sample's accuracy, about half the population's."""
    rng = np.random.default_rng(11)
    pop = _population(rng)
    y, yhat = pop["gold"] == "1", pop["judge"] == "1"
    cells = np.array([(y & yhat).sum(), (y & ~yhat).sum(), (~y & yhat).sum(), (~y & ~yhat).sum()])
    truth = {k: float(v) for k, v in _binary_from_cells(cells.astype(float)).items()}
    truth["auroc"] = float(roc_auc_score(y, pop["s"]))
    names = list(truth)
    weighted, plain, n_gold = [], [], []
    covered: dict[str, list[bool]] = {k: [] for k in names}
    for _ in range(200):
        sample = pop[rng.random(len(pop)) < pop["p"]]
        w = judge_metrics(sample, positive="1", weight="p", score="s", n_boot=200)
        u = judge_metrics(sample, positive="1", n_boot=0)
        weighted.append(w.accuracy.value)
        plain.append(u.accuracy.value)
        n_gold.append(w.n)
        for k in names:
            e = getattr(w, k)
            if np.isfinite(e.value):
                covered[k].append(e.ci[0] <= truth[k] <= e.ci[1])
        assert w.weighted and w.n_effective < w.n
        assert w.n_effective == pytest.approx(float(kish_n(1 / sample["p"].to_numpy())))
    assert 25 <= np.mean(n_gold) <= 45  # a small gold set: ~16 disagreements, ~17 agreements
    assert abs(np.mean(weighted) - truth["accuracy"]) < 0.02
    assert abs(np.mean(plain) - truth["accuracy"]) > 0.3  # the sample's accuracy is about half
    coverage = {k: float(np.mean(v)) for k, v in covered.items()}
    assert min(coverage.values()) >= 0.88, coverage


@pytest.mark.parametrize(
    ("gold_p", "acc", "floor"),
    [
        ((0.6, 0.15, 0.25), 0.85, 0.92),
        ((0.34, 0.33, 0.33), 0.92, 0.92),
        ((0.8, 0.1, 0.1), 0.92, 0.9),
    ],
)
def test_multiclass_kappa_and_accuracy_coverage(gold_p, acc, floor) -> None:
    """Three labels, a judge right ``acc`` of the time (else either other label): the
    multi-class kappa (Dirichlet over the 9 cells, prior mass scaled as in the binary
    table) keeps coverage, except n = 10 with two rare classes (0.1 each): about 91%
    there (``floor`` 0.90), within 3 points elsewhere. Unscaled priors covered 83-90%."""
    rng = np.random.default_rng(21)
    conf = np.where(np.eye(3, dtype=bool), acc, (1 - acc) / 2)
    pi = (np.array(gold_p)[:, None] * conf).reshape(-1)

    def kappa(c: np.ndarray) -> dict[str, np.ndarray]:
        return {"cohen_kappa": kappa_from_confusion(c.reshape(*c.shape[:-1], 3, 3))}

    truth = float(kappa(pi)["cohen_kappa"])
    for n in SIZES:
        c = rng.multinomial(n, pi, size=R).astype(float)
        point = kappa(c)["cohen_kappa"]
        lo, hi = dirichlet_intervals(
            c, kappa, {"cohen_kappa": point}, n_draws=400, rng=rng, priors=multiclass_priors(3)
        )["cohen_kappa"]
        cov = _coverage(lo, hi, truth, np.isfinite(point))
        assert cov >= (floor if n == 10 else 0.92), (n, cov)
        right = c[:, [0, 4, 8]].sum(1)
        lo, hi = proportion_interval(right, n)
        assert _coverage(lo, hi, acc, right >= 0) >= 0.94, n
    # and judge_metrics' multi-class view uses them
    t = pd.DataFrame({"gold": list("aabbcc") * 2, "judge": list("abbbca") * 2})
    r = judge_metrics(t, n_boot=100)
    assert r.accuracy.ci == pytest.approx(tuple(map(float, proportion_interval(8, 12))))
    assert r.cohen_kappa.method == "bayes-dirichlet(1/4..1/2)" and r.cohen_kappa.width > 0


def test_cli_weight(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    rng = np.random.default_rng(4)
    pop = _population(rng, 20000)
    sample = pop[rng.random(len(pop)) < pop["p"]].rename(columns={"p": "inclusion_prob"})
    path = tmp_path / "gold.csv"
    sample.to_csv(path, index=False)
    argv = ["calibrate", "judge", "--table", str(path), "--judge", "judge", "--positive", "1"]
    assert main([*argv, "--weight", "inclusion_prob", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)["judges"]["judge"]
    ref = judge_metrics(sample, positive="1", weight="inclusion_prob")
    assert d["weighted"] is True and d["n_effective"] == pytest.approx(ref.n_effective)
    for name in ("accuracy", "recall", "fpr", "precision", "balanced_accuracy", "mcc"):
        got = getattr(ref, name)
        assert d[name] == {"value": got.value, "ci": list(got.ci), "method": got.method}
    assert d["accuracy"]["value"] > 0.8  # the population's, not the sample's (about 0.5)
    # without --weight: the sample's figure, and the output says so
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["judges"]["judge"]["weighted"] is False
    assert out["judges"]["judge"]["accuracy"]["value"] < 0.65
    assert any("--weight inclusion_prob" in note for note in out["notes"])
    # the table for people names each interval's method and the weighting
    assert main([*argv, "--weight", "inclusion_prob"]) == 0
    text = capsys.readouterr().out
    assert "clopper-pearson: accuracy" in text and "effective n" in text
    # probabilities must be in (0, 1]
    sample.assign(inclusion_prob=0.0).to_csv(path, index=False)
    assert main([*argv, "--weight", "inclusion_prob"]) == 2
    assert "inclusion probabilities in (0, 1]" in capsys.readouterr().err


def test_workspace_judge_and_card_are_weighted(capsys, stats_workspace) -> None:
    """The workspace's gold is a Poisson sample with inclusion 0.5 or 0.25 by modality:
    `calibrate judge` and the judge card weight by it and say so."""
    from safecal.calibrate.report.card import judge_card
    from safecal.calibrate.tables import judge_table

    argv = ["calibrate", "judge", "--workspace", str(stats_workspace.path), "--binary"]
    assert main([*argv, "--run", "example-vlm-judge", "--n-boot", "100", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    vlm = d["judges"]["example-vlm-judge"]
    assert vlm["weighted"] is True and vlm["n_effective"] < vlm["n"]
    assert any("unequal inclusion probabilities" in note for note in d["notes"])
    table, _ = judge_table(stats_workspace, field="harmfulness", runs=["example-vlm-judge"])
    rows = table[table["example-vlm-judge"].notna() & table["gold"].notna()]
    ref = judge_metrics(
        rows,
        judge="example-vlm-judge",
        positive=["unsafe"],
        labels=["safe_with_refusal", "safe_with_warning", "unsafe"],
        weight="inclusion_prob",
        n_boot=0,
    )
    assert vlm["accuracy"]["value"] == pytest.approx(ref.accuracy.value)
    assert main([*argv, "--weight", "inclusion_prob"]) == 2  # the workspace knows its samples
    capsys.readouterr()
    card = judge_card(stats_workspace, "example-vlm-judge", n_boot=50)
    field = card["fields"]["harmfulness"]
    assert field["weighted"] is True
    assert field["metrics"]["accuracy"]["value"] == pytest.approx(ref.accuracy.value)
    assert field["metrics"]["accuracy"]["method"] == "clopper-pearson"


def test_hand_derived_weighted_values() -> None:
    """Two valid gold rows, inclusion 0.5 and 0.25 (weights 2 and 4), both right; a third
    gold row has an invalid verdict and an unlabeled row has no probability. Kish's
    n_eff = (2 + 4)^2 / (4 + 16) = 1.8; exact lower bound at x = n is (alpha/2)^(1/n) =
    0.025^(1/1.8) = exp(-3.688879 / 1.8) = 0.128815. The index repeats on purpose."""
    t = pd.DataFrame(
        {
            "gold": ["1", "0", None, "1"],
            "judge": ["1", "0", "1", "x?"],
            "p": [0.5, 0.25, None, 0.5],
        },
        index=[0, 0, 1, 1],
    )
    r = judge_metrics(t, positive="1", weight="p", labels=["0", "1"])
    assert (r.n, r.n_invalid, r.n_effective) == (2, 1, pytest.approx(1.8))
    assert r.accuracy.value == 1.0 and r.accuracy.ci == pytest.approx((0.128815, 1.0), abs=1e-6)
    # weighted accuracy is the weighted share right: 1 right of weight 2, 1 wrong of weight 4
    t.iloc[1, t.columns.get_loc("judge")] = "1"
    assert judge_metrics(t, positive="1", weight="p", labels=["0", "1"]).accuracy.value == (
        pytest.approx(2 / 6)
    )
    with pytest.raises(InputError, match=r"inclusion probabilities in \(0, 1\]"):
        judge_metrics(t.assign(p=[0.5, 0.0, None, 0.5]), positive="1", weight="p")
