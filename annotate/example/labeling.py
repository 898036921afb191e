"""The demo's labeling of the example, the same with and without Label Studio.

``safecal demo`` samples the example's responses, loads a few known labels from its
``truth.csv`` as honeypots (outside the sample) and takes the simulated annotators'
labels (``human_labels.csv``, by the people in
:data:`annotate.example.generate.ANNOTATORS`). Without Label Studio it imports them
all; with Label Studio (:mod:`annotate.labelstudio.demo_steps`) those on the sample's
units and the honeypots go into each annotator's own queue as that annotator's
annotations and come back by ``pull`` (the rest, on responses outside the sample, are
imported as labels made earlier). Either way the gold set of the sample and the
honeypots is built from the same labels by the same people: Dawid-Skene with the
honeypots as known labels (:mod:`annotate.adjudication`), and the units it leaves
uncertain are decided by the same simulated reviewer (:data:`DEMO_REVIEWER`, the
example's truth standing in for a person), so both paths print the same gold labels
and the same corrected rates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from safecal.annotate.adjudication import Resolution, build_gold
from safecal.annotate.human_labels import import_honeypots, import_labels, read_labels
from safecal.annotate.responses import response_id
from safecal.annotate.review_decisions import record_decision
from safecal.annotate.sampling import draw_sample
from safecal.annotate.store import Workspace
from safecal.annotate.store import labels as label_rows
from safecal.annotate.store import samples as sample_rows

DEMO_SAMPLE_ID = "demo"
#: who decides the demo's uncertain units (the example's truth, standing in for a
#: person): the reviewer's Label Studio account, and the name on the gold rows
DEMO_REVIEWER = "reviewer@safecal.local"


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


def prepare_demo_sample(
    ws: Workspace, *, truth: Path, n: int, seed: int = 0, sample_id: str = DEMO_SAMPLE_ID
) -> tuple[int, int]:
    """Sample ``n`` responses (by model and aspect) and load honeypots from ``truth``
    outside the sample; returns (responses sampled, honeypots loaded)."""
    drawn = draw_sample(ws, n=n, by=("model", "aspect"), seed=seed, sample_id=sample_id)
    n_honeypots = import_honeypots(
        ws, truth, n=honeypot_count(n), exclude_sample=sample_id, seed=seed
    )
    return len(drawn.sample), n_honeypots


def split_labels(
    ws: Workspace, human_labels: Path, *, sample_id: str = DEMO_SAMPLE_ID
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The simulated labels (as :func:`annotate.human_labels.read_labels` reads them,
    plus ``response_id``) split in two: those on the sample's units and on the
    honeypots (what the annotators' queues hold), and the rest."""
    labels = read_labels(human_labels)
    labels["response_id"] = [
        response_id(i, m, lang)
        for i, m, lang in zip(labels["item_id"], labels["model"], labels["language"], strict=True)
    ]
    units = set(sample_rows.sample_units(ws, sample_id=sample_id)["response_id"])
    units |= set(label_rows.honeypot_labels(ws)["response_id"])
    queued = labels["response_id"].isin(units)
    return labels[queued], labels[~queued]


def label_demo_sample(
    ws: Workspace,
    *,
    truth: Path,
    human_labels: Path,
    n: int,
    seed: int = 0,
    sample_id: str = DEMO_SAMPLE_ID,
) -> DemoGold:
    """Sample ``n`` responses, load honeypots from ``truth`` outside the sample,
    import ``human_labels`` and build the sample's gold set (the demo without Label
    Studio)."""
    n_sampled, n_honeypots = prepare_demo_sample(
        ws, truth=truth, n=n, seed=seed, sample_id=sample_id
    )
    n_labels = import_labels(ws, human_labels)
    gold = build_gold(ws, sample_id=sample_id)
    return DemoGold(
        sample_id=sample_id,
        n_sampled=n_sampled,
        n_honeypots=n_honeypots,
        n_labels=n_labels,
        gold=gold,
    )


def truth_decisions(truth: Path, pending: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    """(response_id, field, label, reason) for each unit of ``pending`` (columns
    response_id, field, reason) that ``truth`` labels: what the simulated reviewer
    decides."""
    known = pd.read_csv(truth, dtype=str, keep_default_na=False)
    by_unit = {
        (response_id(r.item_id, r.model, r.language), r.field): r.label for r in known.itertuples()
    }
    out = []
    for unit in pending.itertuples():
        label = by_unit.get((unit.response_id, unit.field))
        if label is not None:
            out.append((unit.response_id, unit.field, label, unit.reason))
    return out


def review_uncertain(ws: Workspace, labeled: DemoGold, *, truth: Path) -> DemoGold:
    """Decide every unit awaiting review from ``truth``, as a reviewer would on the
    Review page, and rebuild the gold set (it keeps the decisions).

    Without this the corrected rates would rest on the units the annotators agreed
    on, the easier ones: the gold sample would no longer be the random sample whose
    inclusion probabilities the estimates use."""
    pending = labeled.gold.to_review
    if pending.empty:
        return labeled
    decided = 0
    for rid, fld, label, reason in truth_decisions(truth, pending):
        record_decision(ws, rid, fld, label, reviewer=DEMO_REVIEWER, reason=reason)
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
            f"{labeled.n_reviewed} uncertain units decided by the simulated reviewer "
            f"{DEMO_REVIEWER} (the example's truth), so the gold set covers the whole sample "
            "(adjudicated above)"
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
