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

Intervals: seeded bootstrap percentile over items. Every metric is a function of counts
per (gold, judge) cell (and, for the score metrics, per (gold, score) value), so the
resamples are multinomial counts over those cells (:mod:`calibrate.bootstrap`): exact
item-bootstrap distribution, no per-resample pass over the rows. This is why the metrics
are computed here and not by scikit-learn in a loop; the tests check every metric against
``sklearn.metrics`` on the data and on resamples.
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
from safecal.calibrate.bootstrap import bootstrap, compress, percentile_estimate, safe_divide
from safecal.calibrate.results import Estimate, estimate_or_none
from safecal.calibrate.vocab import label_vocabulary, normalize_labels

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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "n": self.n,
            "n_invalid": self.n_invalid,
            "n_unlabeled": self.n_unlabeled,
        }
        for name in (*BINARY_METRICS, "auroc", "auprc"):
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
    bad = j[~valid].fillna("(missing)")
    invalid_values = {str(k): int(v) for k, v in bad.value_counts().items()}
    return g, j, vocab, n_unlabeled, invalid_values, valid


def judge_metrics(
    table: pd.DataFrame,
    *,
    gold: str = "gold",
    judge: str = "judge",
    positive: Iterable[str] | str | None = None,
    score: str | None = None,
    labels: Sequence[str] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> JudgeResult:
    """Judge-versus-human metrics with seeded bootstrap percentile intervals.

    ``positive``: the label(s) that count as positive; gives the binary view (see the
    module docstring). ``score``: a column with the judge's P(positive), for AUROC and
    AUPRC. ``labels``: the vocabulary (default: the labels seen in gold, widened to the
    :mod:`annotate.labels` scale they fit); a judge value outside it is invalid.
    """
    pos_given = (
        []
        if positive is None
        else ([positive] if isinstance(positive, str) else [str(p) for p in positive])
    )
    g, j, vocab, n_unlabeled, invalid_values, valid = _label_view(
        table, gold, judge, labels, pos_given
    )
    n_invalid = int((~valid).sum())
    g_ok, j_ok = g[valid].to_numpy(dtype=object), j[valid].to_numpy(dtype=object)
    n = len(g_ok)
    k = len(vocab)
    index = {c: i for i, c in enumerate(vocab)}
    gi = np.array([index[v] for v in g_ok], dtype=np.int64)
    ji = np.array([index[v] for v in j_ok], dtype=np.int64)
    full = np.zeros((k, k), dtype=np.int64)
    np.add.at(full, (gi, ji), 1)
    rng = np.random.default_rng(seed)

    if not pos_given:  # multi-class view
        cells = gi * k + ji

        def stats(w: np.ndarray) -> dict[str, np.ndarray]:
            conf = w @ onehot
            conf = conf.reshape(*conf.shape[:-1], k, k)
            total = conf.sum(axis=(-2, -1))
            return {
                "accuracy": safe_divide(np.trace(conf, axis1=-2, axis2=-1), total),
                "cohen_kappa": kappa_from_confusion(conf),
            }

        first, _, freq = compress(cells)
        onehot = np.eye(k * k)[cells[first]] if n else np.zeros((0, k * k))
        point = stats(freq.astype(float))
        boot = bootstrap(freq, stats, n_boot=n_boot, seed=rng) if n and n_boot else {}
        est: dict[str, Any] = {
            m: percentile_estimate(point[m], boot.get(m, np.array([])), confidence) for m in point
        }
        return JudgeResult(
            n=n,
            n_invalid=n_invalid,
            n_unlabeled=n_unlabeled,
            confusion=Confusion(vocab, full.tolist()),
            labels=tuple(vocab),
            invalid_values=invalid_values,
            confidence=confidence,
            **est,
        )

    pos_set = pos_given
    pos_idx = np.isin(np.arange(k), [index[p] for p in pos_set])
    gb, jb = pos_idx[gi], pos_idx[ji]
    cells = np.where(gb, np.where(jb, 0, 1), np.where(jb, 2, 3))  # tp fn fp tn
    first, _, freq = compress(cells)
    onehot = np.eye(4)[cells[first]] if n else np.zeros((0, 4))

    def bstats(w: np.ndarray) -> dict[str, np.ndarray]:
        return _binary_from_cells(w @ onehot)

    point = bstats(freq.astype(float))
    boot = bootstrap(freq, bstats, n_boot=n_boot, seed=rng) if n and n_boot else {}
    est = {
        m: percentile_estimate(point[m], boot.get(m, np.array([])), confidence)
        for m in BINARY_METRICS
    }

    if score is not None:
        est.update(_score_metrics(table, score, valid, gb, n_boot, confidence, rng))
    c = np.bincount(cells, minlength=4)
    binary = Confusion(["positive", "negative"], [[int(c[0]), int(c[1])], [int(c[2]), int(c[3])]])
    return JudgeResult(
        n=n,
        n_invalid=n_invalid,
        n_unlabeled=n_unlabeled,
        confusion=binary,
        confusion_full=Confusion(vocab, full.tolist()),
        labels=tuple(vocab),
        positive=tuple(pos_set),
        invalid_values=invalid_values,
        prevalence=float(gb.mean()) if n else None,
        confidence=confidence,
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
        shown = ", ".join(
            f"{'response ' + repr(ids.loc[i]) if ids is not None else 'row ' + str(i)}: "
            f"{raw.loc[i]!r}"
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
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
) -> dict[str, Estimate]:
    checked = pd.Series(checked_scores(table, score), index=table.index)
    s = checked.loc[valid.index[valid]].to_numpy(float)
    has = np.isfinite(s)
    if not has.any():
        nan = Estimate(math.nan, (math.nan, math.nan))
        return {"auroc": nan, "auprc": nan}
    s, y = s[has], gold_pos[has]
    values, s_idx = np.unique(s, return_inverse=True)
    u = len(values)
    keys = s_idx * 2 + y.astype(np.int64)
    first, _, freq = compress(keys)
    key = keys[first]
    pos_map = np.zeros((len(key), u))
    neg_map = np.zeros((len(key), u))
    ks, ky = key // 2, key % 2
    pos_map[ky == 1, ks[ky == 1]] = 1
    neg_map[ky == 0, ks[ky == 0]] = 1

    def stats(w: np.ndarray) -> dict[str, np.ndarray]:
        return score_curves_w(w @ pos_map, w @ neg_map)

    point = stats(freq.astype(float))
    boot = bootstrap(freq, stats, n_boot=n_boot, seed=rng) if n_boot else {}
    return {
        m: percentile_estimate(point[m], boot.get(m, np.array([])), confidence)
        for m in ("auroc", "auprc")
    }
