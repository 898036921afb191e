"""Agreement between raters, with bootstrap intervals over items.

Input is the project's long table ``(unit, rater, label)``: one row per rating;
a rater may skip units (missing ratings are allowed). Units with fewer than two
ratings carry no information about agreement and are left out (counted in
``n_single``). With ``n_ik`` the number of ratings of unit ``i`` in category ``k``,
``m_i = sum_k n_ik`` and ``K`` categories:

* percent agreement: the share of agreeing rater pairs per unit, averaged over units,
  ``P_i = sum_k n_ik (n_ik - 1) / (m_i (m_i - 1))``, ``P = mean_i P_i``.
* Cohen's kappa (Cohen 1960): ``(p_o - p_e) / (1 - p_e)`` for two raters over the units
  both rated, ``p_o`` the diagonal share of their confusion matrix and
  ``p_e = sum_k p_k^(a) p_k^(b)`` from their own marginals. With more raters: the mean
  over rater pairs (Light 1971), pairs without a shared unit or with ``p_e = 1`` left out.
* Fleiss' kappa (Fleiss 1971), generalised to varying ``m_i``: ``(P - P_e) / (1 - P_e)``
  with ``p_k = sum_i n_ik / sum_i m_i`` and ``P_e = sum_k p_k^2``.
* Krippendorff's alpha (Krippendorff 2011, "Computing Krippendorff's alpha-reliability"):
  coincidences ``o_ck = sum_i (n_ic n_ik - [c = k] n_ic) / (m_i - 1)``, ``n_c = sum_k o_ck``,
  ``n = sum_c n_c``, ``alpha = 1 - (n - 1) sum o_ck d_ck / sum_c sum_k n_c n_k d_ck`` with
  the difference ``d_ck`` of the level of measurement:

  - nominal: ``d_ck = [c != k]``;
  - ordinal: ``d_ck = (sum_{g=c..k} n_g - (n_c + n_k)/2)^2``, the categories in the given
    order;
  - interval: ``d_ck = (v_c - v_k)^2``;
  - ratio: ``d_ck = ((v_c - v_k) / (v_c + v_k))^2`` (0 when ``v_c = v_k = 0``).

  ``v_c`` is the number a label stands for: the label itself when every label is a
  number (``"1"``, ``"2.5"``; ratio needs them non-negative), else its position
  ``0, 1, ..., K-1`` in a scale of :data:`annotate.labels.SCALES` (harmfulness: unsafe 0,
  safe_with_warning 1, safe_with_refusal 2; refusal: full_compliance 0, partial_refusal 1,
  full_refusal 2), i.e. equally spaced steps. Any other label at interval or ratio level is
  an :class:`InputError`. The reported value comes from the ``krippendorff`` package
  (``krippendorff.alpha(reliability_data=raters x units, level_of_measurement=...)``); the
  bootstrap recomputes it from the coincidences above (:func:`krippendorff_alpha_w`),
  which the tests check equals the package on the data.
* Gwet's AC1 (Gwet 2008, Br. J. Math. Stat. Psychol. 61:29-48): ``(P - P_e) / (1 - P_e)``
  with ``pi_k = mean_i n_ik / m_i`` and ``P_e = sum_k pi_k (1 - pi_k) / (K - 1)``; ``K`` is
  the size of the scale (the declared categories), not only the labels seen.
* prevalence: each category's share of all ratings. Kappa-type coefficients fall on
  skewed labels even when raters almost always agree ("kappa paradox", Feinstein &
  Cicchetti 1990); AC1 and the prevalence beside them show why.

``level`` (nominal, ordinal, interval, ratio) changes Krippendorff's alpha only (the others
are nominal).

Edge cases: a coefficient whose denominator is 0 is undefined (NaN, ``null`` in JSON): kappa
and alpha when every rating has the same label (``P_e = 1``; ``krippendorff.alpha`` also gives
NaN), everything when no unit has two ratings. Bootstrap resamples where a coefficient is
undefined are left out of its interval.

Why hand-written (beside the package's point estimate): the bootstrap.
``krippendorff.alpha`` (and scikit-learn / statsmodels for the kappas) recompute from the
raw ratings, so 1,000 resamples of 100,000 units cost 1,000 full passes. Every coefficient
above is a ratio of sums of per-unit contributions; those are computed once per distinct
rating pattern and a resample is a count vector over patterns (:mod:`calibrate.bootstrap`),
so all resamples are one matrix product. The tests check each coefficient against
``krippendorff.alpha``, ``sklearn.metrics.cohen_kappa_score`` and
``statsmodels.stats.inter_rater.fleiss_kappa`` on resamples as well as on the data.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import krippendorff
import numpy as np
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.annotate.labels import SCALES
from safecal.calibrate.bootstrap import bootstrap, compress, percentile_estimate, safe_divide
from safecal.calibrate.results import Estimate
from safecal.calibrate.vocab import infer_categories, normalize_labels

COEFFICIENTS = (
    "percent_agreement",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
    "gwet_ac1",
)

Level = Literal["nominal", "ordinal", "interval", "ratio"]
#: Krippendorff's levels of measurement (the difference function ``d_ck`` of alpha)
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")


@dataclass(frozen=True)
class AgreementResult:
    """Agreement coefficients with intervals (see the module docstring for formulas)."""

    n_items: int
    n_raters: int
    percent_agreement: Estimate
    cohen_kappa: Estimate
    fleiss_kappa: Estimate
    krippendorff_alpha: Estimate
    gwet_ac1: Estimate
    prevalence: dict[str, float]
    level: str = "nominal"
    categories: tuple[str, ...] = ()
    n_single: int = 0
    n_ratings: int = 0
    confidence: float = 0.95
    n_boot: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n_items": self.n_items,
            "n_raters": self.n_raters,
            "n_ratings": self.n_ratings,
            "n_single": self.n_single,
        }
        for name in COEFFICIENTS:
            out[name] = getattr(self, name).to_dict()
        out.update(
            prevalence=dict(self.prevalence),
            level=self.level,
            categories=list(self.categories),
            confidence=self.confidence,
            n_boot=self.n_boot,
            notes=list(self.notes),
        )
        return out


@dataclass(frozen=True)
class RatingPatterns:
    """Ratings compressed to distinct per-unit patterns, with per-pattern contributions.

    ``codes``: (P, R) category index per rater, -1 where missing; ``freq``: units per
    pattern; ``counts``: (P, K) ``n_ik``; ``m``: (P,) ratings per unit.
    """

    codes: np.ndarray
    freq: np.ndarray
    counts: np.ndarray
    n_categories: int

    @property
    def m(self) -> np.ndarray:
        return self.counts.sum(axis=1)


def rating_patterns(codes: np.ndarray, n_categories: int) -> RatingPatterns:
    """Compress a (units x raters) code matrix (-1 = missing) to its distinct patterns,
    keeping only units with at least two ratings."""
    codes = np.asarray(codes, dtype=np.int64)
    keep = (codes >= 0).sum(axis=1) >= 2
    codes = codes[keep]
    first, _, freq = compress(codes)
    pat = codes[first] if len(codes) else np.zeros((0, codes.shape[1]), np.int64)
    counts = np.zeros((len(pat), n_categories))
    for r in range(pat.shape[1]):
        ok = pat[:, r] >= 0
        np.add.at(counts, (np.nonzero(ok)[0], pat[ok, r]), 1)
    return RatingPatterns(pat, freq.astype(float), counts, n_categories)


# ---- coefficients as functions of pattern weights w: (P,) or (B, P) ------------------


def _pair_share(p: RatingPatterns) -> np.ndarray:
    m = p.m
    return (p.counts * (p.counts - 1)).sum(axis=1) / (m * (m - 1))


def percent_agreement_w(p: RatingPatterns, w: np.ndarray) -> np.ndarray:
    """Mean over units of the share of agreeing rater pairs."""
    return safe_divide(w @ _pair_share(p), w.sum(axis=-1))


def fleiss_kappa_w(p: RatingPatterns, w: np.ndarray) -> np.ndarray:
    """Fleiss' kappa with varying numbers of ratings per unit."""
    pbar = percent_agreement_w(p, w)
    pk = safe_divide(w @ p.counts, (w @ p.m)[..., None])
    pe = (pk**2).sum(axis=-1)
    return safe_divide(pbar - pe, 1 - pe)


