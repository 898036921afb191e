"""Assignments (overlap, honeypots), adjudication, Dawid-Skene, import of human labels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from safecal.annotate import ingest_items, ingest_responses
from safecal.annotate.adjudication import build_gold, honeypot_accuracy, resolve
from safecal.annotate.assign import plan_assignments
from safecal.annotate.dawid_skene import dawid_skene
from safecal.annotate.errors import InputError
from safecal.annotate.gold_export import export_gold
from safecal.annotate.human_labels import import_honeypots, import_labels
from safecal.annotate.sampling import draw_sample
from tests.annotate.fixtures import populate


def test_overlap_share_k_and_honeypot_rate(tmp_path):
    ws = populate(tmp_path / "ws", n_items=40, with_images=False)  # 160 responses
    draw_sample(ws, n=100, by=("model",), seed=1, sample_id="s")
    responses = ws.read_sql(
        "SELECT r.response_id, i.aspect FROM responses r JOIN items i USING (item_id)"
    )
    sampled = set(ws.read_sql("SELECT response_id FROM samples")["response_id"])
    pool = responses[~responses["response_id"].isin(sampled)]
    field = pool["aspect"].map({"vulnerability": "harmfulness", "overrefusal": "refusal"})
    with ws.transaction() as con:
        con.executemany(
            "INSERT INTO honeypots VALUES (?, ?, ?, 't')",
            [
                (r, f, "unsafe" if f == "harmfulness" else "full_refusal")
                for r, f in zip(pool["response_id"], field, strict=True)
            ],
        )
    plan = plan_assignments(
        ws, "s", ["a@x.org", "b@x.org", "c@x.org"], overlap=0.2, k=2, honeypot_rate=0.1, seed=2
    )
    a = plan.assignments
    regular = a[a["role"] != "honeypot"]
    per_unit = regular.groupby("unit_id")["annotator"].nunique()
    assert (per_unit == 2).sum() == 20 and (per_unit == 1).sum() == 80
    loads = regular.groupby("annotator").size()
    assert loads.max() - loads.min() <= 1  # 120 labels over 3 queues: 40 each
    honey = a[a["role"] == "honeypot"]
    for name, n in loads.items():
        # rate r of the queue: round(r / (1 - r) * n) = round(40 / 9) = 4 per queue
        assert len(honey[honey["annotator"] == name]) == round(0.1 / 0.9 * n)
    assert not set(honey["unit_id"]) & sampled
    roles = ws.read_sql("SELECT role, COUNT(*) AS n FROM samples GROUP BY role")
    assert dict(zip(roles["role"], roles["n"], strict=True))["overlap"] == 20
    with pytest.raises(InputError, match="2 <= k"):
        plan_assignments(ws, "s", ["a@x.org"], overlap=0.2, k=2)


def test_resolution_rules_by_hand():
    labels = pd.DataFrame(
        [
            ("r1", "harmfulness", "a", "unsafe"),
            ("r1", "harmfulness", "b", "unsafe"),
            ("r2", "harmfulness", "a", "unsafe"),
            ("r2", "harmfulness", "b", "safe_with_warning"),
            ("r3", "harmfulness", "a", "unsafe"),
            ("r3", "harmfulness", "b", "unsafe"),
            ("r3", "harmfulness", "c", "safe_with_refusal"),
            ("r4", "harmfulness", "c", "safe_with_refusal"),
            ("h1", "harmfulness", "a", "unsafe"),
            ("h1", "harmfulness", "c", "safe_with_refusal"),
        ],
        columns=["response_id", "field", "annotator", "label"],
    )
    honey = pd.DataFrame(
        [("h1", "harmfulness", "unsafe")], columns=["response_id", "field", "label"]
    )
    none = pd.DataFrame(columns=["response_id", "field", "label", "reviewer", "decided_at"])
    acc = honeypot_accuracy(labels, honey).set_index("annotator")
    assert acc.loc["a", "accuracy"] == 1.0 and acc.loc["c", "accuracy"] == 0.0
    # the majority vote with the old opt-in rule: a failed honeypot reviews all c's units
    vote = {"method": "majority", "review_below": 0.0}
    res = resolve(labels, honey, none, **vote, min_honeypot_accuracy=1.0)
    gold = res.gold.set_index("response_id")
    assert gold.loc["r1", "method"] == "unanimous" and gold.loc["h1", "method"] == "honeypot"
    review = dict(zip(res.to_review["response_id"], res.to_review["reason"], strict=True))
    # r2: 1-1 tie; r3: majority unsafe but c failed a honeypot; r4: c alone failed one
    assert review == {"r2": "tie", "r3": "honeypot_failed", "r4": "honeypot_failed"}
    res = resolve(labels, honey, none, **vote)  # default: no honeypot rule
    gold = res.gold.set_index("response_id")
    assert gold.loc["r3", "label"] == "unsafe" and gold.loc["r3", "method"] == "majority"
    assert json.loads(gold.loc["r3", "soft"]) == pytest.approx(
        {"unsafe": 2 / 3, "safe_with_refusal": 1 / 3}, abs=1e-6
    )
    strict = resolve(labels, honey, none, **vote, policy="disagreement")
    assert set(strict.to_review["response_id"]) == {"r2", "r3"}
    # a vote share of 2/3 is below review_below 0.8: uncertain
    shares = resolve(labels, honey, none, method="majority", review_below=0.8)
    review = dict(zip(shares.to_review["response_id"], shares.to_review["reason"], strict=True))
    assert review == {"r2": "tie", "r3": "uncertain"}
    decided = pd.DataFrame(
        [("r2", "harmfulness", "safe_with_warning", "rev@x.org", "t")],
        columns=["response_id", "field", "label", "reviewer", "decided_at"],
    )
    res = resolve(labels, honey, decided, method="majority")
    row = res.gold.set_index("response_id").loc["r2"]
    assert (row["label"], row["method"], row["adjudicator"]) == (
        "safe_with_warning",
        "adjudicated",
        "rev@x.org",
    )


def test_dawid_skene_recovers_simulated_annotators():
    rng = np.random.default_rng(0)
    classes = ["unsafe", "safe_with_warning", "safe_with_refusal"]
    truth = rng.choice(3, size=1500, p=[0.5, 0.3, 0.2])
    accuracy = {"a": 0.9, "b": 0.75, "c": 0.6, "d": 0.8}
    rows = []
    for i, t in enumerate(truth):
        for name, p in accuracy.items():
            lab = t if rng.random() < p else rng.choice([k for k in range(3) if k != t])
            rows.append((f"u{i}", name, classes[lab]))
    df = pd.DataFrame(rows, columns=["unit", "rater", "label"])
    fit = dawid_skene(df, classes=classes)
    for name, p in accuracy.items():
        diag = np.diag(fit.confusion[name].to_numpy())
        assert np.allclose(diag, p, atol=0.06), (name, diag)
    assert fit.priors.to_numpy() == pytest.approx([0.5, 0.3, 0.2], abs=0.04)
    order = [int(u[1:]) for u in fit.posteriors.index]
    hat = fit.posteriors.to_numpy().argmax(axis=1)
    majority_hit = (hat == truth[order]).mean()
    assert majority_hit > 0.93  # better than the best single annotator (0.9)


def test_import_example_labels_build_gold_and_export(example, tmp_path):
    from safecal.annotate.store import Workspace

    ws = Workspace.open(tmp_path / "ws")
    ingest_items(ws, example.items, images=example.images)
    for f in example.responses:
        ingest_responses(ws, f)
    n = import_labels(ws, example.human_labels)
    assert n == len(pd.read_csv(example.human_labels))
    assert import_labels(ws, example.human_labels) == n  # idempotent
    assert len(ws.read_sql("SELECT * FROM annotations")) == n
    qq = import_labels(ws, example.query_quality_labels)
    assert len(ws.read_sql("SELECT * FROM annotations WHERE response_id IS NULL")) == qq
    import_labels(ws, example.query_quality_labels)
    assert len(ws.read_sql("SELECT * FROM annotations")) == n + qq
    res = build_gold(ws, method="dawid_skene")
    table = export_gold(ws, tmp_path / "gold.csv")
    truth = pd.read_csv(example.truth, dtype=str)
    merged = table.merge(truth, on=["item_id", "model", "language", "field"])
    assert len(merged) == len(table) == len(res.gold)
    assert (merged["gold"] == merged["label"]).mean() > 0.85
    assert import_honeypots(ws, example.truth) == len(truth)


def test_import_rejects_bad_rows(tmp_path):
    ws = populate(tmp_path / "ws", n_items=2, with_images=False)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "item_id,model,language,annotator,field,label\n"
        "item0000,model-a,en,x,harmfulness,unsafe\n"
        "item0000,model-a,en,x,harmfulness,dangerous\n"
    )
    with pytest.raises(InputError, match=r"bad.csv, line 3: label 'dangerous'"):
        import_labels(ws, bad)
    bad.write_text(
        "item_id,model,language,annotator,field,label\nitem0000,model-z,en,x,harmfulness,unsafe\n"
    )
    with pytest.raises(
        InputError,
        match=r"line 2: no response for item_id='item0000', "
        r"model='model-z'",
    ):
        import_labels(ws, bad)
    bad.write_text("item_id,annotator,field,label\nitem0000,x,harmfulness,unsafe\n")
    with pytest.raises(InputError, match="missing column"):
        import_labels(ws, bad)
    assert ws.read_sql("SELECT COUNT(*) AS n FROM annotations")["n"].iloc[0] == 0


def test_gold_without_labels_says_what_to_do_and_writes_nothing(tmp_path):
    """A sample drawn but not labeled yet: building the gold set is refused with the next
    step (it raised a KeyError from pandas before), and nothing is written."""
    ws = populate(tmp_path / "ws", n_items=4, with_images=False)
    draw_sample(ws, n=4, sample_id="s1")
    with pytest.raises(InputError, match=r"no human labels for sample 's1' yet: .*annotate pull"):
        build_gold(ws, sample_id="s1")
    with pytest.raises(InputError, match=r"no human labels yet"):
        build_gold(ws)
    assert ws.read_sql("SELECT COUNT(*) AS n FROM gold")["n"].iloc[0] == 0


def test_queues_as_labeled_give_each_annotator_what_they_labeled(example_workspace, example):
    """The demo's queues: each simulated annotator gets exactly the sampled units and
    honeypots they labeled; a unit with two or more annotators is overlap, a honeypot
    outside the sample is a honeypot, and a label elsewhere is refused."""
    from safecal.annotate.assign import assign_as_labeled
    from safecal.annotate.example.labeling import prepare_demo_sample, split_labels

    ws = example_workspace
    n_sampled, n_honey = prepare_demo_sample(ws, truth=example.truth, n=60, seed=4)
    queued, rest = split_labels(ws, example.human_labels)
    assert (
        len(queued)
        and len(rest)
        and len(queued) + len(rest) == len(pd.read_csv(example.human_labels))
    )
    plan = assign_as_labeled(ws, "demo", queued, seed=4)
    stored = ws.read_sql("SELECT annotator, task_type, unit_id, role, position FROM ls_assignments")
    assert sorted(stored[["annotator", "task_type", "unit_id"]].itertuples(index=False)) == sorted(
        queued[["annotator", "field", "response_id"]].itertuples(index=False)
    )
    raters = queued.groupby("response_id")["annotator"].nunique()
    honey = set(ws.read_sql("SELECT response_id FROM honeypots")["response_id"])
    for r in stored.itertuples():
        want = (
            "honeypot" if r.unit_id in honey else "overlap" if raters[r.unit_id] > 1 else "regular"
        )
        assert r.role == want, r
    assert plan.n_units == n_sampled and plan.n_honeypots == n_honey
    # each queue is a permutation of its positions, shuffled (not in unit order)
    for _name, q in stored.groupby("annotator"):
        assert sorted(q["position"]) == list(range(len(q)))
        assert list(q.sort_values("position")["unit_id"]) != sorted(q["unit_id"])
    # the roles reach the sample: its honeypots and overlap units
    roles = ws.read_sql("SELECT role, COUNT(*) AS n FROM samples GROUP BY role")
    assert dict(zip(roles["role"], roles["n"], strict=True)).get("honeypot") == n_honey
    with pytest.raises(InputError, match="neither in sample"):
        assign_as_labeled(ws, "demo", rest.head(3), seed=4)
