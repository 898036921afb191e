"""From several annotators' labels to one gold label per (response, field).

The model (default ``method="dawid_skene"``): per field, Dawid & Skene (1979),
"Maximum likelihood estimation of observer error-rates using the EM algorithm",
JRSS C 28(1), fitted by EM over every labeled unit of the field
(:mod:`annotate.dawid_skene`). Each annotator j has a confusion matrix
``pi_j[k, l] = P(j reports l | true class k)``; a unit's posterior is
``T_ik ∝ p_k * prod_j pi_j[k, l_ij]``. Honeypots enter as *known labels*: their
posterior is clamped to the known class, so they measure each annotator's confusion
matrix directly. A missed honeypot therefore lowers that annotator's weight in every
unit's posterior (their log-likelihood ratio ``log pi_j[k, l] / pi_j[k', l]`` shrinks);
it does not send their work to review.

Rules, per unit (a response and its field):

* honeypot units keep their known label (method ``honeypot``);
* a reviewer's decision, once made, is the gold label (``adjudicated``, with who and
  when);
* otherwise the label of highest posterior (``dawid_skene``, soft label = posterior,
  stored as JSON), and the unit goes to review instead when
  - its highest posterior is below ``review_below`` (reason ``uncertain``; default
    0.8) or two classes tie (``tie``);
  - ``policy="disagreement"`` and its annotators disagree (``disagreement``);
  - one of its annotators' honeypot accuracy on that field is below
    ``min_honeypot_accuracy`` (``honeypot_failed``; default 0.0: never; an opt-in
    rule for teams that want a failed annotator's work re-checked).
* ``method="majority"`` replaces the posterior by the vote shares (``unanimous`` when
  all annotators agree, including a single annotator, else ``majority``); the same
  review rules apply to the largest vote share.

Honeypot accuracy per annotator and field is reported with its Wilson score interval
(:func:`honeypot_accuracy`). Only response fields (``harmfulness``, ``refusal``) get
gold labels; the item-level query-quality fields stay in the ``annotations`` table.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import pandas as pd
from scipy.stats import binomtest

from safecal.annotate.dawid_skene import dawid_skene
from safecal.annotate.errors import InputError
from safecal.annotate.labels import SCALES
from safecal.annotate.store import Workspace
from safecal.annotate.store import labels as label_rows

POLICIES = ("majority", "disagreement")
METHODS = ("dawid_skene", "majority")
#: default posterior (or vote share) below which a unit goes to review
REVIEW_BELOW = 0.8
GOLD_COLUMNS = ["response_id", "field", "label", "method", "soft", "adjudicator", "decided_at"]
RELIABILITY_COLUMNS = ["annotator", "field", "labels", "in_gold", "accuracy"]


@dataclass(frozen=True)
class Resolution:
    """Gold rows decided now, units that need review (with the reason), honeypot
    accuracy per annotator (with its interval), Dawid-Skene confusion matrices when
    used, and per annotator and field the regular units labeled (``labels``), how many
    of those got a gold label from the annotators (``in_gold``) and the Dawid-Skene
    estimate of the annotator's accuracy ``sum_k p_k pi[k, k]`` (``accuracy``; missing
    under the majority vote)."""

    gold: pd.DataFrame  # response_id, field, label, method, soft, adjudicator, decided_at
    to_review: pd.DataFrame  # response_id, field, reason
    honeypot_accuracy: pd.DataFrame
    confusion: dict[str, dict[str, pd.DataFrame]]
    reliability: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=RELIABILITY_COLUMNS)
    )


def response_labels(ws: Workspace, *, sample_id: str | None = None) -> pd.DataFrame:
    """The long table of response-level human labels (optionally one sample's units)."""
    return label_rows.response_labels(ws, fields=tuple(SCALES), sample_id=sample_id)


def wilson_interval(correct: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927, JASA 22(158)).

    With ``p = correct / n`` and ``z`` the ``(1 + confidence) / 2`` normal quantile:
    ``(p + z²/2n ± z sqrt(p(1 - p)/n + z²/4n²)) / (1 + z²/n)``. Computed by
    ``scipy.stats.binomtest(correct, n).proportion_ci(method="wilson")``; ``(nan, nan)``
    when ``n == 0``.
    """
    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(int(correct), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def honeypot_accuracy(
    labels: pd.DataFrame, honeypots: pd.DataFrame, *, confidence: float = 0.95
) -> pd.DataFrame:
    """Per annotator and field: honeypots answered (``n``), ``correct``, ``accuracy``
    and its Wilson score interval (``low``, ``high``; see :func:`wilson_interval`)."""
    columns = ["annotator", "field", "n", "correct", "accuracy", "low", "high"]
    merged = labels.merge(honeypots.rename(columns={"label": "known"}), on=["response_id", "field"])
    if merged.empty:
        return pd.DataFrame(columns=columns)
    merged["correct"] = (merged["label"] == merged["known"]).astype(int)
    out = merged.groupby(["annotator", "field"], as_index=False).agg(
        n=("correct", "size"), correct=("correct", "sum")
    )
    out["accuracy"] = out["correct"] / out["n"]
    bounds = [
        wilson_interval(c, n, confidence=confidence)
        for c, n in zip(out["correct"], out["n"], strict=True)
    ]
    out["low"] = [b[0] for b in bounds]
    out["high"] = [b[1] for b in bounds]
    return out[columns]


def _vote(group: pd.DataFrame) -> tuple[str | None, str, float, str]:
    counts = group["label"].value_counts()
    top = counts[counts == counts.max()]
    share = float(counts.max() / counts.sum())
    soft = json.dumps({k: round(v / counts.sum(), 6) for k, v in counts.items()})
    if len(top) > 1:
        return None, "tie", share, soft
    method = "unanimous" if len(counts) == 1 else "majority"
    return str(top.index[0]), method, share, soft


def _posterior(post: pd.Series) -> tuple[str | None, str, float, str]:
    best = post[post >= post.max() - 1e-9]
    soft = json.dumps({k: round(float(v), 6) for k, v in post.items()})
    if len(best) > 1:
        return None, "tie", float(post.max()), soft
    return str(best.index[0]), "dawid_skene", float(post.max()), soft


def resolve(
    labels: pd.DataFrame,
    honeypots: pd.DataFrame,
    reviews: pd.DataFrame,
    *,
    method: str = "dawid_skene",
    policy: str = "majority",
    review_below: float = REVIEW_BELOW,
    min_honeypot_accuracy: float = 0.0,
) -> Resolution:
    """Apply the rules of the module docstring. Pure: tables in, tables out.

    ``labels``: response_id, field, annotator, label (regular units and honeypots);
    ``honeypots``: response_id, field, label (the known label); ``reviews``:
    response_id, field, label (missing while pending), reviewer, decided_at.
    """
    if method not in METHODS:
        raise ValueError(f"method {method!r}: expected one of {METHODS}")
    if policy not in POLICIES:
        raise ValueError(f"policy {policy!r}: expected one of {POLICIES}")
    if not 0.0 <= review_below <= 1.0:
        raise ValueError(f"review_below {review_below!r}: expected a share in [0, 1]")
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    acc = honeypot_accuracy(labels, honeypots)
    failed = acc[acc["accuracy"] < min_honeypot_accuracy]
    failed_pairs = set(zip(failed["annotator"], failed["field"], strict=True))
    honey_keys = set(zip(honeypots["response_id"], honeypots["field"], strict=True))
    decided = reviews.dropna(subset=["label"]) if len(reviews) else reviews
    decided_keys = {(r.response_id, r.field): r for r in decided.itertuples()}
    gold_rows, review_rows = [], []
    for h in honeypots.itertuples():
        gold_rows.append(
            {
                "response_id": h.response_id,
                "field": h.field,
                "label": h.label,
                "method": "honeypot",
                "soft": None,
                "adjudicator": None,
                "decided_at": now,
            }
        )
    is_honey = [k in honey_keys for k in zip(labels["response_id"], labels["field"], strict=True)]
    regular = labels[[not h for h in is_honey]]
    posteriors: dict[str, pd.DataFrame] = {}
    confusion: dict[str, dict[str, pd.DataFrame]] = {}
    accuracy: dict[tuple[str, str], float] = {}
    if method == "dawid_skene":
        for fld, sub in labels.groupby("field"):
            long = sub.rename(columns={"response_id": "unit", "annotator": "rater"})
            pots = honeypots[honeypots["field"] == fld]
            fit = dawid_skene(
                long,
                classes=SCALES[str(fld)],
                known=dict(zip(pots["response_id"], pots["label"], strict=True)),
            )
            posteriors[str(fld)] = fit.posteriors
            confusion[str(fld)] = fit.confusion
            for rater, m in fit.confusion.items():
                diag = pd.Series([m.loc[k, k] for k in fit.priors.index], index=fit.priors.index)
                accuracy[(str(rater), str(fld))] = float((fit.priors * diag).sum())
    in_gold: set[tuple[str, str]] = set()
    for (rid, fld), group in regular.groupby(["response_id", "field"], sort=True):
        key = (rid, fld)
        if key in decided_keys:
            r = decided_keys[key]
            gold_rows.append(
                {
                    "response_id": rid,
                    "field": fld,
                    "label": r.label,
                    "method": "adjudicated",
                    "soft": None,
                    "adjudicator": r.reviewer,
                    "decided_at": r.decided_at,
                }
            )
            continue
        if method == "dawid_skene":
            label, how, top, soft = _posterior(posteriors[str(fld)].loc[rid])
        else:
            label, how, top, soft = _vote(group)
        reason = None
        if label is None:
            reason = "tie"
        elif top < review_below:
            reason = "uncertain"
        elif policy == "disagreement" and group["label"].nunique() > 1:
            reason = "disagreement"
        if any((a, fld) in failed_pairs for a in group["annotator"]):
            reason = reason or "honeypot_failed"
        if reason:
            review_rows.append({"response_id": rid, "field": fld, "reason": reason})
            continue
        in_gold.add(key)
        gold_rows.append(
            {
                "response_id": rid,
                "field": fld,
                "label": label,
                "method": how,
                "soft": soft,
                "adjudicator": None,
                "decided_at": now,
            }
        )
    reliability = _reliability(regular, in_gold, accuracy)
    return Resolution(
        gold=pd.DataFrame(gold_rows, columns=GOLD_COLUMNS),
        to_review=pd.DataFrame(review_rows, columns=["response_id", "field", "reason"]),
        honeypot_accuracy=acc,
        confusion=confusion,
        reliability=reliability,
    )


def _reliability(
    regular: pd.DataFrame, in_gold: set[tuple[str, str]], accuracy: dict[tuple[str, str], float]
) -> pd.DataFrame:
    if regular.empty:
        return pd.DataFrame(columns=RELIABILITY_COLUMNS)
    df = regular.assign(
        in_gold=[k in in_gold for k in zip(regular["response_id"], regular["field"], strict=True)]
    )
    out = df.groupby(["annotator", "field"], as_index=False).agg(
        labels=("label", "size"), in_gold=("in_gold", "sum")
    )
    out["in_gold"] = out["in_gold"].astype(int)
    keys = zip(out["annotator"], out["field"], strict=True)
    out["accuracy"] = [accuracy.get(k, float("nan")) for k in keys]
    return out[RELIABILITY_COLUMNS]


def load_inputs(
    ws: Workspace, *, sample_id: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Labels, honeypots (those labeled by someone) and reviews from the workspace.

    With ``sample_id``, the labels of that sample's units and of the honeypots (which
    sit outside any sample, and measure the annotators)."""
    labels = response_labels(ws)
    honeypots = label_rows.honeypot_labels(ws)
    if sample_id:
        units = set(response_labels(ws, sample_id=sample_id)["response_id"])
        units |= set(honeypots["response_id"])
        labels = labels[labels["response_id"].isin(units)].reset_index(drop=True)
    honeypots = honeypots[honeypots["response_id"].isin(labels["response_id"])]
    reviews = label_rows.review_decisions(ws)
    return labels, honeypots, reviews


def write_gold(ws: Workspace, resolution: Resolution) -> None:
    """Store the gold rows and the pending reviews (one transaction; reruns replace)."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with ws.transaction() as con:
        # pending reviews not yet in a review project are recomputed each time
        label_rows.clear_unsent_reviews(con)
        label_rows.upsert_gold(
            con,
            rows=[
                tuple(None if pd.isna(v) else v for v in r)
                for r in resolution.gold.itertuples(index=False)
            ],
        )
        label_rows.delete_gold(
            con, keys=[(r.response_id, r.field) for r in resolution.to_review.itertuples()]
        )
        label_rows.upsert_pending_reviews(
            con,
            rows=[
                (r.response_id, r.field, r.reason, now) for r in resolution.to_review.itertuples()
            ],
        )


def build_gold(
    ws: Workspace,
    *,
    sample_id: str | None = None,
    method: str = "dawid_skene",
    policy: str = "majority",
    review_below: float = REVIEW_BELOW,
    min_honeypot_accuracy: float = 0.0,
) -> Resolution:
    """Resolve the workspace's labels (:func:`resolve`; ``sample_id``: that sample's
    units and the honeypots) and store gold rows and pending reviews."""
    labels, honeypots, reviews = load_inputs(ws, sample_id=sample_id)
    if labels.empty:
        which = f" for sample {sample_id!r}" if sample_id else ""
        raise InputError(
            f"no human labels{which} yet: label the sample and `safecal annotate pull` "
            "(or `safecal annotate import FILE`), then build the gold set"
        )
    res = resolve(
        labels,
        honeypots,
        reviews,
        method=method,
        policy=policy,
        review_below=review_below,
        min_honeypot_accuracy=min_honeypot_accuracy,
    )
    write_gold(ws, res)
    return res