def gwet_ac1_w(p: RatingPatterns, w: np.ndarray) -> np.ndarray:
    """Gwet's AC1 over ``K = n_categories``."""
    k = p.n_categories
    if k < 2:
        return np.full(np.shape(w)[:-1], np.nan)
    pa = percent_agreement_w(p, w)
    pik = safe_divide(w @ (p.counts / p.m[:, None]), w.sum(axis=-1)[..., None])
    pe = (pik * (1 - pik)).sum(axis=-1) / (k - 1)
    return safe_divide(pa - pe, 1 - pe)


def coincidence_contributions(p: RatingPatterns) -> np.ndarray:
    """(P, K*K) per-unit coincidences ``(n_ic n_ik - [c=k] n_ic) / (m_i - 1)``."""
    n = p.counts
    outer = n[:, :, None] * n[:, None, :]
    outer -= np.einsum("pk,kl->pkl", n, np.eye(p.n_categories))
    return (outer / (p.m - 1)[:, None, None]).reshape(len(n), p.n_categories**2)


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise InputError(f"level must be one of {', '.join(LEVELS)}; not {level!r}")


def _is_number(text: object) -> bool:
    try:
        return math.isfinite(float(str(text)))
    except ValueError:
        return False


def _scales_text() -> str:
    return "; ".join(f"{name}: {', '.join(scale)}" for name, scale in SCALES.items())


