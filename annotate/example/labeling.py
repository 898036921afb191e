"""The demo's labeling of the example, the same with and without Label Studio.

``safecal demo`` samples the example's responses, loads a few known labels from its
``truth.csv`` as honeypots (outside the sample), imports the simulated annotators'
labels (``human_labels.csv``) and builds the gold set of the sample and the honeypots
from those labels: Dawid-Skene with the honeypots as known labels
(:mod:`annotate.adjudication`). With Label Studio the demo then also plans the
assignments, pushes the tasks and puts the uncertain units into a review project
(:mod:`annotate.labelstudio.demo_steps`); neither changes the gold set, so both paths
print the same gold labels and the same corrected rates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from safecal.annotate.adjudication import Resolution, build_gold
from safecal.annotate.human_labels import import_honeypots, import_labels
from safecal.annotate.responses import response_id
from safecal.annotate.review_decisions import record_decision
from safecal.annotate.sampling import draw_sample
from safecal.annotate.store import Workspace

DEMO_SAMPLE_ID = "demo"
#: who decides the demo's uncertain units: the example's truth, standing in for a person
DEMO_REVIEW_NAME = "simulated reviewer (the example's truth)"


@dataclass(frozen=True)
class DemoGold:
    """The sample drawn, the honeypots loaded, the labels imported and the gold built."""

    sample_id: str
    n_sampled: int
    n_honeypots: int
    n_labels: int
    gold: Resolution
    #: units the simulated reviewer decided (:func:`review_uncertain`)
    n_reviewed: int = 0


def honeypot_count(n: int) -> int:
    """Honeypots for a sample of ``n``: one per five sampled units, at least 4."""
    return max(4, n // 5)


def label_demo_sample(
    ws: Workspace,
    *,
    truth: Path,
    human_labels: Path,
    n: int,
    seed: int = 0,
    sample_id: str = DEMO_SAMPLE_ID,
) -> DemoGold:
    """Sample ``n`` responses (by model and aspect), load honeypots from ``truth``
    outside the sample, import ``human_labels`` and build the sample's gold set."""
    drawn = draw_sample(ws, n=n, by=("model", "aspect"), seed=seed, sample_id=sample_id)
    n_honeypots = import_honeypots(
        ws, truth, n=honeypot_count(n), exclude_sample=sample_id, seed=seed
    )
    n_labels = import_labels(ws, human_labels)
    gold = build_gold(ws, sample_id=sample_id)
    return DemoGold(
        sample_id=sample_id,
        n_sampled=len(drawn.sample),
        n_honeypots=n_honeypots,
        n_labels=n_labels,
        gold=gold,
    )


def review_uncertain(ws: Workspace, labeled: DemoGold, *, truth: Path) -> DemoGold:
    """Decide every unit awaiting review from ``truth``, as a reviewer would on the
    Review page, and rebuild the gold set (it keeps the decisions).

    Without this the corrected rates would rest on the units the annotators agreed
    on, the easier ones: the gold sample would no longer be the random sample whose
    inclusion probabilities the estimates use."""
    pending = labeled.gold.to_review
    if pending.empty:
        return labeled
    known = pd.read_csv(truth, dtype=str, keep_default_na=False)
    by_unit = {
        (response_id(r.item_id, r.model, r.language), r.field): r.label for r in known.itertuples()
    }
    decided = 0
    for unit in pending.itertuples():
        label = by_unit.get((unit.response_id, unit.field))
        if label is None:
            continue
        record_decision(
            ws, unit.response_id, unit.field, label, reviewer=DEMO_REVIEW_NAME,
            reason=unit.reason,
        )  # fmt: skip
        decided += 1
    gold = build_gold(ws, sample_id=labeled.sample_id)
    return replace(labeled, gold=gold, n_reviewed=labeled.n_reviewed + decided)


def describe(labeled: DemoGold) -> str:
    """What the demo prints about its gold set: counts by method, the review queue by
    reason, each annotator's share and Dawid-Skene accuracy, and honeypot accuracy with
    its 95% Wilson interval."""
    res = labeled.gold
    methods = ", ".join(f"{k} {v}" for k, v in res.gold["method"].value_counts().items())
    reasons = ", ".join(f"{k} {v}" for k, v in res.to_review["reason"].value_counts().items())
    lines = [
        f"sample {labeled.sample_id!r}: {labeled.n_sampled} responses; {labeled.n_honeypots} "
        f"honeypots (known labels, outside the sample); {labeled.n_labels} simulated labels",
        f"gold set: {len(res.gold)} gold labels ({methods}); "
        f"{len(res.to_review)} units await review" + (f" ({reasons})" if reasons else ""),
    ]
    if labeled.n_reviewed:
        lines.append(
            f"{labeled.n_reviewed} uncertain units decided by the {DEMO_REVIEW_NAME}, so the "
            "gold set covers the whole sample (adjudicated above)"
        )
    if len(res.reliability):
        lines.append(
            "annotators (labels on regular units, of those units with gold from the "
            "annotators, Dawid-Skene accuracy):\n"
            + res.reliability.to_string(index=False, float_format=lambda v: f"{v:.3f}")
        )
    acc = res.honeypot_accuracy
    if len(acc):
        shown = acc.assign(
            accuracy=[
                f"{a:.2f} [{lo:.2f}, {hi:.2f}]"
                for a, lo, hi in zip(acc["accuracy"], acc["low"], acc["high"], strict=True)
            ]
        ).drop(columns=["low", "high"])
        lines.append(
            "honeypot accuracy per annotator (95% Wilson interval):\n"
            + shown.to_string(index=False)
        )
    return "\n".join(lines)
