"""The exact threshold search against a brute-force loop over scikit-learn's metrics."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score

from safecal.calibrate.thresholds import threshold_table, tune_threshold


def brute_force(y: np.ndarray, s: np.ndarray) -> list[dict[str, float]]:
    rows = []
    for t in sorted(set(s.tolist()), reverse=True):
        pred = (s >= t).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
        kappa = cohen_kappa_score(y, pred) if len(set(pred)) > 1 or len(set(y)) > 1 else 0.0
        rows.append(
            {
                "threshold": t,
                "tp": tp,
                "fp": fp,
                "tn": tn,
                "fn": fn,
                "cohen_kappa": 0.0 if np.isnan(kappa) else kappa,
                "f1": f1_score(y, pred, zero_division=0),
                "youden_j": tp / (tp + fn) - fp / (fp + tn),
                "fpr": fp / (fp + tn),
                "fnr": fn / (fn + tp),
            }
        )
    return rows


@pytest.mark.parametrize("seed", range(6))
def test_table_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 60
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]  # both classes present
    s = np.round(rng.random(n) * 0.5 + 0.4 * y, 1)  # rounding makes ties
    table = threshold_table(y, s)
    expected = brute_force(y, s)
    assert len(table) == len(expected) == len(set(s.tolist()))
    for got, want in zip(table.to_dict(orient="records"), expected, strict=True):
        for key, value in want.items():
            assert got[key] == pytest.approx(value, abs=1e-12), (key, got, want)


@pytest.mark.parametrize(
    "objective,column,sign",
    [("kappa", "cohen_kappa", 1), ("f1", "f1", 1), ("youden", "youden_j", 1)],
)
def test_optimum_is_the_brute_force_optimum(objective: str, column: str, sign: int) -> None:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 120)
    s = np.round(rng.random(120) * 0.6 + 0.3 * y, 2)  # ties included
    choice = tune_threshold(y, s, objective=objective)
    rows = brute_force(y, s)
    best = max(r[column] for r in rows)
    assert choice.value == pytest.approx(best)
    # ties go to the highest threshold
    assert choice.threshold == max(r["threshold"] for r in rows if r[column] == pytest.approx(best))


def test_cost_and_constrained_objectives() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 150)
    s = rng.random(150) * 0.7 + 0.25 * y
    rows = brute_force(y, s)
    # cost: c_fp = 1, c_fn = 5 -> minimise (fp + 5 fn) / n
    choice = tune_threshold(y, s, objective="cost", cost_fp=1, cost_fn=5)
    assert choice.value == pytest.approx(min((r["fp"] + 5 * r["fn"]) / 150 for r in rows))
    choice = tune_threshold(y, s, objective="fpr_at_fnr", max_fnr=0.05)
    ok = [r for r in rows if r["fnr"] <= 0.05]
    assert choice.feasible and choice.value == pytest.approx(min(r["fpr"] for r in ok))
    assert choice.row["fnr"] <= 0.05


def test_hand_derived_kappa() -> None:
    # y = 1 1 0 0, s = .9 .4 .6 .1; at t = .6: tp 1 fp 1 tn 1 fn 1 -> p_o = .5,
    # p_e = (2*2 + 2*2) / 16 = .5 -> kappa 0; at t = .9: tp 1 fp 0 tn 2 fn 1 -> p_o = .75,
    # p_e = (1*2 + 3*2) / 16 = .5 -> kappa .5
    table = threshold_table([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1]).set_index("threshold")
    assert table.loc[0.6, "cohen_kappa"] == pytest.approx(0.0)
    assert table.loc[0.9, "cohen_kappa"] == pytest.approx(0.5)
    assert tune_threshold([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1]).threshold == 0.9


def test_rejects_nan_scores() -> None:
    with pytest.raises(ValueError, match="NaN"):
        threshold_table([0, 1], [0.2, float("nan")])
