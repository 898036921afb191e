"""Agreement coefficients: hand-derived values and independent implementations."""

from __future__ import annotations

import itertools

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from safecal.annotate.errors import InputError
from safecal.calibrate import agreement, wide_to_long
from safecal.calibrate.agreement import (
    _wide_codes,
    agreement_from_codes,
    cohen_kappa_w,
    fleiss_kappa_w,
    krippendorff_alpha_w,
    percent_agreement_w,
    rating_patterns,
)


def long_table(a: list[str], b: list[str]) -> pd.DataFrame:
    rows = [(i, "a", x) for i, x in enumerate(a)] + [(i, "b", x) for i, x in enumerate(b)]
    return pd.DataFrame(rows, columns=["unit", "rater", "label"])


# Two raters on four units:  a = x x y y,  b = x y y y
HAND = long_table(["x", "x", "y", "y"], ["x", "y", "y", "y"])


def test_hand_derived_nominal() -> None:
    r = agreement(HAND, n_boot=0)
    # percent agreement: units agree 1, 0, 1, 1 -> 3/4
    assert r.percent_agreement.value == pytest.approx(0.75)
    # Cohen: p_o = 3/4; marginals a (x 1/2, y 1/2), b (x 1/4, y 3/4)
    # p_e = 1/2*1/4 + 1/2*3/4 = 1/2 -> kappa = (3/4 - 1/2) / (1/2) = 1/2
    assert r.cohen_kappa.value == pytest.approx(0.5)
    # Fleiss: p_x = 3/8, p_y = 5/8, P_e = 9/64 + 25/64 = 34/64
    # kappa = (3/4 - 34/64) / (1 - 34/64) = 14/30 = 7/15
    assert r.fleiss_kappa.value == pytest.approx(7 / 15)
    # Krippendorff: o = [[2, 1], [1, 4]], n_x = 3, n_y = 5, n = 8
    # alpha = 1 - (n - 1) * (o_xy + o_yx) / (2 n_x n_y) = 1 - 7 * 2 / 30 = 16/30
    assert r.krippendorff_alpha.value == pytest.approx(16 / 30)
    # Gwet AC1: pi_x = (1 + 1/2 + 0 + 0) / 4 = 3/8; P_e = 2 * 3/8 * 5/8 / (2 - 1) = 15/32
    # AC1 = (3/4 - 15/32) / (1 - 15/32) = (9/32) / (17/32) = 9/17
    assert r.gwet_ac1.value == pytest.approx(9 / 17)
    # prevalence: x 3 of 8 ratings
    assert r.prevalence == pytest.approx({"x": 3 / 8, "y": 5 / 8})
    assert r.n_items == 4 and r.n_raters == 2


def test_ac1_uses_the_declared_scale_size() -> None:
    r = agreement(HAND, categories=["x", "y", "z"], n_boot=0)
    # K = 3: P_e = (3/8*5/8 + 5/8*3/8 + 0) / 2 = 15/64
    # AC1 = (3/4 - 15/64) / (1 - 15/64) = (33/64) / (49/64) = 33/49
    assert r.gwet_ac1.value == pytest.approx(33 / 49)
    # kappa and alpha do not depend on an unused category
    assert r.cohen_kappa.value == pytest.approx(0.5)
    assert r.krippendorff_alpha.value == pytest.approx(16 / 30)


def test_hand_derived_ordinal_alpha() -> None:
    # units (1,1), (1,2), (3,3): o_11 = 2, o_12 = o_21 = 1, o_33 = 2; n_1 = 3, n_2 = 1, n_3 = 2
    # d_12 = (n1 + n2 - (n1 + n2)/2)^2 = 4; d_13 = (6 - 5/2)^2 = 12.25; d_23 = (3 - 3/2)^2 = 2.25
    # observed: 2 * 4 = 8; expected: 2 * (3*1*4 + 3*2*12.25 + 1*2*2.25) = 180
    # alpha = 1 - (6 - 1) * 8 / 180 = 7/9
    t = long_table(["1", "1", "3"], ["1", "2", "3"])
    r = agreement(t, level="ordinal", categories=["1", "2", "3"], n_boot=0)
    assert r.krippendorff_alpha.value == pytest.approx(7 / 9)
    data = np.array([[1, 1, 3], [1, 2, 3]], dtype=float)
    assert r.krippendorff_alpha.value == pytest.approx(
        krippendorff.alpha(data, level_of_measurement="ordinal", value_domain=[1, 2, 3])
    )


