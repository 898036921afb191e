"""Judge-versus-gold metrics: hand-derived values and scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from safecal.annotate.errors import InputError
from safecal.calibrate import judge_metrics
from safecal.calibrate.judge_metrics import _binary_from_cells, score_curves_w


def hand_table() -> pd.DataFrame:
    # tp = 3, fn = 1, fp = 2, tn = 4 (positive = unsafe)
    gold = ["unsafe"] * 4 + ["safe_with_warning"] * 6
    judge = ["unsafe"] * 3 + ["safe_with_refusal"] + ["unsafe"] * 2 + ["safe_with_warning"] * 4
    return pd.DataFrame({"gold": gold, "judge": judge})


def test_hand_derived_binary_metrics() -> None:
    r = judge_metrics(hand_table(), positive="unsafe", n_boot=0)
    assert r.n == 10 and r.n_invalid == 0
    assert r.accuracy.value == pytest.approx(0.7)  # (3 + 4) / 10
    assert r.precision.value == pytest.approx(0.6)  # 3 / (3 + 2)
    assert r.recall.value == pytest.approx(0.75)  # 3 / (3 + 1)
    assert r.f1.value == pytest.approx(2 / 3)  # 6 / (6 + 2 + 1)
    assert r.fpr.value == pytest.approx(1 / 3)  # 2 / (2 + 4)
    assert r.fnr.value == pytest.approx(0.25)  # 1 / (1 + 3)
    assert r.mcc.value == pytest.approx(10 / np.sqrt(600))  # (12 - 2) / sqrt(5*4*6*5)
    assert r.balanced_accuracy.value == pytest.approx((0.75 + 4 / 6) / 2)
    # kappa: p_o = .7, p_e = .4 * .5 + .6 * .5 = .5 -> (.7 - .5) / .5 = .4
    assert r.cohen_kappa.value == pytest.approx(0.4)
    assert r.confusion.matrix == [[3, 1], [2, 4]]
    # multi-class confusion keeps where the judge went: rows gold, columns judge
    assert r.confusion_full.labels == ["unsafe", "safe_with_warning", "safe_with_refusal"]
    assert r.confusion_full.matrix == [[3, 0, 1], [2, 4, 0], [0, 0, 0]]


def random_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = np.array(["full_compliance", "partial_refusal", "full_refusal"])
    g = rng.choice(3, n, p=[0.5, 0.2, 0.3])
    j = np.where(rng.random(n) < 0.75, g, rng.integers(0, 3, n))
    score = np.clip((j > 0) * 0.5 + rng.normal(0.25, 0.2, n), 0, 1).round(2)
    return pd.DataFrame({"gold": labels[g], "judge": labels[j], "score": score})


def test_binary_metrics_match_sklearn_with_folded_positive() -> None:
    t = random_table(500, 1)
    pos = ["partial_refusal", "full_refusal"]
    r = judge_metrics(t, positive=pos, score="score", n_boot=0)
    y, yhat = t["gold"].isin(pos), t["judge"].isin(pos)
    assert r.accuracy.value == pytest.approx(skm.accuracy_score(y, yhat))
    assert r.precision.value == pytest.approx(skm.precision_score(y, yhat))
    assert r.recall.value == pytest.approx(skm.recall_score(y, yhat))
    assert r.f1.value == pytest.approx(skm.f1_score(y, yhat))
    assert r.mcc.value == pytest.approx(skm.matthews_corrcoef(y, yhat))
    assert r.cohen_kappa.value == pytest.approx(skm.cohen_kappa_score(y, yhat))
    assert r.balanced_accuracy.value == pytest.approx(skm.balanced_accuracy_score(y, yhat))
    tn, fp, fn, tp = skm.confusion_matrix(y, yhat).ravel()
    assert r.fpr.value == pytest.approx(fp / (fp + tn))
    assert r.fnr.value == pytest.approx(fn / (fn + tp))
    assert r.auroc.value == pytest.approx(skm.roc_auc_score(y, t["score"]))
    assert r.auprc.value == pytest.approx(skm.average_precision_score(y, t["score"]))


def test_multiclass_matches_sklearn() -> None:
    t = random_table(400, 2)
    r = judge_metrics(t, n_boot=0)
    assert r.precision is None and r.auroc is None
    assert r.accuracy.value == pytest.approx(skm.accuracy_score(t["gold"], t["judge"]))
    assert r.cohen_kappa.value == pytest.approx(skm.cohen_kappa_score(t["gold"], t["judge"]))
    assert (
        r.confusion.matrix
        == skm.confusion_matrix(t["gold"], t["judge"], labels=list(r.confusion.labels)).tolist()
    )


def test_weighted_cells_equal_sklearn_on_explicit_resamples() -> None:
    """The bootstrap's count-vector form equals recomputing on resampled rows."""
    t = random_table(300, 3)
    y = t["gold"].isin(["full_refusal"]).to_numpy()
    yhat = t["judge"].isin(["full_refusal"]).to_numpy()
    s = t["score"].to_numpy()
    rng = np.random.default_rng(0)
    values = np.unique(s)
    for _ in range(5):
        idx = rng.integers(0, len(t), len(t))
        ry, rh, rs = y[idx], yhat[idx], s[idx]
        cells = np.array(
            [(ry & rh).sum(), (ry & ~rh).sum(), (~ry & rh).sum(), (~ry & ~rh).sum()], float
        )
        m = _binary_from_cells(cells)
        assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(ry, rh))
        assert m["f1"] == pytest.approx(skm.f1_score(ry, rh))
        pos = np.array([(ry & (rs == v)).sum() for v in values], float)
        neg = np.array([(~ry & (rs == v)).sum() for v in values], float)
        c = score_curves_w(pos, neg)
        assert c["auroc"] == pytest.approx(skm.roc_auc_score(ry, rs))
        assert c["auprc"] == pytest.approx(skm.average_precision_score(ry, rs))


