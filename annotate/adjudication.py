"""From several annotators' labels to one gold label per (response, field).

Rules, per unit (a response and its field):

* honeypot units keep their known label (method ``honeypot``);
* a unit goes to review when its annotators disagree (``policy="disagreement"``) or,
  under ``policy="majority"`` (the default), when the majority vote ties; and, under
  both, when one of its annotators failed a honeypot of that field (accuracy below
  ``min_honeypot_accuracy``, default 1.0: any miss);
* a reviewer's decision, once made, is the gold label (``adjudicated``, with who and
  when);
* otherwise ``unanimous`` when all annotators agree (including a single annotator),
  else ``majority``;
* ``method="dawid_skene"`` replaces the vote by the Dawid-Skene posterior (soft label
  stored as JSON), and only posterior ties go to review.

Only response fields (``harmfulness``, ``refusal``) get gold labels; the item-level
query-quality fields stay in the ``annotations`` table.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pandas as pd

from safecal.annotate.dawid_skene import dawid_skene
from safecal.annotate.labels import SCALES
from safecal.annotate.store import Workspace
from safecal.annotate.store import labels as label_rows

POLICIES = ("majority", "disagreement")
METHODS = ("majority", "dawid_skene")


@dataclass(frozen=True)
class Resolution:
    """Gold rows decided now, units that need review (with the reason), honeypot
    accuracy per annotator, and Dawid-Skene confusion matrices when used."""

    gold: pd.DataFrame  # response_id, field, label, method, soft, adjudicator, decided_at
    to_review: pd.DataFrame  # response_id, field, reason
    honeypot_accuracy: pd.DataFrame
    confusion: dict[str, dict[str, pd.DataFrame]]


def response_labels(ws: Workspace, *, sample_id: str | None = None) -> pd.DataFrame:
    """The long table of response-level human labels (optionally one sample's units)."""
    return label_rows.response_labels(ws, fields=tuple(SCALES), sample_id=sample_id)


def honeypot_accuracy(labels: pd.DataFrame, honeypots: pd.DataFrame) -> pd.DataFrame:
    """Per annotator and field: honeypots answered, correct, accuracy."""
    merged = labels.merge(honeypots.rename(columns={"label": "known"}), on=["response_id", "field"])
    if merged.empty:
        return pd.DataFrame(columns=["annotator", "field", "n", "correct", "accuracy"])
    merged["correct"] = (merged["label"] == merged["known"]).astype(int)
    out = merged.groupby(["annotator", "field"], as_index=False).agg(
        n=("correct", "size"), correct=("correct", "sum")
    )
    out["accuracy"] = out["correct"] / out["n"]
    return out


def _vote(group: pd.DataFrame) -> tuple[str | None, str, str]:
    counts = group["label"].value_counts()
    top = counts[counts == counts.max()]
    if len(top) > 1:
        return None, "tie", ""
    method = "unanimous" if len(counts) == 1 else "majority"
    soft = json.dumps({k: round(v / counts.sum(), 6) for k, v in counts.items()})
    return str(top.index[0]), method, soft


def resolve(
    labels: pd.DataFrame,
    honeypots: pd.DataFrame,
    reviews: pd.DataFrame,
    *,
    method: str = "majority",
    policy: str = "majority",
    min_honeypot_accuracy: float = 1.0,
) -> Resolution:
    """Apply the rules of the module docstring. Pure: tables in, tables out."""
    if method not in METHODS:
        raise ValueError(f"method {method!r}: expected one of {METHODS}")
    if policy not in POLICIES:
        raise ValueError(f"policy {policy!r}: expected one of {POLICIES}")
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
    regular = labels[
        [k not in honey_keys for k in zip(labels["response_id"], labels["field"], strict=True)]
    ]
    posteriors: dict[str, pd.DataFrame] = {}
    confusion: dict[str, dict[str, pd.DataFrame]] = {}
    if method == "dawid_skene":
        for fld, sub in regular.groupby("field"):
            long = sub.rename(columns={"response_id": "unit", "annotator": "rater"})
            fit = dawid_skene(long, classes=SCALES[str(fld)])
            posteriors[str(fld)] = fit.posteriors
            confusion[str(fld)] = fit.confusion
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
            post = posteriors[str(fld)].loc[rid]
            best = post[post >= post.max() - 1e-9]
            label, how = (str(best.index[0]), "dawid_skene") if len(best) == 1 else (None, "tie")
            soft = json.dumps({k: round(float(v), 6) for k, v in post.items()})
        else:
            label, how, soft = _vote(group)
        reason = None
        if label is None:
            reason = "tie"
        elif policy == "disagreement" and group["label"].nunique() > 1:
            reason = "disagreement"
        if any((a, fld) in failed_pairs for a in group["annotator"]):
            reason = reason or "honeypot_failed"
        if reason:
            review_rows.append({"response_id": rid, "field": fld, "reason": reason})
            continue
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
    gold = pd.DataFrame(
        gold_rows,
        columns=["response_id", "field", "label", "method", "soft", "adjudicator", "decided_at"],
    )
    return Resolution(
        gold=gold,
        to_review=pd.DataFrame(review_rows, columns=["response_id", "field", "reason"]),
        honeypot_accuracy=acc,
        confusion=confusion,
    )


def load_inputs(
    ws: Workspace, *, sample_id: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Labels, honeypots (those labeled by someone) and reviews from the workspace."""
    labels = response_labels(ws, sample_id=sample_id)
    honeypots = label_rows.honeypot_labels(ws)
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
    method: str = "majority",
    policy: str = "majority",
    min_honeypot_accuracy: float = 1.0,
) -> Resolution:
    """Resolve the workspace's labels and store gold rows and pending reviews."""
    labels, honeypots, reviews = load_inputs(ws, sample_id=sample_id)
    res = resolve(
        labels,
        honeypots,
        reviews,
        method=method,
        policy=policy,
        min_honeypot_accuracy=min_honeypot_accuracy,
    )
    write_gold(ws, res)
    return res
