"""Workspace loaders: plain tables with the slice columns joined."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from safecal.annotate import InputError, Workspace
from safecal.annotate.example.generate import ANNOTATORS
from safecal.calibrate import agreement, corrected_rate, judge_metrics
from safecal.calibrate.tables import (
    INVALID,
    SLICE_COLUMNS,
    annotations_table,
    judge_table,
    resolve_runs,
    responses_table,
)
from tests.workspaces import copy_workspace


def test_annotations_table_is_the_long_exchange_table(stats_workspace: Workspace) -> None:
    t = annotations_table(stats_workspace, field="harmfulness")
    assert {"unit", "rater", "label", *SLICE_COLUMNS} <= set(t.columns)
    assert set(t["aspect"]) == {"vulnerability"}
    assert set(t["rater"]) == set(ANNOTATORS)
    r = agreement(t, n_boot=50)
    assert r.n_raters == 3 and 0 < r.krippendorff_alpha.value < 1
    assert list(r.prevalence) == ["unsafe", "safe_with_warning", "safe_with_refusal"]


def test_responses_table_has_gold_unanimity_and_weights(stats_workspace: Workspace) -> None:
    t = responses_table(stats_workspace, field="refusal")
    assert set(t["aspect"]) == {"overrefusal"}
    labeled = t[t["gold"].notna()]
    assert len(labeled) > 20 and labeled["inclusion_prob"].notna().all()
    assert set(labeled["inclusion_prob"]) == {0.25, 0.5}
    assert set(labeled["unanimity"]) <= {"unanimous", "split", "single"}
    assert t.loc[t["gold"].isna(), "unanimity"].isna().all()


def test_judge_table_marks_invalid_and_unjudged(stats_workspace: Workspace) -> None:
    t, names = judge_table(stats_workspace, field="harmfulness")
    assert names == ["example-vlm-judge", "strict"]
    assert (t["example-vlm-judge"] == INVALID).sum() > 0
    # the strict judge has no verdict where the recorded judge was invalid
    assert t.loc[t["example-vlm-judge"] == INVALID, "strict"].isna().all()
    r = judge_metrics(
        t[t["example-vlm-judge"].notna()],
        judge="example-vlm-judge",
        positive="unsafe",
        score="score:example-vlm-judge",
        n_boot=0,
    )
    assert r.n_invalid == ((t["example-vlm-judge"] == INVALID) & t["gold"].notna()).sum()
    assert 0.5 < r.auroc.value <= 1
    one, names = judge_table(stats_workspace, field="harmfulness", runs=["run-strict"])
    assert names == ["strict"] and "example-vlm-judge" not in one.columns


def test_judge_table_is_each_runs_verdicts_merged_on_response_id(
    stats_workspace: Workspace,
) -> None:
    """The one-query read (responses, items, gold and every run's verdicts joined in the
    store) gives what reading each run's verdicts and merging them on response_id gives."""
    from safecal.annotate.store import judging

    t, names = judge_table(stats_workspace, field="harmfulness")
    base = responses_table(stats_workspace, field="harmfulness")
    pd.testing.assert_frame_equal(t[list(base.columns)], base)
    assert t["response_id"].is_monotonic_increasing and len(t) == t["response_id"].nunique()
    for name, run_id in resolve_runs(stats_workspace, None, field="harmfulness").items():
        v = judging.run_verdicts(stats_workspace, run_id=run_id, field="harmfulness")
        merged = base[["response_id"]].merge(v, on="response_id", how="left")
        judged = merged["valid"].notna().to_numpy()
        expected = np.where(merged["valid"] == 1, merged["label"], INVALID)
        assert t[name].isna().to_numpy().tolist() == (~judged).tolist()
        assert (t[name].to_numpy()[judged] == expected[judged]).all()
        got_score = pd.to_numeric(t[f"score:{name}"]).to_numpy(float)
        assert np.allclose(got_score, pd.to_numeric(merged["score"]), equal_nan=True)


def test_unknown_run_is_named(stats_workspace: Workspace) -> None:
    with pytest.raises(InputError, match="no judge run or judge named 'gpt-9'"):
        judge_table(stats_workspace, field="harmfulness", runs=["gpt-9"])


def test_corrected_rate_on_the_workspace(stats_workspace: Workspace, example) -> None:
    """End to end on the example: the estimand is the rate of gold labels over all
    responses; the example has human labels for every response, so the fixture's gold rule
    (majority of the humans, ties to the truth) gives it exactly. The weighted PPI++
    interval covers it (a single seeded draw; coverage itself is checked by simulation in
    test_ppi.py), and ignoring the sample's unequal inclusion probabilities moves the
    estimate."""
    from tests.calibrate.conftest import _gold_for

    t, _ = judge_table(stats_workspace, field="harmfulness", runs=["example-vlm-judge"])
    kw = dict(judge="example-vlm-judge", positive="unsafe")
    r = corrected_rate(t, weight="inclusion_prob", **kw)
    assert r.weighted and r.n_labeled + r.n_unlabeled + r.n_invalid == len(t)
    humans = pd.read_csv(example.human_labels)
    truth = pd.read_csv(example.truth)
    humans = humans[humans["field"] == "harmfulness"]
    key = ["item_id", "model", "language"]
    merged = humans.merge(truth[key + ["label"]].rename(columns={"label": "truth"}), on=key)
    gold_all = [_gold_for(g["label"], g["truth"].iloc[0])[0] for _, g in merged.groupby(key)]
    population = sum(x == "unsafe" for x in gold_all) / len(gold_all)
    assert r.corrected.ci[0] <= population <= r.corrected.ci[1]
    assert corrected_rate(t, **kw).corrected.value != pytest.approx(r.corrected.value)


def test_estimate_table_sets_aside_gold_without_a_sample(
    stats_workspace: Workspace, tmp_path
) -> None:
    from safecal.calibrate.tables import estimate_table

    ws = copy_workspace(stats_workspace.path, tmp_path / "ws")
    before = estimate_table(ws, field="harmfulness", run="example-vlm-judge")
    assert before.weight == "inclusion_prob" and before.notes == []
    unsampled = before.table.loc[before.table["gold"].isna(), "response_id"].iloc[:3].tolist()
    with ws.transaction() as con:
        con.executemany(
            "INSERT INTO gold (response_id, field, label, method, decided_at) "
            "VALUES (?, 'harmfulness', 'unsafe', 'honeypot', 'now')",
            [(r,) for r in unsampled],
        )
    after = estimate_table(ws, field="harmfulness", run="example-vlm-judge")
    assert "3 gold labels come from no sample" in after.notes[0]
    assert after.table["gold"].notna().sum() == before.table["gold"].notna().sum()
    # with no sample at all, the gold is set aside unless declared a random sample
    with ws.transaction() as con:
        con.execute("DELETE FROM samples")
    n_gold = after.table["gold"].notna().sum() + 3
    bare = estimate_table(ws, field="harmfulness", run="example-vlm-judge")
    assert bare.table["gold"].notna().sum() == 0
    assert f"{n_gold} gold labels come from no sample" in bare.notes[0]
    declared = estimate_table(ws, field="harmfulness", run="example-vlm-judge", assume_random=True)
    assert declared.weight is None and declared.table["gold"].notna().sum() == n_gold
    assert "simple random sample" in declared.notes[0] and "unweighted" in declared.notes[0]
    with pytest.raises(InputError, match="choose one with --run"):
        estimate_table(ws, field="harmfulness")
