"""Gold from the annotators (issue 12): Dawid-Skene with honeypots as known labels,
review only for uncertain units, honeypot accuracy with its Wilson interval, and the
demo's labeling shared by the paths with and without Label Studio."""

from __future__ import annotations

import json
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from safecal.annotate.adjudication import (
    REVIEW_BELOW,
    honeypot_accuracy,
    resolve,
    wilson_interval,
)
from safecal.annotate.dawid_skene import dawid_skene

HARM = ["unsafe", "safe_with_warning", "safe_with_refusal"]
NO_REVIEWS = pd.DataFrame(columns=["response_id", "field", "label", "reviewer", "decided_at"])


def _simulate(
    accuracy: dict[str, float],
    *,
    n_units: int,
    per_unit: int,
    seed: int,
    prefix: str = "u",
) -> tuple[pd.DataFrame, np.ndarray]:
    """Units with a true class; each labeled by ``per_unit`` annotators drawn at random,
    right with their accuracy, else a uniformly drawn wrong class."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, size=n_units, p=[0.5, 0.3, 0.2])
    names = list(accuracy)
    rows = []
    for i, t in enumerate(truth):
        for name in rng.choice(names, size=per_unit, replace=False):
            right = rng.random() < accuracy[name]
            lab = t if right else rng.choice([k for k in range(3) if k != t])
            rows.append((f"{prefix}{i}", str(name), HARM[lab]))
    return pd.DataFrame(rows, columns=["unit", "rater", "label"]), truth


# -- Dawid-Skene with known labels ----------------------------------------------------


def test_all_known_is_counting_by_hand():
    """Every unit known: the posteriors are the known labels and the confusion rows are
    the counts plus the Dirichlet pseudo-counts (a = 0.5 everywhere, d = 2 on the
    diagonal), which one can check by hand."""
    long = pd.DataFrame(
        [
            ("k1", "a", "unsafe"),
            ("k2", "a", "unsafe"),
            ("k3", "a", "unsafe"),  # a misses k3 (truly safe_with_warning)
            ("k4", "a", "safe_with_warning"),
        ],
        columns=["unit", "rater", "label"],
    )
    known = {"k1": "unsafe", "k2": "unsafe", "k3": "safe_with_warning", "k4": "safe_with_warning"}
    fit = dawid_skene(long, classes=HARM, known=known)
    for unit, lab in known.items():
        assert fit.posteriors.loc[unit].to_dict() == {k: float(k == lab) for k in HARM}
    m = fit.confusion["a"]
    # row unsafe: 2 reported unsafe -> (2 + 0.5 + 2, 0.5, 0.5) / 5.5
    assert m.loc["unsafe"].tolist() == pytest.approx([4.5 / 5.5, 0.5 / 5.5, 0.5 / 5.5])
    # row safe_with_warning: 1 unsafe, 1 right -> (1.5, 1 + 0.5 + 2, 0.5) / 5.5
    assert m.loc["safe_with_warning"].tolist() == pytest.approx([1.5 / 5.5, 3.5 / 5.5, 0.5 / 5.5])
    # never seen: the prior alone, (0.5, 0.5, 2.5) / 3.5
    assert m.loc["safe_with_refusal"].tolist() == pytest.approx([0.5 / 3.5, 0.5 / 3.5, 2.5 / 3.5])
    # all units known: the class prior counts them, plus one per class: (2+1, 2+1, 1) / 7
    assert fit.priors.tolist() == pytest.approx([3 / 7, 3 / 7, 1 / 7])


def test_free_unit_posterior_is_bayes_rule_on_the_fitted_matrices():
    long = pd.DataFrame(
        [
            ("k1", "a", "unsafe"),
            ("k1", "b", "safe_with_warning"),
            ("k2", "a", "safe_with_warning"),
            ("k2", "b", "safe_with_warning"),
            ("k3", "a", "safe_with_refusal"),
            ("k3", "b", "unsafe"),
            ("f1", "a", "unsafe"),
            ("f1", "b", "safe_with_warning"),
        ],
        columns=["unit", "rater", "label"],
    )
    known = {"k1": "unsafe", "k2": "safe_with_warning", "k3": "safe_with_refusal"}
    fit = dawid_skene(long, classes=HARM, known=known)
    a, b = fit.confusion["a"], fit.confusion["b"]
    # a was right on all three honeypots, b on one: a's word counts for more
    assert np.trace(a.to_numpy()) > np.trace(b.to_numpy()) + 0.5
    post = fit.priors * a["unsafe"] * b["safe_with_warning"]
    assert fit.posteriors.loc["f1"].to_numpy() == pytest.approx((post / post.sum()).to_numpy())
    assert fit.posteriors.loc["f1"].idxmax() == "unsafe"
    # the known units keep their labels even where both annotators said otherwise
    assert fit.posteriors.loc["k3"].idxmax() == "safe_with_refusal"
    assert fit.posteriors.loc["k3", "safe_with_refusal"] == 1.0


def test_known_labels_recover_accuracies_on_a_simulation():
    accuracy = {"a": 0.9, "b": 0.75, "c": 0.45}
    long, truth = _simulate(accuracy, n_units=1200, per_unit=2, seed=3)
    honey = list(range(0, 1200, 8))  # 150 known units
    known = {f"u{i}": HARM[truth[i]] for i in honey}
    # 5 honeypots where both annotators agree on a wrong label: clamping keeps the known one
    flip = {u: HARM[(HARM.index(k) + 1) % 3] for u, k in list(known.items())[:5]}
    long.loc[long["unit"].isin(flip), "label"] = long["unit"].map(flip)
    fit = dawid_skene(long, classes=HARM, known=known)
    for name, p in accuracy.items():
        diag = np.diag(fit.confusion[name].to_numpy())
        # overall accuracy sum_k p_k pi[k, k] closely; each class's row more loosely
        # (the smallest class has ~160 labels an annotator, and the prior pulls a little)
        assert float(fit.priors.to_numpy() @ diag) == pytest.approx(p, abs=0.04), (name, diag)
        assert np.allclose(diag, p, atol=0.15), (name, diag)
    post = fit.posteriors
    for unit, lab in known.items():
        assert post.loc[unit].idxmax() == lab and post.loc[unit, lab] == 1.0
    free = [u for u in post.index if u not in known]
    hat = post.loc[free].to_numpy().argmax(axis=1)
    true = truth[[int(u[1:]) for u in free]]
    # two annotators a unit: better than the vote, whose 1-1 splits are coin flips
    rng = np.random.default_rng(0)
    by_unit = long.groupby("unit")["label"].agg(list)
    vote = [HARM.index(str(rng.choice(by_unit[u]))) for u in free]  # 1-1 split: a coin flip
    assert (hat == true).mean() > (np.array(vote) == true).mean() + 0.03


def test_known_label_outside_the_classes_is_refused():
    long = pd.DataFrame([("u", "a", "unsafe")], columns=["unit", "rater", "label"])
    with pytest.raises(ValueError, match="known labels outside"):
        dawid_skene(long, classes=HARM, known={"u": "dangerous"})


# -- resolve: weights instead of review ----------------------------------------------


def _workload(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """'steady' misses 1 of 10 honeypots, 'solid' none, 'random' answers at random;
    300 regular units, two annotators each."""
    rng = np.random.default_rng(seed)
    names = ["steady", "solid", "random"]
    truth = rng.choice(3, size=300, p=[0.5, 0.3, 0.2])
    rows = []
    accuracy = {"steady": 0.9, "solid": 0.9, "random": 1 / 3}
    for i, t in enumerate(truth):
        for name in rng.choice(names, size=2, replace=False):
            right = rng.random() < accuracy[str(name)]
            lab = t if right else rng.choice([k for k in range(3) if k != t])
            rows.append((f"r{i:03d}", "harmfulness", str(name), HARM[lab]))
    pots = []
    for j in range(10):
        known = HARM[j % 3]
        pots.append((f"h{j}", "harmfulness", known))
        other = HARM[(j + 1) % 3]
        rows.append((f"h{j}", "harmfulness", "steady", other if j == 0 else known))
        rows.append((f"h{j}", "harmfulness", "solid", known))
        rows.append((f"h{j}", "harmfulness", "random", HARM[int(rng.integers(3))]))
    labels = pd.DataFrame(rows, columns=["response_id", "field", "annotator", "label"])
    honey = pd.DataFrame(pots, columns=["response_id", "field", "label"])
    return labels, honey, truth


def test_one_missed_honeypot_keeps_contributing_a_random_annotator_is_down_weighted():
    labels, honey, truth = _workload()
    acc = honeypot_accuracy(labels, honey).set_index("annotator")
    assert acc.loc["steady", "correct"] == 9 and acc.loc["steady", "n"] == 10
    res = resolve(labels, honey, NO_REVIEWS)
    rel = res.reliability.set_index("annotator")
    # steady's work is not sent to review wholesale: most of it is in the gold set
    assert rel.loc["steady", "in_gold"] / rel.loc["steady", "labels"] > 0.75
    assert "honeypot_failed" not in set(res.to_review["reason"])
    # the near-random annotator's estimated accuracy is far below the others'
    assert rel.loc["random", "accuracy"] < 0.55
    assert rel.loc["random", "accuracy"] + 0.3 < min(rel.loc[["steady", "solid"], "accuracy"])
    # on units where steady and random disagree, the gold follows steady
    wide = labels.pivot_table(
        index="response_id", columns="annotator", values="label", aggfunc="first"
    )
    split = wide[wide["steady"].notna() & wide["random"].notna()]
    split = split[split["steady"] != split["random"]]
    gold = res.gold.set_index("response_id")["label"]
    decided = split.index.intersection(gold.index)
    assert len(split) > 20 and len(decided) > 0.5 * len(split)
    assert (gold.loc[decided] == split.loc[decided, "steady"]).mean() > 0.9
    # and the gold is right more often than the better annotator alone
    ds = gold[gold.index.str.startswith("r")]
    true = pd.Series([HARM[t] for t in truth], index=[f"r{i:03d}" for i in range(300)])
    assert (ds == true.loc[ds.index]).mean() > 0.9
    # the old rule, now opt-in, reviews every unit of steady's
    old = resolve(labels, honey, NO_REVIEWS, min_honeypot_accuracy=1.0)
    steady_units = set(labels.loc[labels["annotator"] == "steady", "response_id"]) - set(
        honey["response_id"]
    )
    assert steady_units <= set(old.to_review["response_id"])


@pytest.mark.parametrize("threshold", [0.6, 0.9, 0.99])
def test_review_goes_only_to_units_below_the_threshold(threshold):
    labels, honey, _ = _workload(seed=1)
    everything = resolve(labels, honey, NO_REVIEWS, review_below=0.0)
    assert everything.to_review.empty
    top = {
        r.response_id: max(json.loads(r.soft).values())
        for r in everything.gold.itertuples()
        if r.method == "dawid_skene"
    }
    res = resolve(labels, honey, NO_REVIEWS, review_below=threshold)
    assert set(res.to_review["response_id"]) == {u for u, p in top.items() if p < threshold}
    assert set(res.to_review["reason"]) <= {"uncertain"}
    kept = res.gold[res.gold["method"] == "dawid_skene"]
    assert all(max(json.loads(s).values()) >= threshold for s in kept["soft"])
    assert set(res.gold.loc[res.gold["method"] == "honeypot", "response_id"]) == set(
        honey["response_id"]
    )


def test_disagreement_policy_names_units_too():
    labels, honey, _ = _workload(seed=2)
    res = resolve(labels, honey, NO_REVIEWS, review_below=0.0, policy="disagreement")
    regular = labels[~labels["response_id"].isin(honey["response_id"])]
    split = regular.groupby("response_id")["label"].nunique()
    assert set(res.to_review["response_id"]) == set(split[split > 1].index)


def test_default_threshold_is_the_cli_default():
    from safecal.annotate.cli import annotate as cli

    assert cli.REVIEW_BELOW == REVIEW_BELOW


# -- honeypot accuracy with its interval -----------------------------------------------


def _wilson_by_hand(x: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("x", "n"), [(9, 10), (10, 10), (0, 5), (28, 30), (1, 1)])
def test_wilson_interval_matches_the_formula(x, n):
    assert wilson_interval(x, n) == pytest.approx(_wilson_by_hand(x, n), abs=1e-9)
    assert wilson_interval(x, n, confidence=0.8) == pytest.approx(
        _wilson_by_hand(x, n, 0.8), abs=1e-9
    )


def test_wilson_interval_known_values():
    low, high = wilson_interval(9, 10)
    assert (round(low, 4), round(high, 4)) == (0.5958, 0.9821)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_honeypot_accuracy_carries_the_interval():
    labels, honey, _ = _workload()
    acc = honeypot_accuracy(labels, honey).set_index("annotator")
    steady = acc.loc["steady"]
    assert (steady["low"], steady["high"]) == pytest.approx(_wilson_by_hand(9, 10))
    assert steady["low"] < steady["accuracy"] < steady["high"]


# -- the demo's labeling ---------------------------------------------------------------


def test_demo_labeling_gold_comes_from_the_simulated_annotators(example, example_workspace):
    from safecal.annotate.example.labeling import describe, label_demo_sample

    ws = example_workspace
    done = label_demo_sample(
        ws, truth=example.truth, human_labels=example.human_labels, n=60, seed=0
    )
    res = done.gold
    drawn = ws.read_sql("SELECT response_id FROM samples WHERE sample_id = 'demo'")
    sample = set(drawn["response_id"])
    methods = res.gold["method"].value_counts().to_dict()
    assert methods["honeypot"] == done.n_honeypots == 12
    # the rest of the gold: the sample's units, from the annotators (or awaiting review)
    from_annotators = res.gold[res.gold["method"] != "honeypot"]
    assert set(from_annotators["method"]) == {"dawid_skene"}
    assert set(from_annotators["response_id"]) | set(res.to_review["response_id"]) == sample
    honey_ids = set(res.gold.loc[res.gold["method"] == "honeypot", "response_id"])
    assert len(honey_ids) == 12 and not honey_ids & sample
    stored = ws.read_sql("SELECT response_id, field, label, method FROM gold")
    assert len(stored) == len(res.gold)
    # the annotators' gold agrees with the example's truth far above the annotators' noise
    truth = pd.read_csv(example.truth, dtype=str)
    resp = ws.read_sql("SELECT response_id, item_id, model, language FROM responses")
    truth = truth.merge(resp, on=["item_id", "model", "language"])
    merged = from_annotators.merge(
        truth[["response_id", "field", "label"]], on=["response_id", "field"], suffixes=("", "_t")
    )
    assert len(merged) == len(from_annotators)
    assert (merged["label"] == merged["label_t"]).mean() > 0.9
    text = describe(done)
    assert f"gold set: {len(res.gold)} gold labels" in text and "Wilson" in text
