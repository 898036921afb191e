"""calibrate.monitoring: progress, review queue, a threshold's confusion, metric grids."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score

from safecal.calibrate import judge_metrics
from safecal.calibrate.monitoring import (
    adjudication_queue,
    annotation_progress,
    at_threshold,
    metric_grid,
)
from safecal.calibrate.thresholds import threshold_table


def test_at_threshold_matches_scikit_learn_at_every_cut():
    rng = np.random.default_rng(3)
    y = rng.random(300) < 0.3
    score = np.round(np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1), 2)  # many ties
    table = threshold_table(y, score)
    for t in (0.0, 0.005, 0.2, 0.35, 0.5, 0.71, 0.9999, float(score.max())):
        row = at_threshold(table, t)
        yhat = score >= t
        tn, fp, fn, tp = confusion_matrix(y, yhat, labels=[False, True]).ravel()
        assert (row["tp"], row["fp"], row["tn"], row["fn"]) == (tp, fp, tn, fn), t
        assert row["cohen_kappa"] == pytest.approx(cohen_kappa_score(y, yhat)), t
        assert row["f1"] == pytest.approx(f1_score(y, yhat, zero_division=0)), t
        assert row["fpr"] == pytest.approx(fp / (fp + tn))
        assert row["fnr"] == pytest.approx(fn / (fn + tp))


def test_at_threshold_above_every_score_calls_nothing_positive():
    y = np.array([1, 0, 1, 0, 0])
    table = threshold_table(y, [0.9, 0.2, 0.4, 0.1, 0.3])
    row = at_threshold(table, 0.95)
    # tp = fp = 0: fn = P = 2, tn = N = 3; kappa: p_o = p_e = 3/5 -> 0 (as scikit-learn)
    assert (row["tp"], row["fp"], row["fn"], row["tn"]) == (0, 0, 2, 3)
    assert row["cohen_kappa"] == cohen_kappa_score(y, np.zeros(5)) == 0
    assert row["fpr"] == 0 and row["fnr"] == 1 and row["f1"] == 0


def test_metric_grid_applies_the_function_per_cell():
    t = pd.DataFrame(
        {
            "a": ["x", "x", "x", "x", "y", "y", "y"],
            "b": ["p", "p", "q", "q", "p", "p", "p"],
            "gold": ["pos", "neg", "pos", "pos", "neg", "pos", "neg"],
            "judge": ["pos", "neg", "neg", "pos", "pos", "pos", "neg"],
        }
    )
    grid = metric_grid(
        t,
        judge_metrics,
        rows="a",
        cols="b",
        metric="accuracy",
        gold="gold",
        judge="judge",
        positive="pos",
        labels=["pos", "neg"],
        n_boot=0,
    )
    got = {(r.a, r.b): (r.value, r.n) for r in grid.itertuples()}
    # x/p: 2 of 2 right; x/q: 1 of 2; y/p: 2 of 3; y/q: empty
    assert got[("x", "p")] == (1.0, 2) and got[("x", "q")] == (0.5, 2)
    assert got[("y", "p")][0] == pytest.approx(2 / 3) and got[("y", "p")][1] == 3
    assert math.isnan(got[("y", "q")][0]) and got[("y", "q")][1] == 0


def _seed_labels(ws):
    rids = ws.read_sql(
        "SELECT response_id, item_id FROM responses r JOIN items i "
        "USING (item_id) WHERE i.aspect = 'vulnerability' "
        "ORDER BY response_id LIMIT 4"
    )
    rows = []
    for k, r in enumerate(rids.itertuples()):
        rows.append((r.item_id, r.response_id, "ann_a", "harmfulness", "unsafe", 10.0 + k))
        rows.append(
            (
                r.item_id,
                r.response_id,
                "ann_b",
                "harmfulness",
                "unsafe" if k % 2 else "safe_with_warning",
                30.0,
            )
        )
    with ws.transaction() as con:
        con.executemany(
            "INSERT INTO annotations (item_id, response_id, annotator, field, "
            "label, lead_time) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        # ann_a's queue holds 6 units, 4 of them labeled
        extra = ws.read_sql(
            "SELECT response_id, item_id FROM responses ORDER BY response_id DESC LIMIT 2"
        )
        queue = [*rids.itertuples(), *extra.itertuples()]
        con.executemany(
            "INSERT INTO ls_assignments (sample_id, annotator, task_type, unit_id, item_id, "
            "response_id, role, position) VALUES ('s1', 'ann_a', 'harmfulness', ?, ?, ?, "
            "'regular', ?)",
            [(q.response_id, q.item_id, q.response_id, i) for i, q in enumerate(queue)],
        )
    return rids


def test_annotation_progress_counts_done_remaining_time_and_rate(example_workspace):
    ws = example_workspace
    _seed_labels(ws)
    p = annotation_progress(ws).set_index("annotator")
    a, b = p.loc["ann_a"], p.loc["ann_b"]
    assert (a["done"], a["assigned"], a["remaining"], a["outside_queue"]) == (4, 6, 2, 0)
    assert a["share_done"] == pytest.approx(4 / 6)
    assert a["median_seconds"] == pytest.approx(11.5)  # median of 10, 11, 12, 13
    assert a["rate_per_hour"] == pytest.approx(3600 * 4 / 46)  # 4 labels in 46 s
    assert a["project"] == "imported"
    assert b["done"] == 4 and pd.isna(b["assigned"]) and pd.isna(b["remaining"])
    assert pd.isna(b["outside_queue"])  # no queue: nothing is outside it
    # a label beside the queue counts as done and outside the queue, not as queue progress
    out = ws.read_sql(
        "SELECT response_id, item_id FROM responses ORDER BY response_id DESC LIMIT 3"
    ).iloc[2]
    with ws.transaction() as con:
        con.execute(
            "INSERT INTO annotations (item_id, response_id, annotator, field, label, "
            "lead_time) VALUES (?, ?, 'ann_a', 'harmfulness', 'unsafe', 5.0)",
            (out["item_id"], out["response_id"]),
        )
    a = annotation_progress(ws).set_index("annotator").loc["ann_a"]
    assert (a["done"], a["outside_queue"], a["remaining"]) == (5, 1, 2)


def test_adjudication_queue_lists_pending_units_with_labels(example_workspace):
    from safecal.annotate import build_gold

    ws = example_workspace
    rids = _seed_labels(ws)
    # the majority vote: its 1-1 splits are ties (Dawid-Skene, the default, would weigh
    # the two annotators by the agreement it finds on these four units)
    build_gold(ws, method="majority")
    queue = adjudication_queue(ws)
    # units 0 and 2 split (unsafe vs safe_with_warning), 1 and 3 unanimous
    assert sorted(queue["response_id"]) == sorted(rids["response_id"].iloc[[0, 2]])
    assert set(queue["labels"]) == {"ann_a: unsafe; ann_b: safe_with_warning"}
    assert (queue["n_annotators"] == 2).all() and set(queue["reason"]) == {"tie"}  # 1-1 split
