"""How far a judge is from the human gold labels, with bootstrap intervals over items.

Rows whose gold label is missing are unlabeled and left out. A judge answer that is
missing or outside the label vocabulary is *invalid*: counted in ``n_invalid``, reported,
and left out of every metric, never mapped to a class.

Multi-class view (no ``positive``): the confusion matrix (rows gold, columns judge),
accuracy and Cohen's kappa (Cohen 1960) ``(p_o - p_e) / (1 - p_e)``.

Binary view (``positive`` = the labels that count as positive, e.g. both refusal levels):
with ``tp, fp, fn, tn`` the binary confusion counts,

* accuracy ``(tp + tn) / n``; precision ``tp / (tp + fp)``; recall ``tp / (tp + fn)``;
  F1 ``2 tp / (2 tp + fp + fn)``; false-positive rate ``fp / (fp + tn)``; false-negative
  rate ``fn / (fn + tp)``; balanced accuracy ``(recall + tn / (tn + fp)) / 2``;
* Matthews correlation (Matthews 1975)
  ``(tp tn - fp fn) / sqrt((tp + fp)(tp + fn)(tn + fp)(tn + fn))``;
* Cohen's kappa of the 2 x 2 table;
* with a judge score (P(positive)): AUROC, the probability that a random positive item
  scores above a random negative one (ties count 1/2; Hanley & McNeil 1982), and AUPRC as
  average precision ``sum_t (R_t - R_{t-1}) P_t`` over score thresholds (as
  ``sklearn.metrics.average_precision_score``).

Intervals (:mod:`calibrate.intervals`; each estimate names its ``method``), chosen to keep
their coverage on slices of 10-50 gold labels and never to shrink to a point:

* accuracy, precision, recall, FPR, FNR: the exact Clopper & Pearson (1934) interval
  (``clopper-pearson``; coverage at least nominal), or Wilson's (1927) score interval with
  ``proportion_interval="wilson"``;
* balanced accuracy: MOVER (Zou & Donner 2008; Newcombe 1998) on the two class rates,
  ``BA -+ sqrt((p1 - l1)^2 + (p2 - l2)^2) / 2`` (and ``u`` for the upper bound) with
  ``l, u`` their exact (or Wilson) limits (``mover-clopper-pearson``);
* kappa, F1, MCC: equal-tailed Bayesian intervals under ``Dirichlet(1/4)`` and Jeffreys'
  ``Dirichlet(1/2)`` priors on the confusion cells, joined (``n_boot`` posterior draws
  each; ``bayes-dirichlet(1/4..1/2)``), widened where needed to hold the sample value;
* AUROC: Newcombe's (2006) score interval (``newcombe-score``);
* AUPRC: the exact binomial interval on the positives (``clopper-pearson-positives``;
  Boyd, Eng & Page 2013; :func:`calibrate.intervals.average_precision_interval`), which
  does not collapse when every item is ranked right (the bootstrap percentile interval
  it replaces gave ``[1, 1]`` there).

Weights (``weight``: a column of inclusion probabilities ``pi_i``; ``w_i = 1 / pi_i``,
Horvitz & Thompson 1952): every metric is computed on weighted cell totals (the Hajek
ratio estimate of the population's metric), and each interval uses Kish's (1965)
effective sample size ``(sum w)^2 / sum w^2`` of the rows it rests on. The confusion
matrices stay counts. The metrics are computed here on cell totals (not by scikit-learn
per resample); the tests check each against ``sklearn.metrics``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from safecal.annotate.errors import InputError
from safecal.calibrate.agreement import kappa_from_confusion
from safecal.calibrate.bootstrap import compress, safe_divide
from safecal.calibrate.intervals import (
    AP_EXACT,
    DIRICHLET,
    EXACT,
    MOVER,
    NEWCOMBE,
    PRIORS,
    WILSON,
    ProportionMethod,
    auroc_interval,
    average_precision_interval,
    dirichlet_intervals,
    kish_n,
    mover_mean,
    multiclass_priors,
)
from safecal.calibrate.intervals import (
    proportion_interval as proportion_limits,
)
from safecal.calibrate.ppi import inverse_inclusion
from safecal.calibrate.results import Estimate, estimate_or_none
from safecal.calibrate.vocab import label_list, label_vocabulary, normalize_labels

BINARY_METRICS = (
    "accuracy",
    "cohen_kappa",
    "precision",
    "recall",
    "f1",
    "fpr",
    "fnr",
    "mcc",
    "balanced_accuracy",
)
#: every metric a :class:`JudgeResult` may carry, in the order tables show them
METRICS = (*BINARY_METRICS, "auroc", "auprc")


@dataclass(frozen=True)
class Confusion:
    """Counts with rows = gold label, columns = judge label."""

    labels: list[str]
    matrix: list[list[int]]

    def to_dict(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "matrix": [list(r) for r in self.matrix]}


@dataclass(frozen=True)
class JudgeResult:
    """Judge-versus-gold metrics; binary metrics are ``None`` in the multi-class view."""

    n: int
    n_invalid: int
    accuracy: Estimate
    cohen_kappa: Estimate
    confusion: Confusion
    precision: Estimate | None = None
    recall: Estimate | None = None
    f1: Estimate | None = None
    fpr: Estimate | None = None
    fnr: Estimate | None = None
    mcc: Estimate | None = None
    balanced_accuracy: Estimate | None = None
    auroc: Estimate | None = None
    auprc: Estimate | None = None
    n_unlabeled: int = 0
    labels: tuple[str, ...] = ()
    positive: tuple[str, ...] | None = None
    confusion_full: Confusion | None = None
    invalid_values: dict[str, int] = field(default_factory=dict)
    prevalence: float | None = None
    confidence: float = 0.95
    weighted: bool = False
    n_effective: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n": self.n,
            "n_invalid": self.n_invalid,
            "n_unlabeled": self.n_unlabeled,
        }
        for name in METRICS:
            out[name] = estimate_or_none(getattr(self, name))
        out["confusion"] = self.confusion.to_dict()
        if self.confusion_full is not None:
            out["confusion_full"] = self.confusion_full.to_dict()
        out.update(
            labels=list(self.labels),
            positive=None if self.positive is None else list(self.positive),
            invalid_values=dict(self.invalid_values),
            prevalence=self.prevalence,
            confidence=self.confidence,
            weighted=self.weighted,
            n_effective=self.n_effective,
        )
        return out


def _binary_from_cells(c: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics from (..., 4) counts ordered tp, fn, fp, tn (gold pos/neg x judge pos/neg)."""
    tp, fn, fp, tn = (c[..., i] for i in range(4))
    n = tp + fn + fp + tn
    recall = safe_divide(tp, tp + fn)
    tnr = safe_divide(tn, tn + fp)
    with np.errstate(invalid="ignore"):
        mcc_den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "accuracy": safe_divide(tp + tn, n),
        "cohen_kappa": kappa_from_confusion(c.reshape(*c.shape[:-1], 2, 2)),
        "precision": safe_divide(tp, tp + fp),
        "recall": recall,
        "f1": safe_divide(2 * tp, 2 * tp + fp + fn),
        "fpr": safe_divide(fp, fp + tn),
        "fnr": safe_divide(fn, fn + tp),
        "mcc": safe_divide(tp * tn - fp * fn, mcc_den),
        "balanced_accuracy": (recall + tnr) / 2,
    }


