"""A workspace with the example's human labels, a sampled gold set and two judge runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from safecal.annotate import Workspace, response_id
from safecal.annotate.example import ExamplePaths
from tests.workspaces import copy_workspace, read_only

NOW = "2026-01-01T00:00:00"


def _gold_for(labels: pd.Series, truth: str) -> tuple[str, str]:
    counts = labels.value_counts()
    if len(counts) == 1:
        return str(counts.index[0]), "unanimous"
    if counts.iloc[0] > counts.iloc[1]:
        return str(counts.index[0]), "majority"
    return truth, "adjudicated"


@pytest.fixture(scope="session")
def stats_workspace(
    example: ExamplePaths,
    _example_workspace_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Workspace:
    """Read-only. A Poisson sample (inclusion probability 0.5 on RIST/SIST items, 0.25
    elsewhere) of responses carries the example's human labels and a gold label (majority;
    ties adjudicated to the truth); two judge runs: the example's recorded judge (with
    scores and a few invalid answers) and a 'strict' judge that calls positive only at
    score >= 0.8."""
    target = tmp_path_factory.mktemp("stats-ws") / "ws"
    ws = copy_workspace(_example_workspace_template, target)
    key = ["item_id", "model", "language"]
    items = ws.read_sql("SELECT item_id, modality FROM items")
    truth = pd.read_csv(example.truth, dtype=str)
    truth["response_id"] = [response_id(*k) for k in truth[key].itertuples(index=False)]
    truth = truth.merge(items, on="item_id")
    rng = np.random.default_rng(5)
    truth["pi"] = np.where(truth["modality"].isin(["RIST", "SIST"]), 0.5, 0.25)
    sampled = truth[rng.random(len(truth)) < truth["pi"]]
    humans = pd.read_csv(example.human_labels, dtype=str)
    humans["response_id"] = [response_id(*k) for k in humans[key].itertuples(index=False)]
    humans = humans[humans["response_id"].isin(sampled["response_id"])]
    verdicts = pd.read_csv(example.judge_verdicts, dtype=str, keep_default_na=False)
    verdicts["response_id"] = [response_id(*k) for k in verdicts[key].itertuples(index=False)]
    with ws.transaction() as con:
        con.executemany(
            "INSERT INTO samples (sample_id, response_id, stratum, inclusion_prob, role, seed,"
            " created_at) VALUES ('s1', ?, ?, ?, 'regular', 5, ?)",
            [(r.response_id, r.modality, float(r.pi), NOW) for r in sampled.itertuples()],
        )
        con.executemany(
            "INSERT INTO annotations (response_id, item_id, annotator, field, label)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (h.response_id, h.item_id, h.annotator, h.field, h.label)
                for h in humans.itertuples()
            ],
        )
        by_response = humans.groupby("response_id")["label"]
        t = sampled.set_index("response_id")
        for rid, labels in by_response:
            label, method = _gold_for(labels, t.loc[rid, "label"])
            con.execute(
                "INSERT INTO gold (response_id, field, label, method, decided_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (rid, t.loc[rid, "field"], label, method, NOW),
            )
        con.execute(
            "INSERT INTO judge_runs (run_id, judge, kind, started_at) VALUES"
            " ('run-vlm', 'example-vlm-judge', 'imported', '2026-01-01')"
        )
        con.execute(
            "INSERT INTO judge_runs (run_id, judge, kind, started_at) VALUES"
            " ('run-strict', 'strict', 'imported', '2026-01-02')"
        )
        for v in verdicts.itertuples():
            valid = v.label != ""
            score = float(v.score) if v.score else None
            con.execute(
                "INSERT INTO verdicts (run_id, response_id, field, label, valid, score, raw)"
                " VALUES ('run-vlm', ?, ?, ?, ?, ?, ?)",
                (v.response_id, v.field, v.label if valid else None, int(valid), score, v.raw),
            )
            if valid:
                pos = score >= 0.8
                strict = {
                    "harmfulness": ("unsafe", "safe_with_warning"),
                    "refusal": ("full_refusal", "full_compliance"),
                }[v.field][0 if pos else 1]
                con.execute(
                    "INSERT INTO verdicts (run_id, response_id, field, label, valid, score)"
                    " VALUES ('run-strict', ?, ?, ?, 1, ?)",
                    (v.response_id, v.field, strict, score),
                )
    return read_only(ws)