def scale_values(categories: Sequence[str], *, level: str) -> np.ndarray:
    """The number ``v_c`` each category stands for at ``level`` (module docstring).

    Nominal and ordinal: the positions ``0..K-1`` (only the order matters). Interval and
    ratio: the labels as numbers when all are numbers, else the positions ``0..K-1`` when
    the categories are a :data:`annotate.labels.SCALES` scale; anything else is an error.
    """
    _check_level(level)
    cats = [str(c) for c in categories]
    positions = np.arange(len(cats), dtype=float)
    if level in ("nominal", "ordinal"):
        return positions
    if all(_is_number(c) for c in cats):
        values = np.array([float(c) for c in cats], dtype=float)
        twins = [c for c, x in zip(cats, values, strict=True) if (values == x).sum() > 1]
        if twins:
            raise InputError(
                f"labels {twins} are the same number; write each value one way for level {level!r}"
            )
        negative = [c for c, x in zip(cats, values, strict=True) if x < 0]
        if level == "ratio" and negative:
            raise InputError(
                "level 'ratio' needs non-negative numbers (a ratio scale starts at 0); "
                f"labels {negative} are negative (use --level interval)"
            )
        return values
    if any(cats == list(scale) for scale in SCALES.values()):
        return positions
    bad = next(c for c in cats if not _is_number(c))
    raise InputError(
        f"level {level!r} needs numeric labels, or exactly the labels of a scale "
        f"({_scales_text()}) scored 0, 1, 2 in that order; {bad!r} is not a number "
        "(recode the labels as numbers, or use --level ordinal)"
    )