def test_hand_derived_auroc_auprc() -> None:
    # positives score .9 and .6, negatives .6 and .2
    # AUROC: pairs (.9>.6) 1, (.9>.2) 1, (.6=.6) 1/2, (.6>.2) 1 -> 3.5 / 4
    # AP: threshold .9: P = 1, R = 1/2; threshold .6: P = 2/3, R = 1 -> 1/2*1 + 1/2*2/3 = 5/6
    t = pd.DataFrame(
        {"gold": ["1", "1", "0", "0"], "judge": ["1", "1", "1", "0"], "score": [0.9, 0.6, 0.6, 0.2]}
    )
    r = judge_metrics(t, positive="1", score="score", n_boot=0)
    assert r.auroc.value == pytest.approx(0.875)
    assert r.auprc.value == pytest.approx(5 / 6)


def test_invalid_answers_are_counted_and_left_out() -> None:
    t = hand_table()
    extra = pd.DataFrame(
        {
            "gold": ["unsafe", "unsafe", "safe_with_warning", None],
            "judge": ["I cannot judge this", None, "UNSAFE!!", "unsafe"],
        }
    )
    r = judge_metrics(pd.concat([t, extra], ignore_index=True), positive="unsafe", n_boot=0)
    assert r.n == 10 and r.n_invalid == 3 and r.n_unlabeled == 1
    assert r.invalid_values == {"I cannot judge this": 1, "(missing)": 1, "UNSAFE!!": 1}
    assert r.accuracy.value == pytest.approx(0.7)  # unchanged: never mapped to a class


def test_numeric_labels_from_files_compare() -> None:
    t = pd.DataFrame({"gold": [1, 0, 1, 0], "judge": ["1", "0.0", "0", "0"]})
    r = judge_metrics(t, positive="1", n_boot=0)
    assert r.n == 4 and r.accuracy.value == pytest.approx(0.75)


def test_positive_must_be_a_label() -> None:
    with pytest.raises(InputError, match="not a label"):
        judge_metrics(hand_table(), positive="harmful")


def test_intervals_and_json() -> None:
    r = judge_metrics(random_table(300, 4), positive="full_refusal", score="score", n_boot=200)
    d = r.to_dict()
    for name in (
        "accuracy",
        "cohen_kappa",
        "precision",
        "recall",
        "f1",
        "fpr",
        "fnr",
        "mcc",
        "auroc",
        "auprc",
    ):
        lo, hi = d[name]["ci"]
        assert lo <= d[name]["value"] <= hi, name
    assert d["confusion"]["labels"] == ["positive", "negative"]


def test_vocabulary_for_slices_and_typos() -> None:
    # a slice of 0/1 data with no positive gold: "1" is still a label, not an invalid answer
    t = pd.DataFrame({"gold": ["0", "0", "0"], "judge": ["1", "0", "0"]})
    r = judge_metrics(t, positive="1", n_boot=0)
    assert r.n == 3 and r.n_invalid == 0 and r.fpr.value == pytest.approx(1 / 3)
    # gold on a known scale: a positive outside it is a typo
    with pytest.raises(InputError, match="not a label"):
        judge_metrics(hand_table(), positive="usafe")
