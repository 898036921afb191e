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

from dataclasses import dataclass
from pathlib import Path

from safecal.annotate.adjudication import Resolution, build_gold
from safecal.annotate.human_labels import import_honeypots, import_labels
from safecal.annotate.sampling import draw_sample
from safecal.annotate.store import Workspace

DEMO_SAMPLE_ID = "demo"


@dataclass(frozen=True)
class DemoGold:
    """The sample drawn, the honeypots loaded, the labels imported and the gold built."""

    sample_id: str
    n_sampled: int
    n_honeypots: int
    n_labels: int
    gold: Resolution


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