def _distances(nc: np.ndarray, level: str, values: np.ndarray | None) -> np.ndarray:
    """``d_ck`` of ``level`` for marginals ``nc`` of shape (..., K): shape (..., K, K)."""
    k = nc.shape[-1]
    if level == "nominal":
        return np.broadcast_to(1.0 - np.eye(k), (*nc.shape, k))
    if level == "ordinal":
        s = np.cumsum(nc, axis=-1)  # sum_{g <= k} n_g
        s_excl = s - nc  # sum_{g < k} n_g
        c_idx, k_idx = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
        lo, hi = np.minimum(c_idx, k_idx), np.maximum(c_idx, k_idx)
        between = s[..., hi] - s_excl[..., lo]  # sum_{g=lo..hi} n_g
        return np.asarray((between - (nc[..., :, None] + nc[..., None, :]) / 2) ** 2)
    _check_level(level)
    if values is None or len(values) != k:
        raise InputError(f"level {level!r} needs the values of the {k} categories")
    v = np.asarray(values, dtype=float)
    diff = v[:, None] - v[None, :]
    if level == "interval":
        d = diff**2
    else:  # ratio: ((v_c - v_k) / (v_c + v_k))^2, 0 where both are 0
        d = safe_divide(diff, v[:, None] + v[None, :])
        d = np.where(np.isnan(d), 0.0, d) ** 2
    return np.broadcast_to(d, (*nc.shape, k))


def alpha_from_coincidences(
    o: np.ndarray, level: str = "nominal", *, values: np.ndarray | None = None
) -> np.ndarray:
    """Krippendorff's alpha from coincidence matrices ``o`` of shape (..., K, K).

    ``alpha = 1 - (n - 1) sum_ck o_ck d_ck / sum_ck n_c n_k d_ck`` (Krippendorff 2011,
    "Computing Krippendorff's alpha-reliability"); ``values`` (the ``v_c`` of
    :func:`scale_values`) are needed at interval and ratio level.
    """
    nc = o.sum(axis=-1)
    n = nc.sum(axis=-1)
    d = _distances(nc, level, values)
    observed = (o * d).sum(axis=(-2, -1))
    expected = (nc[..., :, None] * nc[..., None, :] * d).sum(axis=(-2, -1))
    return 1 - safe_divide((n - 1) * observed, expected)


def krippendorff_alpha_w(
    p: RatingPatterns,
    w: np.ndarray,
    level: str = "nominal",
    contributions: np.ndarray | None = None,
    *,
    values: np.ndarray | None = None,
) -> np.ndarray:
    """Krippendorff's alpha of the units weighted by ``w`` (a resample's counts).

    The bootstrap's statistic; at the identity resample ``w = p.freq`` it is the data's
    alpha, which the tests check equals :func:`package_alpha`.
    """
    c = coincidence_contributions(p) if contributions is None else contributions
    k = p.n_categories
    o = (w @ c).reshape(*np.shape(w)[:-1], k, k)
    return alpha_from_coincidences(o, level, values=values)