def simulated_codes(n: int, raters: int, k: int, seed: int, missing: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.choice(k, size=n, p=np.linspace(1, 2, k) / np.linspace(1, 2, k).sum())
    codes = np.where(rng.random((n, raters)) < 0.7, truth[:, None], rng.integers(0, k, (n, raters)))
    if missing:
        codes = np.where(rng.random((n, raters)) < missing, -1, codes)
    return codes


def as_reliability(codes: np.ndarray) -> np.ndarray:
    data = codes.T.astype(float)
    data[data < 0] = np.nan
    return data


@pytest.mark.parametrize("level", ["nominal", "ordinal"])
@pytest.mark.parametrize("missing", [0.0, 0.25])
def test_alpha_matches_krippendorff_package(level: str, missing: float) -> None:
    codes = simulated_codes(400, 4, 3, seed=3, missing=missing)
    r = agreement_from_codes(codes, ["a", "b", "c"], level=level, n_boot=0)
    expected = krippendorff.alpha(
        as_reliability(codes), level_of_measurement=level, value_domain=[0, 1, 2]
    )
    assert r.krippendorff_alpha.value == pytest.approx(expected, abs=1e-12)


def test_kappas_match_sklearn_and_statsmodels() -> None:
    codes = simulated_codes(300, 3, 3, seed=5)
    r = agreement_from_codes(codes, ["a", "b", "c"], n_boot=0)
    pairs = [
        cohen_kappa_score(codes[:, a], codes[:, b]) for a, b in itertools.combinations(range(3), 2)
    ]
    assert r.cohen_kappa.value == pytest.approx(np.mean(pairs), abs=1e-12)
    assert r.fleiss_kappa.value == pytest.approx(
        fleiss_kappa(aggregate_raters(codes)[0], method="fleiss"), abs=1e-12
    )


def gwet_ac1_two_raters(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Gwet (2008), two-rater form, from the raters' confusion table: p_a = sum_k p_kk,
    pi_k = (p_k. + p_.k) / 2, p_e = sum_k pi_k (1 - pi_k) / (K - 1)."""
    table = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        table[x, y] += 1
    table /= table.sum()
    pa = np.trace(table)
    pi = (table.sum(axis=1) + table.sum(axis=0)) / 2
    pe = (pi * (1 - pi)).sum() / (k - 1)
    return (pa - pe) / (1 - pe)


def test_two_raters_ac1_and_percent_agreement_independent() -> None:
    codes = simulated_codes(300, 2, 3, seed=21)
    r = agreement_from_codes(codes, ["a", "b", "c"], n_boot=0)
    assert r.gwet_ac1.value == pytest.approx(gwet_ac1_two_raters(codes[:, 0], codes[:, 1], 3))
    assert r.percent_agreement.value == pytest.approx(accuracy_score(codes[:, 0], codes[:, 1]))


def test_two_raters_cohen_with_missing_uses_shared_units() -> None:
    codes = simulated_codes(200, 2, 3, seed=8, missing=0.2)
    both = (codes >= 0).all(axis=1)
    r = agreement_from_codes(codes, ["a", "b", "c"], n_boot=0)
    assert r.cohen_kappa.value == pytest.approx(
        cohen_kappa_score(codes[both, 0], codes[both, 1]), abs=1e-12
    )
    assert r.n_items == both.sum()


def test_weighted_patterns_equal_coefficients_of_an_explicit_resample() -> None:
    """The vectorized bootstrap: pattern weights from a resample's item counts give the
    same coefficients as recomputing on the resampled ratings (krippendorff, sklearn,
    statsmodels)."""
    codes = simulated_codes(250, 3, 3, seed=11, missing=0.1)
    codes = codes[(codes >= 0).sum(axis=1) >= 2]
    p = rating_patterns(codes, 3)
    index = {tuple(row): i for i, row in enumerate(p.codes)}
    item_pattern = np.array([index[tuple(row)] for row in codes])
    rng = np.random.default_rng(0)
    for _ in range(5):
        idx = rng.integers(0, len(codes), len(codes))
        w = np.bincount(item_pattern[idx], minlength=len(p.codes)).astype(float)
        res = codes[idx]
        for level in ("nominal", "ordinal"):
            assert krippendorff_alpha_w(p, w, level) == pytest.approx(
                krippendorff.alpha(
                    as_reliability(res), level_of_measurement=level, value_domain=[0, 1, 2]
                ),
                abs=1e-10,
            )
        direct = agreement_from_codes(res, ["a", "b", "c"], n_boot=0)
        assert fleiss_kappa_w(p, w) == pytest.approx(direct.fleiss_kappa.value, abs=1e-12)
        assert cohen_kappa_w(p, w) == pytest.approx(direct.cohen_kappa.value, abs=1e-12)
        assert percent_agreement_w(p, w) == pytest.approx(direct.percent_agreement.value)


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    codes = simulated_codes(300, 3, 3, seed=2)
    r1 = agreement_from_codes(codes, ["a", "b", "c"], n_boot=300, seed=7)
    r2 = agreement_from_codes(codes, ["a", "b", "c"], n_boot=300, seed=7)
    r3 = agreement_from_codes(codes, ["a", "b", "c"], n_boot=300, seed=8)
    assert r1 == r2
    assert r1.krippendorff_alpha.ci != r3.krippendorff_alpha.ci
    for name in (
        "percent_agreement",
        "cohen_kappa",
        "fleiss_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
    ):
        est = getattr(r1, name)
        assert est.ci[0] < est.value < est.ci[1], name


def test_prevalence_paradox_is_shown() -> None:
    # 96 units both raters say "safe", 2 units disagree each way: 96% agreement, low kappa
    a = ["safe"] * 96 + ["unsafe", "safe", "unsafe", "safe"]
    b = ["safe"] * 96 + ["safe", "unsafe", "safe", "unsafe"]
    r = agreement(long_table(a, b), n_boot=0)
    assert r.percent_agreement.value == pytest.approx(0.96)
    assert r.cohen_kappa.value < 0  # p_o = .96, p_e = .98^2 + .02^2 = .9608
    assert r.gwet_ac1.value > 0.9
    assert r.prevalence["safe"] == pytest.approx(0.98)
    assert any("prevalence" in n for n in r.notes)


def test_single_ratings_are_left_out_and_duplicates_refused() -> None:
    t = pd.concat([HAND, pd.DataFrame([{"unit": 99, "rater": "a", "label": "x"}])])
    r = agreement(t, n_boot=0)
    assert r.n_items == 4 and r.n_single == 1
    dup = pd.concat([HAND, HAND.iloc[:1]])
    with pytest.raises(InputError, match="more than once"):
        agreement(dup)
    with pytest.raises(InputError, match="not in the declared categories"):
        agreement(HAND, categories=["x"])


def test_wide_to_long_and_to_dict() -> None:
    wide = pd.DataFrame(
        {"r1": ["x", "x", "y", "y"], "r2": ["x", "y", "y", "y"], "m": ["A", "A", "B", "B"]}
    )
    long = wide_to_long(wide, ["r1", "r2"], keep=["m"])
    d = agreement(long, n_boot=50).to_dict()
    assert d["cohen_kappa"]["value"] == pytest.approx(0.5)
    assert set(d) >= {
        "n_items",
        "percent_agreement",
        "cohen_kappa",
        "fleiss_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
        "prevalence",
    }
    assert len(d["gwet_ac1"]["ci"]) == 2


def test_resample_weights_both_paths_are_item_bootstraps() -> None:
    """Few patterns: multinomial over patterns; many: item indices counted per pattern.
    Either way each resample has N items and pattern p is drawn f_p times on average."""
    from safecal.calibrate.bootstrap import resample_weights

    rng = np.random.default_rng(0)
    for freq in (np.array([5, 1, 14]), np.arange(1, 101)):
        w = resample_weights(freq, 1000, rng)
        assert (w.sum(axis=1) == freq.sum()).all()
        n = freq.sum()
        # E[w_p] = f_p, Var[w_p] = n (f_p / n)(1 - f_p / n)
        se = np.sqrt(freq * (1 - freq / n) / 1000)
        assert (np.abs(w.mean(axis=0) - freq) < 5 * se + 1e-9).all()


def test_many_raters_many_patterns() -> None:
    codes = simulated_codes(600, 12, 3, seed=9, missing=0.5)
    r = agreement_from_codes(codes, ["a", "b", "c"], n_boot=200)
    assert r.krippendorff_alpha.value == pytest.approx(
        krippendorff.alpha(
            as_reliability(codes), level_of_measurement="nominal", value_domain=[0, 1, 2]
        ),
        abs=1e-12,
    )
    assert r.krippendorff_alpha.ci[0] < r.krippendorff_alpha.value < r.krippendorff_alpha.ci[1]


def test_undefined_cases() -> None:
    # all 10 units rated "a" by 3 raters: P = 1, P_e = 1 -> kappa, alpha 0/0 = undefined;
    # AC1: pi_a = 1, P_e = 0 -> (1 - 0) / 1 = 1
    r = agreement_from_codes(np.zeros((10, 3), int), ["a", "b"], n_boot=20)
    assert r.percent_agreement.value == 1 and r.gwet_ac1.value == 1
    assert np.isnan(r.cohen_kappa.value) and np.isnan(r.krippendorff_alpha.value)
    assert r.to_dict()["krippendorff_alpha"] == {"value": None, "ci": [None, None]}
    assert any("same label" in n for n in r.notes)
    # no unit with two ratings
    r = agreement_from_codes(np.array([[0, -1], [1, -1]]), ["a", "b"], n_boot=20)
    assert r.n_items == 0 and r.n_single == 2 and np.isnan(r.fleiss_kappa.value)


@pytest.mark.parametrize("high", [3, 2**40])
def test_compress_reconstructs_every_row(high: int) -> None:
    """Both paths (mixed-radix integers; axis-0 unique for wide ranges) give patterns whose
    rows, indexed by ``inverse``, rebuild the input, with counts that add up."""
    from safecal.calibrate.bootstrap import compress

    keys = np.random.default_rng(1).integers(-1, high, (3000, 4))
    keys[1000:2000] = keys[:1000]  # make repeats
    first, inverse, freq = compress(keys)
    assert (keys[first][inverse] == keys).all()
    assert freq.sum() == len(keys) and (np.bincount(inverse) == freq).all()


# ---- interval and ratio levels; the bootstrap's statistic against the package ----------

# Two raters on three units: (1, 1), (1, 2), (2, 3). Coincidences (m_i = 2, so each unit
# adds 1 to o_ck and o_kc, or 2 to o_cc): o_11 = 2, o_12 = o_21 = 1, o_23 = o_32 = 1;
# n_1 = 3, n_2 = 2, n_3 = 1, n = 6.
INTERVAL = long_table(["1", "1", "2"], ["1", "2", "3"])


def identity_alpha(codes: np.ndarray, k: int, level: str, values: list[float]) -> float:
    """The bootstrap's statistic at the identity resample (every unit drawn once)."""
    p = rating_patterns(codes, k)
    return float(krippendorff_alpha_w(p, p.freq, level, values=np.array(values, dtype=float)))


def test_hand_derived_interval_alpha() -> None:
    # d_ck = (c - k)^2: d_12 = d_23 = 1, d_13 = 4
    # observed sum o_ck d_ck = o_12 + o_21 + o_23 + o_32 = 4
    # expected sum n_c n_k d_ck = 2 * (3*2*1 + 2*1*1 + 3*1*4) = 40
    # alpha = 1 - (6 - 1) * 4 / 40 = 1/2
    r = agreement(INTERVAL, level="interval", n_boot=0)
    assert r.krippendorff_alpha.value == pytest.approx(1 / 2)
    codes, _, _ = _wide_codes(INTERVAL, "unit", "rater", "label", None)
    assert identity_alpha(codes, 3, "interval", [1, 2, 3]) == pytest.approx(1 / 2)
    # the same labels at the other levels differ (nominal: 1 - 5 * 4 / 22 = 1/11)
    assert agreement(INTERVAL, level="nominal", n_boot=0).krippendorff_alpha.value == (
        pytest.approx(1 / 11)
    )


def test_hand_derived_ratio_alpha() -> None:
    # d_ck = ((c - k) / (c + k))^2: d_12 = 1/9, d_23 = 1/25, d_13 = 1/4
    # observed = 2/9 + 2/25 = 68/225
    # expected = 2 * (3*2/9 + 2*1/25 + 3*1/4) = 449/150
    # alpha = 1 - 5 * (68/225) / (449/150) = 1 - 680/1347 = 667/1347
    r = agreement(INTERVAL, level="ratio", n_boot=0)
    assert r.krippendorff_alpha.value == pytest.approx(667 / 1347)
    codes, _, _ = _wide_codes(INTERVAL, "unit", "rater", "label", None)
    assert identity_alpha(codes, 3, "ratio", [1, 2, 3]) == pytest.approx(667 / 1347)


def test_ratio_difference_at_zero() -> None:
    # units (0, 0), (0, 2), (2, 2): o_00 = 2, o_02 = o_20 = 1, o_22 = 2; n_0 = n_2 = 3, n = 6
    # d_02 = ((0 - 2) / 2)^2 = 1, d_00 = 0 (0/0 taken as 0): alpha = 1 - 5 * 2 / 18 = 4/9
    t = long_table(["0", "0", "2"], ["0", "2", "2"])
    assert agreement(t, level="ratio", n_boot=0).krippendorff_alpha.value == pytest.approx(4 / 9)
    codes, _, _ = _wide_codes(t, "unit", "rater", "label", None)
    assert identity_alpha(codes, 2, "ratio", [0, 2]) == pytest.approx(4 / 9)


SCALE_VALUES = {
    "nominal": [0, 1, 2, 3],
    "ordinal": [0, 1, 2, 3],
    "interval": [0.0, 1.0, 2.5, 7.0],
    "ratio": [0.0, 1.0, 2.5, 7.0],
}


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
@pytest.mark.parametrize(
    ("n", "raters", "missing", "seed"),
    [(10, 2, 0.0, 1), (12, 3, 0.3, 2), (15, 4, 0.25, 3), (20, 5, 0.4, 4), (300, 3, 0.2, 5)],
)
def test_bootstrap_statistic_at_identity_equals_package(
    level: str, n: int, raters: int, missing: float, seed: int
) -> None:
    codes = simulated_codes(n, raters, 4, seed=seed, missing=missing)
    values = SCALE_VALUES[level]
    data = np.where(codes >= 0, np.array(values, dtype=float)[codes], np.nan).T
    expected = krippendorff.alpha(
        reliability_data=data, value_domain=values, level_of_measurement=level
    )
    assert identity_alpha(codes, 4, level, values) == pytest.approx(expected, abs=1e-12)
    # and the reported value is the package's, its interval the bootstrap's around it
    cats = [str(v) for v in values] if level in ("interval", "ratio") else list("abcd")
    r = agreement_from_codes(codes, cats, level=level, n_boot=200, seed=0)
    assert r.krippendorff_alpha.value == pytest.approx(expected, abs=1e-12)
    lo, hi = r.krippendorff_alpha.ci
    assert lo <= hi and np.isfinite(lo)


def test_interval_on_a_label_scale_scores_positions() -> None:
    scale = ["full_compliance", "partial_refusal", "full_refusal"]
    t = long_table([scale[0], scale[0], scale[1]], [scale[0], scale[1], scale[2]])
    r = agreement(t, level="interval", n_boot=0)
    # the same pattern as INTERVAL shifted by -1: interval alpha is shift-invariant
    assert r.krippendorff_alpha.value == pytest.approx(1 / 2)
    assert r.categories == tuple(scale)
    assert any("scale order" in note for note in r.notes)


def test_interval_and_ratio_refuse_non_numeric_labels() -> None:
    for level in ("interval", "ratio"):
        with pytest.raises(InputError, match="'x' is not a number"):
            agreement(HAND, level=level, n_boot=0)
    # a custom order of words is only ordinal
    with pytest.raises(InputError, match="not a number"):
        agreement(HAND, level="interval", categories=["y", "x"], n_boot=0)
    assert np.isfinite(
        agreement(HAND, level="ordinal", categories=["y", "x"], n_boot=0).krippendorff_alpha.value
    )
    neg = long_table(["-1", "1"], ["-1", "2"])
    with pytest.raises(InputError, match="non-negative"):
        agreement(neg, level="ratio", n_boot=0)
    assert np.isfinite(agreement(neg, level="interval", n_boot=0).krippendorff_alpha.value)
    with pytest.raises(InputError, match="same number"):
        agreement(long_table(["1.5", "2"], ["1.50", "2"]), level="interval", n_boot=0)
    with pytest.raises(InputError, match="level must be one of"):
        agreement(HAND, level="cardinal", n_boot=0)


def test_undefined_alpha_at_every_level() -> None:
    same = long_table(["1", "1"], ["1", "1"])
    for level in ("nominal", "ordinal", "interval", "ratio"):
        r = agreement(same, level=level, categories=["1", "2"], n_boot=50)
        assert np.isnan(r.krippendorff_alpha.value)
        assert r.to_dict()["krippendorff_alpha"] == {"value": None, "ci": [None, None]}
