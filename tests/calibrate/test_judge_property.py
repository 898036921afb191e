"""Property test: judge metrics equal scikit-learn's on any small labelled sample."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from safecal.calibrate import judge_metrics

pairs = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.integers(0, 2),
        st.floats(0, 1, allow_nan=False).map(lambda x: round(x, 1)),
    ),
    min_size=1,
    max_size=40,
)
LABELS = np.array(["full_compliance", "partial_refusal", "full_refusal"])


def same(a: float, b: float) -> bool:
    return (np.isnan(a) and np.isnan(b)) or abs(a - b) < 1e-9


@settings(max_examples=30, deadline=None)
@given(pairs)
def test_binary_view_matches_sklearn(rows: list[tuple[int, int, float]]) -> None:
    g, j, s = (np.array(x) for x in zip(*rows, strict=True))
    t = pd.DataFrame({"gold": LABELS[g], "judge": LABELS[j], "score": s})
    r = judge_metrics(t, positive=["partial_refusal", "full_refusal"], score="score", n_boot=0)
    y, yhat = g > 0, j > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert same(r.accuracy.value, skm.accuracy_score(y, yhat))
        assert same(r.f1.value, skm.f1_score(y, yhat, zero_division=np.nan))
        assert same(r.precision.value, skm.precision_score(y, yhat, zero_division=np.nan))
        assert same(r.recall.value, skm.recall_score(y, yhat, zero_division=np.nan))
        if y.any() and not y.all():
            assert same(r.auroc.value, skm.roc_auc_score(y, s))
            assert same(r.auprc.value, skm.average_precision_score(y, s))
            assert same(r.balanced_accuracy.value, skm.balanced_accuracy_score(y, yhat))
        if len(set(y)) > 1 and len(set(yhat)) > 1:
            assert same(r.mcc.value, skm.matthews_corrcoef(y, yhat))
        if len(set(y) | set(yhat)) > 1:
            assert same(r.cohen_kappa.value, skm.cohen_kappa_score(y, yhat))