def score_curves_w(pos: np.ndarray, neg: np.ndarray) -> dict[str, np.ndarray]:
    """AUROC and average precision from weights per distinct score, scores ascending.

    ``pos``/``neg``: (..., U) weight of positive/negative items at each distinct score.
    """
    total_p, total_n = pos.sum(axis=-1), neg.sum(axis=-1)
    below_n = np.cumsum(neg, axis=-1) - neg  # negatives strictly below
    auroc = safe_divide((pos * (below_n + neg / 2)).sum(axis=-1), total_p * total_n)
    at_or_above_p = np.flip(np.cumsum(np.flip(pos, -1), -1), -1)  # tp at threshold u
    at_or_above_n = np.flip(np.cumsum(np.flip(neg, -1), -1), -1)
    precision = safe_divide(at_or_above_p, at_or_above_p + at_or_above_n)
    precision = np.where(pos > 0, precision, 0.0)
    auprc = safe_divide((pos * precision).sum(axis=-1), total_p)
    return {"auroc": auroc, "auprc": auprc}


def _label_view(
    table: pd.DataFrame,
    gold: str,
    judge: str,
    labels: Sequence[str] | None,
    positive: Sequence[str] = (),
) -> tuple[pd.Series, pd.Series, list[str], int, dict[str, int], pd.Series]:
    for col in (gold, judge):
        if col not in table.columns:
            raise InputError(f"no column {col!r}; the table has {list(table.columns)}")
    g = normalize_labels(table[gold])
    j = normalize_labels(table[judge])
    labeled = g.notna()
    n_unlabeled = int((~labeled).sum())
    g, j = g[labeled], j[labeled]
    vocab = label_vocabulary(g.unique(), positive, labels, what=f"gold column {gold!r}")
    valid = j.notna() & j.isin(vocab)
    # an invalid answer is shown as the judge wrote it (not folded): it is evidence
    raw = table[judge][labeled.to_numpy()].astype("string").str.strip().replace("", pd.NA)
    bad = raw[~valid.to_numpy()].fillna("(missing)")
    invalid_values = {str(k): int(v) for k, v in bad.value_counts().items()}
    return g, j, vocab, n_unlabeled, invalid_values, valid


