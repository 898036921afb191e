"""Property test: on any small rating matrix the coefficients equal the independent
implementations (krippendorff, scikit-learn, statsmodels)."""

from __future__ import annotations

import krippendorff
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from safecal.calibrate.agreement import agreement_from_codes, krippendorff_alpha_w, rating_patterns

ratings = arrays(
    np.int64, st.tuples(st.integers(2, 30), st.integers(2, 4)), elements=st.integers(-1, 2)
)


def close(a: float, b: float) -> bool:
    return (np.isnan(a) and np.isnan(b)) or abs(a - b) < 1e-9


@settings(max_examples=60, deadline=None)
@given(ratings)
def test_alpha_matches_krippendorff(codes: np.ndarray) -> None:
    usable = (codes >= 0).sum(axis=1) >= 2
    values = set(codes[usable][codes[usable] >= 0].tolist())
    if len(values) < 2:
        return  # the package refuses data with one value; ours is NaN (tested elsewhere)
    data = codes.T.astype(float)
    data[data < 0] = np.nan
    for level in ("nominal", "ordinal"):
        ours = agreement_from_codes(codes, ["a", "b", "c"], level=level, n_boot=0)
        ref = krippendorff.alpha(data, level_of_measurement=level, value_domain=[0, 1, 2])
        assert close(ours.krippendorff_alpha.value, ref)
    # the bootstrap's own statistic at the identity resample, at every level
    values = np.array([0.0, 1.0, 3.5])
    p = rating_patterns(codes, 3)
    numeric = np.where(codes >= 0, values[np.maximum(codes, 0)], np.nan).T
    for level in ("nominal", "ordinal", "interval", "ratio"):
        domain = values if level in ("interval", "ratio") else np.arange(3.0)
        ref_data = numeric if level in ("interval", "ratio") else data
        ref = krippendorff.alpha(ref_data, level_of_measurement=level, value_domain=domain)
        assert close(float(krippendorff_alpha_w(p, p.freq, level, values=domain)), ref)


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.int64, st.tuples(st.integers(2, 30), st.integers(2, 4)), elements=st.integers(0, 2))
)
def test_complete_data_kappas_match(codes: np.ndarray) -> None:
    ours = agreement_from_codes(codes, ["a", "b", "c"], n_boot=0)
    with np.errstate(all="ignore"):
        fk = fleiss_kappa(aggregate_raters(codes, n_cat=3)[0], method="fleiss")
    assert close(ours.fleiss_kappa.value, fk)
    pairs = []
    for a in range(codes.shape[1]):
        for b in range(a + 1, codes.shape[1]):
            # sklearn returns NaN (with a warning) when p_e = 1; ours leaves that pair out
            if len(set(codes[:, a]) | set(codes[:, b])) > 1:
                pairs.append(cohen_kappa_score(codes[:, a], codes[:, b], labels=[0, 1, 2]))
    expected = float(np.nanmean(pairs)) if pairs and not np.all(np.isnan(pairs)) else np.nan
    assert close(ours.cohen_kappa.value, expected)