def package_alpha(codes: np.ndarray, values: np.ndarray, *, level: str) -> float:
    """Krippendorff's alpha by the ``krippendorff`` package: the reported point estimate.

    ``codes``: (units x raters) category indices, -1 where missing; ``values``: the number
    of each category (:func:`scale_values`). The package gets the raters x units matrix of
    values, ``np.nan`` where missing. NaN where alpha is undefined (no unit with two
    ratings, or one label in every pairable rating), where the package raises or divides
    0 by 0.
    """
    _check_level(level)
    codes = np.asarray(codes, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    pairable = codes[(codes >= 0).sum(axis=1) >= 2] if codes.size else codes
    if len(values) < 2 or len(np.unique(pairable[pairable >= 0])) < 2:
        return math.nan
    data = np.where(codes >= 0, values[np.maximum(codes, 0)], np.nan).T
    return float(
        krippendorff.alpha(
            reliability_data=data,
            value_domain=values,
            level_of_measurement=cast(Level, level),
        )
    )


def _pair_cells(p: RatingPatterns) -> list[np.ndarray]:
    """Per rater pair, a (P, K*K) one-hot of the pair's (label_a, label_b) cell."""
    k = p.n_categories
    out = []
    for a, b in itertools.combinations(range(p.codes.shape[1]), 2):
        both = (p.codes[:, a] >= 0) & (p.codes[:, b] >= 0)
        if not both.any():
            continue
        cells = np.zeros((len(p.codes), k * k))
        idx = np.nonzero(both)[0]
        cells[idx, p.codes[idx, a] * k + p.codes[idx, b]] = 1
        out.append(cells)
    return out


def kappa_from_confusion(conf: np.ndarray) -> np.ndarray:
    """Cohen's kappa from confusion matrices (..., K, K): ``(p_o - p_e) / (1 - p_e)``."""
    total = conf.sum(axis=(-2, -1))
    po = safe_divide(np.trace(conf, axis1=-2, axis2=-1), total)
    pe = safe_divide((conf.sum(axis=-1) * conf.sum(axis=-2)).sum(axis=-1), total**2)
    return safe_divide(po - pe, 1 - pe)


def cohen_kappa_w(
    p: RatingPatterns, w: np.ndarray, pairs: list[np.ndarray] | None = None
) -> np.ndarray:
    """Cohen's kappa (two raters) or its mean over rater pairs."""
    k = p.n_categories
    pairs = _pair_cells(p) if pairs is None else pairs
    if not pairs:
        return np.full(np.shape(w)[:-1], np.nan)
    kappas = np.stack(
        [kappa_from_confusion((w @ c).reshape(*np.shape(w)[:-1], k, k)) for c in pairs]
    )
    with np.errstate(all="ignore"):
        valid = np.isfinite(kappas)
        total = np.where(valid, kappas, 0).sum(axis=0)
        return safe_divide(total, valid.sum(axis=0))


# ---- the public function ----------------------------------------------------------


def _wide_codes(
    table: pd.DataFrame, unit: str, rater: str, label: str, categories: Sequence[str] | None
) -> tuple[np.ndarray, list[str], list[str]]:
    missing = [c for c in (unit, rater, label) if c not in table.columns]
    if missing:
        raise InputError(f"agreement table has no column {missing}; it has {list(table.columns)}")
    df = pd.DataFrame(
        {
            "unit": table[unit].astype("string"),
            "rater": table[rater].astype("string"),
            "label": normalize_labels(table[label]),
        }
    )
    df = df.dropna()
    dup = df.duplicated(["unit", "rater"], keep=False)
    if dup.any():
        row = df[dup].iloc[0]
        raise InputError(
            f"rater {row['rater']!r} rated unit {row['unit']!r} more than once "
            f"({int(dup.sum())} duplicated rows); keep one rating per (unit, rater)"
        )
    cats = infer_categories(df["label"].unique(), categories, what=f"column {label!r}")
    code_of = {c: i for i, c in enumerate(cats)}
    raters = sorted(df["rater"].unique())
    wide = df.pivot(index="unit", columns="rater", values="label").reindex(columns=raters)
    codes = np.full(wide.shape, -1, dtype=np.int64)
    for j, r in enumerate(raters):
        col = wide[r]
        ok = col.notna().to_numpy()
        codes[ok, j] = [code_of[v] for v in col[ok]]
    return codes, cats, raters


def agreement_from_codes(
    codes: np.ndarray,
    categories: Sequence[str],
    *,
    level: str = "nominal",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | np.random.Generator | None = 0,
) -> AgreementResult:
    """:func:`agreement` on a (units x raters) matrix of category indices (-1 = missing).

    Krippendorff's alpha is :func:`package_alpha` (the ``krippendorff`` package); its
    interval comes from the fast bootstrap (:func:`krippendorff_alpha_w`).
    """
    values = scale_values(categories, level=level)
    codes = np.asarray(codes, dtype=np.int64)
    k = len(categories)
    n_units = len(codes)
    p = rating_patterns(codes, k)
    contributions = coincidence_contributions(p)
    pairs = _pair_cells(p)

    def stats(w: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "percent_agreement": percent_agreement_w(p, w),
            "cohen_kappa": cohen_kappa_w(p, w, pairs),
            "fleiss_kappa": fleiss_kappa_w(p, w),
            "krippendorff_alpha": krippendorff_alpha_w(p, w, level, contributions, values=values),
            "gwet_ac1": gwet_ac1_w(p, w),
        }

    point = stats(p.freq)
    point["krippendorff_alpha"] = np.asarray(package_alpha(codes, values, level=level))
    boot = bootstrap(p.freq, stats, n_boot=n_boot, seed=seed) if n_boot and len(p.freq) else {}
    estimates = {
        name: percentile_estimate(point[name], boot.get(name, np.array([])), confidence)
        for name in COEFFICIENTS
    }
    totals = p.freq @ p.counts if len(p.freq) else np.zeros(k)
    n_ratings = float(totals.sum())
    prevalence = {
        c: (float(totals[i] / n_ratings) if n_ratings else math.nan)
        for i, c in enumerate(categories)
    }
    notes = []
    n_items = int(p.freq.sum())
    if n_items == 0:
        notes.append("no unit has two ratings: agreement is undefined")
    elif max(prevalence.values()) == 1:
        notes.append(
            "every rating has the same label: kappa and alpha are undefined (no "
            "variation to agree on); percent agreement and AC1 are 1"
        )
    elif max(prevalence.values()) > 0.9:
        notes.append(
            "one label has over 90% of ratings: kappa and alpha are low even at high "
            "agreement (prevalence paradox); read AC1 and percent agreement beside them"
        )
    if level in ("interval", "ratio") and n_items:
        shown = ", ".join(f"{c}={v:g}" for c, v in zip(categories, values, strict=True))
        if not all(_is_number(c) for c in categories):
            notes.append(f"{level} alpha scores the labels in scale order, equally spaced: {shown}")
    return AgreementResult(
        n_items=n_items,
        n_raters=int(((codes >= 0).any(axis=0)).sum()) if codes.size else 0,
        level=level,
        categories=tuple(categories),
        prevalence=prevalence,
        n_single=n_units - n_items,
        n_ratings=int(n_ratings),
        confidence=confidence,
        n_boot=n_boot,
        notes=tuple(notes),
        **estimates,
    )


def agreement(
    table: pd.DataFrame,
    *,
    unit: str = "unit",
    rater: str = "rater",
    label: str = "label",
    level: str = "nominal",
    categories: Sequence[str] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> AgreementResult:
    """Agreement between raters on a long ``(unit, rater, label)`` table.

    Percent agreement, Cohen's kappa (pairwise mean for more than two raters), Fleiss'
    kappa, Krippendorff's alpha (``level`` nominal, ordinal, interval or ratio; ordinal uses
    the order of ``categories``, or of the :mod:`annotate.labels` scale the labels fit;
    interval and ratio need numeric labels or such a scale, scored 0, 1, 2) and Gwet's AC1,
    each with a seeded bootstrap percentile interval over units, plus the prevalence of
    each label. Formulas and citations: module docstring.

    Example::

        >>> t = pd.DataFrame({"unit": [1, 1, 2, 2], "rater": ["a", "b", "a", "b"],
        ...                   "label": ["x", "x", "x", "y"]})
        >>> agreement(t, n_boot=0).percent_agreement.value
        0.5
    """
    codes, cats, _ = _wide_codes(table, unit, rater, label, categories)
    return agreement_from_codes(
        codes, cats, level=level, n_boot=n_boot, confidence=confidence, seed=seed
    )


def wide_to_long(
    table: pd.DataFrame, raters: Sequence[str], *, unit: str | None = None, keep: Sequence[str] = ()
) -> pd.DataFrame:
    """A wide table (one column per rater) as the long ``(unit, rater, label)`` table.

    ``unit`` names the unit column (default: the row number); ``keep`` columns (e.g. a
    slice column) are carried along.
    """
    missing = [c for c in [*raters, *keep, *([unit] if unit else [])] if c not in table.columns]
    if missing:
        raise InputError(f"no column {missing}; the table has {list(table.columns)}")
    base = table.copy()
    base["unit"] = (
        base[unit].astype("string")
        if unit
        else pd.Series([str(i) for i in range(len(base))], index=base.index, dtype="string")
    )
    long = base.melt(
        id_vars=["unit", *[c for c in keep if c != "unit"]],
        value_vars=list(raters),
        var_name="rater",
        value_name="label",
    )
    return long