def _proportions(
    cw: np.ndarray, cw2: np.ndarray, confidence: float, method: ProportionMethod
) -> dict[str, Estimate]:
    """Accuracy, precision, recall, FPR, FNR and balanced accuracy with exact (or Wilson)
    intervals from weighted cell totals ``cw`` and squared-weight totals ``cw2`` (tp, fn,
    fp, tn); each on Kish's effective size of its denominator's rows."""
    name = EXACT if method == "exact" else WILSON
    tp, fn, fp, tn = range(4)
    parts = {  # metric: (numerator cells, denominator cells)
        "accuracy": ((tp, tn), (tp, fn, fp, tn)),
        "precision": ((tp,), (tp, fp)),
        "recall": ((tp,), (tp, fn)),
        "fpr": ((fp,), (fp, tn)),
        "fnr": ((fn,), (fn, tp)),
        "tnr": ((tn,), (tn, fp)),
    }
    out: dict[str, Estimate] = {}
    limits: dict[str, tuple[float, float, float]] = {}
    for metric, (num, den) in parts.items():
        total = float(cw[list(den)].sum())
        if total <= 0:
            limits[metric] = (math.nan, math.nan, math.nan)
            out[metric] = Estimate(math.nan, (math.nan, math.nan))
            continue
        p = float(cw[list(num)].sum()) / total
        n_eff = total**2 / float(cw2[list(den)].sum())
        lo, hi = proportion_limits(p * n_eff, n_eff, confidence=confidence, method=method)
        limits[metric] = (p, float(lo), float(hi))
        out[metric] = Estimate(p, (float(lo), float(hi)), method=name)
    (p1, l1, u1), (p2, l2, u2) = limits["recall"], limits["tnr"]
    ba, lo, hi = mover_mean((p1, p2), (l1, l2), (u1, u2))
    out["balanced_accuracy"] = (
        Estimate(float(ba), (float(lo), float(hi)), method=MOVER + name)
        if np.isfinite(ba)
        else Estimate(math.nan, (math.nan, math.nan))
    )
    del out["tnr"]
    return out


def _posterior(
    point: dict[str, np.ndarray],
    cells: np.ndarray,
    stats: Any,
    names: Sequence[str],
    *,
    n_eff: float,
    n_draws: int,
    confidence: float,
    rng: np.random.Generator,
    priors: Sequence[float] = PRIORS,
) -> dict[str, Estimate]:
    """Estimates with the Dirichlet posterior interval, joined over ``priors`` (module
    docstring): ``cells`` are weighted cell totals, scaled to sum to the effective size
    ``n_eff``."""
    total = float(cells.sum())
    values = {m: float(point[m]) for m in names}
    limits = (
        dirichlet_intervals(
            cells * (n_eff / total),
            stats,
            {m: v for m, v in values.items() if not math.isnan(v)},
            n_draws=n_draws,
            rng=rng,
            confidence=confidence,
            priors=priors,
        )
        if n_draws and total > 0
        else {}
    )
    out: dict[str, Estimate] = {}
    for m, value in values.items():
        if m in limits:
            lo, hi = limits[m]
            out[m] = Estimate(value, (float(lo), float(hi)), method=DIRICHLET)
        else:
            out[m] = Estimate(value, (math.nan, math.nan))
    return out


def judge_metrics(
    table: pd.DataFrame,
    *,
    gold: str = "gold",
    judge: str = "judge",
    positive: Iterable[str] | str | None = None,
    score: str | None = None,
    labels: Sequence[str] | None = None,
    weight: str | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
    proportion_interval: ProportionMethod = "exact",
) -> JudgeResult:
    """Judge-versus-human metrics with small-sample intervals (module docstring).

    ``positive``: the label(s) that count as positive; gives the binary view (see the
    module docstring). ``score``: a column with the judge's P(positive), for AUROC and
    AUPRC. ``labels``: the vocabulary (default: the labels seen in gold, widened to the
    :mod:`annotate.labels` scale they fit); a judge value outside it is invalid.
    ``weight``: a column of inclusion probabilities (in (0, 1] on every gold row); each
    row then counts ``1 / pi``. ``n_boot``: posterior draws (kappa, F1, MCC) and
    0 leaves those without an interval.
    ``proportion_interval``: ``exact`` (Clopper-Pearson) or ``wilson``.
    """
    if proportion_interval not in ("exact", "wilson"):
        raise InputError(f"proportion_interval {proportion_interval!r}: choose 'exact' or 'wilson'")
    pos_given = label_list(positive) or []  # any case: --positive Unsafe is unsafe
    g, j, vocab, n_unlabeled, invalid_values, valid = _label_view(
        table, gold, judge, labels, pos_given
    )
    n_invalid = int((~valid).sum())
    g_ok, j_ok = g[valid].to_numpy(dtype=object), j[valid].to_numpy(dtype=object)
    n = len(g_ok)
    if weight is None:
        w = np.ones(n)
    else:
        # by position (an index may repeat): gold rows, then those with a valid verdict
        labeled_rows = normalize_labels(table[gold]).notna().to_numpy()
        w = inverse_inclusion(table, weight, labeled_rows)[labeled_rows][valid.to_numpy()]
    n_eff = float(kish_n(w)) if n else 0.0
    k = len(vocab)
    index = {c: i for i, c in enumerate(vocab)}
    gi = np.array([index[v] for v in g_ok], dtype=np.int64)
    ji = np.array([index[v] for v in j_ok], dtype=np.int64)
    full = np.zeros((k, k), dtype=np.int64)
    np.add.at(full, (gi, ji), 1)
    rng = np.random.default_rng(seed)
    common: dict[str, Any] = dict(
        n=n,
        n_invalid=n_invalid,
        n_unlabeled=n_unlabeled,
        labels=tuple(vocab),
        invalid_values=invalid_values,
        confidence=confidence,
        weighted=weight is not None,
        n_effective=n_eff if weight is not None else float(n),
    )

    est: dict[str, Any] = {}
    if not pos_given:  # multi-class view
        cw = np.zeros((k, k))
        np.add.at(cw, (gi, ji), w)
        cw2 = np.zeros((k, k))
        np.add.at(cw2, (gi, ji), w * w)

        def mstats(c: np.ndarray) -> dict[str, np.ndarray]:
            conf = c.reshape(*c.shape[:-1], k, k)
            total = conf.sum(axis=(-2, -1))
            return {
                "accuracy": safe_divide(np.trace(conf, axis1=-2, axis2=-1), total),
                "cohen_kappa": kappa_from_confusion(conf),
            }

        point = mstats(cw.reshape(-1))
        est.update(
            _posterior(
                point,
                cw.reshape(-1),
                mstats,
                ["cohen_kappa"],
                n_eff=n_eff,
                n_draws=n_boot,
                confidence=confidence,
                rng=rng,
                priors=multiclass_priors(k),
            )
        )
        diag = np.eye(k, dtype=bool)
        two = np.array([cw[diag].sum(), 0.0, cw[~diag].sum(), 0.0])
        two2 = np.array([cw2[diag].sum(), 0.0, cw2[~diag].sum(), 0.0])
        est["accuracy"] = _proportions(two, two2, confidence, proportion_interval)["accuracy"]
        return JudgeResult(confusion=Confusion(vocab, full.tolist()), **common, **est)

    pos_set = pos_given
    pos_idx = np.isin(np.arange(k), [index[p] for p in pos_set])
    gb, jb = pos_idx[gi], pos_idx[ji]
    cells = np.where(gb, np.where(jb, 0, 1), np.where(jb, 2, 3))  # tp fn fp tn
    cw1 = np.bincount(cells, weights=w, minlength=4).astype(float)
    cw1_2 = np.bincount(cells, weights=w * w, minlength=4).astype(float)
    point = _binary_from_cells(cw1)
    est.update(_proportions(cw1, cw1_2, confidence, proportion_interval))
    est.update(
        _posterior(
            point,
            cw1,
            _binary_from_cells,
            ["cohen_kappa", "f1", "mcc"],
            n_eff=n_eff,
            n_draws=n_boot,
            confidence=confidence,
            rng=rng,
        )
    )

    if score is not None:
        est.update(_score_metrics(table, score, valid, gb, w, confidence))
    c = np.bincount(cells, minlength=4)
    binary = Confusion(["positive", "negative"], [[int(c[0]), int(c[1])], [int(c[2]), int(c[3])]])
    return JudgeResult(
        confusion=binary,
        confusion_full=Confusion(vocab, full.tolist()),
        positive=tuple(pos_set),
        prevalence=float((cw1[0] + cw1[1]) / cw1.sum()) if n else None,
        **common,
        **est,
    )


def checked_scores(table: pd.DataFrame, score: str) -> np.ndarray:
    """The score column as floats, NaN where it is empty.

    A score is the judge's P(positive): a value that is not a number in [0, 1] (text,
    inf, -3, 2.5) is refused (``InputError`` naming the rows) rather than read as
    missing or ranked as it is, since an AUROC over such values measures nothing.
    """
    if score not in table.columns:
        raise InputError(f"no score column {score!r}; the table has {list(table.columns)}")
    raw = table[score]
    numeric = pd.to_numeric(raw, errors="coerce").to_numpy(float)
    blank = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
    with np.errstate(invalid="ignore"):
        ok = blank | (np.isfinite(numeric) & (numeric >= 0) & (numeric <= 1))
    if not ok.all():
        where = table.index[~ok]
        ids = table["response_id"] if "response_id" in table.columns else None
        # a table read from a file is indexed by its line numbers (annotate.readers)
        row = "line " if table.index.name == "line" else "row "
        shown = ", ".join(
            f"{'response ' + repr(ids.loc[i]) if ids is not None else row + str(i)}: {raw.loc[i]!r}"
            for i in where[:5]
        )
        more = f" and {len(where) - 5} more" if len(where) > 5 else ""
        raise InputError(
            f"score column {score!r}: {len(where)} value(s) are not probabilities in [0, 1] "
            f"({shown}{more}); a score is the judge's P(positive): fix or empty those cells"
        )
    return np.where(blank, np.nan, numeric)


def _score_metrics(
    table: pd.DataFrame,
    score: str,
    valid: pd.Series,
    gold_pos: np.ndarray,
    weights: np.ndarray,
    confidence: float,
) -> dict[str, Estimate]:
    """AUROC with Newcombe's score interval, AUPRC with the exact interval on its
    positives, both on the rows with a score, weighted by ``weights``."""
    checked = pd.Series(checked_scores(table, score), index=table.index)
    s = checked.loc[valid.index[valid]].to_numpy(float)
    has = np.isfinite(s)
    if not has.any():
        nan = Estimate(math.nan, (math.nan, math.nan))
        return {"auroc": nan, "auprc": nan}
    s, y, wt = s[has], gold_pos[has], weights[has]
    values, s_idx = np.unique(s, return_inverse=True)
    w_values, w_idx = np.unique(wt, return_inverse=True)
    u = len(values)
    keys = np.column_stack([s_idx, y.astype(np.int64), w_idx])
    first, _, freq = compress(keys)
    ks, ky, kw = s_idx[first], y[first], wt[first]
    pos_map = np.zeros((len(first), u))
    neg_map = np.zeros((len(first), u))
    pos_map[ky, ks[ky]] = kw[ky]
    neg_map[~ky, ks[~ky]] = kw[~ky]
    del w_values, w_idx

    def stats(c: np.ndarray) -> dict[str, np.ndarray]:
        return score_curves_w(c @ pos_map, c @ neg_map)

    point = stats(freq.astype(float))
    auroc = float(point["auroc"])
    if math.isnan(auroc):
        out = {"auroc": Estimate(math.nan, (math.nan, math.nan))}
    else:
        lo, hi = auroc_interval(auroc, kish_n(wt[y]), kish_n(wt[~y]), confidence=confidence)
        out = {"auroc": Estimate(auroc, (float(lo), float(hi)), method=NEWCOMBE)}
    ap = float(point["auprc"])
    if math.isnan(ap):
        out["auprc"] = Estimate(math.nan, (math.nan, math.nan))
    else:
        ap_lo, ap_hi = average_precision_interval(ap, float(kish_n(wt[y])), confidence=confidence)
        out["auprc"] = Estimate(ap, (ap_lo, ap_hi), method=AP_EXACT)
    return out
