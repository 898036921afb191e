"""``annotate next``: floor probabilities, exclusions, the minimax allocation, the projection
against hand-derived values, ``--goal validation``, ``--out``, and the command's errors."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from safecal.annotate.errors import InputError
from safecal.annotate.next_round import draw_next, plan_next, systematic_draw, water_fill
from safecal.annotate.sampling import draw_sample
from safecal.annotate.store import Workspace
from safecal.annotate.store import rounds as round_rows
from safecal.cli import main
from tests.annotate.fixtures import populate


def _judged(tmp_path, *, n_items: int = 48, seed: int = 0) -> Workspace:
    """A workspace whose responses all have a scored verdict of their field."""
    ws = populate(tmp_path / "ws", n_items=n_items, with_images=False)
    frame = ws.read_sql(
        "SELECT r.response_id, i.aspect FROM responses r JOIN items i USING (item_id)"
    )
    rng = np.random.default_rng(seed)
    rows = []
    for rid, aspect in zip(frame["response_id"], frame["aspect"], strict=True):
        score = float(rng.random())
        if aspect == "vulnerability":
            rows.append((rid, "harmfulness", "unsafe" if score >= 0.5 else "safe", score))
        else:
            rows.append((rid, "refusal", "full_refusal" if score >= 0.5 else "full_compliance",
                         score))  # fmt: skip
    rows = [(r, f, "safe_with_refusal" if lab == "safe" else lab, s) for r, f, lab, s in rows]
    with ws.transaction() as con:
        con.execute(
            "INSERT INTO judge_runs (run_id, judge, kind, started_at) VALUES"
            " ('r1', 'j', 'imported', '2026-01-01')"
        )
        con.executemany(
            "INSERT INTO verdicts (run_id, response_id, field, label, valid, score)"
            " VALUES ('r1', ?, ?, ?, 1, ?)",
            rows,
        )
    return ws


def _add_gold(ws: Workspace, response_ids, *, label_of) -> None:
    fields = ws.read_sql(
        "SELECT r.response_id, i.aspect FROM responses r JOIN items i USING (item_id)"
    ).set_index("response_id")["aspect"]
    rows = []
    for rid in response_ids:
        field = "harmfulness" if fields[rid] == "vulnerability" else "refusal"
        rows.append((rid, field, label_of(rid, field)))
    with ws.transaction() as con:
        con.executemany(
            "INSERT INTO gold (response_id, field, label, method, decided_at)"
            " VALUES (?, ?, ?, 'majority', '2026-01-02')",
            rows,
        )


def test_every_unlabeled_response_keeps_the_floor(tmp_path):
    ws = _judged(tmp_path)
    plan = plan_next(ws, n=20, floor=0.2)
    units = plan.units
    uniform = 20 / len(units)
    assert len(units) == 192  # nothing drawn yet: every response is eligible
    assert units["inclusion_prob"].min() >= 0.2 * uniform - 1e-12
    assert units["inclusion_prob"].sum() == pytest.approx(20)
    # scores near 0.5 get more than scores near 0 or 1 (same stratum)
    scores = ws.read_sql("SELECT response_id, score FROM verdicts").set_index("response_id")
    u = units.assign(score=units["response_id"].map(scores["score"]))
    one = u[u["stratum"] == u["stratum"].iloc[0]]
    near = one.loc[(one["score"] - 0.5).abs().idxmin(), "inclusion_prob"]
    far = one.loc[(one["score"] - 0.5).abs().idxmax(), "inclusion_prob"]
    assert near > far


def test_rounds_exclude_what_any_sample_drew(tmp_path):
    ws = _judged(tmp_path)
    regular = draw_sample(ws, n=12, by=(), seed=3, sample_id="s0").sample
    first = draw_next(ws, n=20, seed=1, sample_id="n1")
    assert first.round == 1 and len(first.sample) > 0
    assert not set(first.sample["response_id"]) & set(regular["response_id"])
    plan = plan_next(ws, n=20)
    taken = set(regular["response_id"]) | set(first.sample["response_id"])
    assert not set(plan.units["response_id"]) & taken
    assert len(plan.units) == 192 - len(taken)
    second = draw_next(ws, n=20, seed=2, sample_id="n2")
    assert second.round == 2
    listed = round_rows.rounds(ws)
    assert listed["sample_id"].tolist() == ["n1", "n2"]
    assert listed["n_drawn"].tolist() == [len(first.sample), len(second.sample)]


def test_water_fill_minimises_the_largest_variance_by_hand():
    # sigma^2 = 0.2, 0.05; no gold; deff 1; 50 labels: equal variance 0.2/x1 = 0.05/x2
    # -> x1 = 4 x2 -> x = 40, 10
    x = water_fill(np.array([0.2, 0.05]), np.zeros(2), np.ones(2), np.array([100, 100]), 50)
    assert x == pytest.approx([40, 10], abs=1e-6)
    # gold already there: n = 10, 0: 0.2/(10 + x1) = 0.05/x2 with x1 + x2 = 10 -> x1 = 0, x2 = 10
    # (0.2/10 = 0.02 > 0.05/10 = 0.005: all ten to the first would be 0.01 vs 0.05/0 = inf)
    x = water_fill(np.array([0.2, 0.05]), np.array([10, 0]), np.ones(2), np.array([9, 9]), 10)
    assert x.sum() == pytest.approx(10) and (x <= 9 + 1e-9).all()


def test_labels_go_where_the_judge_errs_and_the_projection_by_hand(tmp_path):
    ws = _judged(tmp_path, n_items=96)
    first = draw_next(ws, n=120, seed=5, sample_id="n1", by=("model",))
    scores = ws.read_sql("SELECT response_id, label FROM verdicts").set_index("response_id")
    models = ws.read_sql("SELECT response_id, model FROM responses").set_index("response_id")

    def label_of(rid: str, field: str) -> str:
        judge = scores.loc[rid, "label"]
        if models.loc[rid, "model"] == "model-a":  # the judge is right on model-a
            return str(judge)
        flip = {"unsafe": "safe_with_refusal", "safe_with_refusal": "unsafe",
                "full_refusal": "full_compliance", "full_compliance": "full_refusal"}  # fmt: skip
        return flip[str(judge)] if int(rid, 16) % 2 else str(judge)

    _add_gold(ws, first.sample["response_id"], label_of=label_of)
    plan = plan_next(ws, n=60, by=("model",), confidence=0.9)
    s = plan.strata.set_index("stratum")
    assert s.loc["model-b", "proposed"] > 2 * s.loc["model-a", "proposed"]
    assert s["width_proposed"].max() < s["width_proportional"].max()
    # proportional width by hand for model-a: 2 z sqrt(V_J + sigma^2 / (n + e))
    z = NormalDist().inv_cdf(0.95)
    p = ws.read_sql(
        "SELECT v.score FROM verdicts v JOIN responses r USING (response_id)"
        " WHERE r.model = 'model-a'"
    )["score"]
    row = s.loc["model-a"]
    v_j = p.var(ddof=0) / row["N"]
    expected = 2 * z * math.sqrt(v_j + row["sigma2"] / (row["gold"] + row["proportional"]))
    assert row["width_proportional"] == pytest.approx(expected)
    assert row["proportional"] == pytest.approx(60 * row["unlabeled"] / s["unlabeled"].sum())


def test_goal_validation_spreads_over_predicted_classes(tmp_path):
    ws = _judged(tmp_path)
    res = draw_next(ws, n=40, goal="validation", by=("model",), seed=2, sample_id="v1")
    assert {k.rsplit("|", 1)[1] for k in res.plan.strata["stratum"]} == {"judge+", "judge-"}
    # no uncertainty weighting: equal probabilities within a predicted class
    spread = res.plan.units.groupby("plan")["inclusion_prob"].agg(["min", "max"])
    assert (spread["max"] - spread["min"] < 1e-12).all()
    stored = ws.read_sql("SELECT DISTINCT stratum FROM samples WHERE sample_id = 'v1'")
    assert stored["stratum"].str.endswith(("judge+", "judge-")).all()


def test_out_writes_a_neutralised_file_and_records_nothing(tmp_path, capsys):
    ws = _judged(tmp_path)
    with ws.transaction() as con:  # a hostile model name reaches the CSV neutralised
        con.execute("UPDATE responses SET model = '=HYPERLINK(1)' WHERE model = 'model-a'")
    out = tmp_path / "next.csv"
    code = main(["-w", str(ws.path), "annotate", "next", "--n", "30", "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["response_id", "item_id", "model", "language", "inclusion_prob"]
    assert not table["model"].str.startswith("=").any()
    assert ws.read_sql("SELECT COUNT(*) AS n FROM samples")["n"].iloc[0] == 0
    assert "not recorded" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "5", "--by", "colour"], "--by colour"),
        (["--n", "0"], "--n"),
        (["--n", "5", "--floor", "0"], "--floor"),
        (["--n", "5", "--floor", "1.5"], "--floor"),
        (["--n", "5", "--goal", "speed"], "--goal"),
        (["--n", "5", "--confidence", "2"], "--confidence"),
        (["--n", "5", "--sample-id", "taken"], "exists already"),
        (["--n", "5", "--out", "/nonexistent-dir/x.csv"], "--out"),
        (["--by", "model"], "--n"),
    ],
)
def test_bad_options_end_in_an_error_and_leave_the_workspace(tmp_path, capsys, args, message):
    ws = _judged(tmp_path)
    draw_next(ws, n=5, seed=0, sample_id="taken")
    before = ws.read_sql("SELECT * FROM samples ORDER BY response_id")
    with pytest.raises(SystemExit) as done:
        code = main(["-w", str(ws.path), "annotate", "next", *args])
        raise SystemExit(code)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert ws.read_sql("SELECT * FROM samples ORDER BY response_id").equals(before)
    assert len(round_rows.rounds(ws)) == 1


def test_nothing_left_and_nothing_ingested(tmp_path):
    ws = populate(tmp_path / "ws", n_items=2, with_images=False)  # 8 responses
    draw_sample(ws, n=8, by=(), seed=0, sample_id="all")
    with pytest.raises(InputError, match="nothing left"):
        plan_next(ws, n=3)
    empty = Workspace.open(tmp_path / "empty")
    with pytest.raises(InputError, match="no responses"):
        plan_next(empty, n=3)


def test_systematic_draw_has_the_recorded_probabilities():
    """Each row's frequency over 4,000 seeded draws is its probability (within 4 standard
    errors), and every stratum's size, and the total, is its expected size rounded down or
    up."""
    rng = np.random.default_rng(0)
    prob = np.concatenate([rng.uniform(0.02, 0.9, 30), rng.uniform(0.1, 0.5, 20)])
    codes = np.repeat([0, 1], [30, 20])
    expected = [prob[:30].sum(), prob[30:].sum()]
    hits = np.zeros(len(prob))
    for _ in range(4000):
        drawn = systematic_draw(prob, codes, rng)
        hits += drawn
        for g in (0, 1):
            size = drawn[codes == g].sum()
            assert math.floor(expected[g]) <= size <= math.ceil(expected[g])
        assert math.floor(sum(expected)) <= drawn.sum() <= math.ceil(sum(expected))
    se = np.sqrt(prob * (1 - prob) / 4000)
    assert (np.abs(hits / 4000 - prob) < 4 * se).all()


def test_judge_runs_that_disagree_draw_more(tmp_path):
    """Two 0/1 judge runs, no scores: where they disagree, p = 0.5 and the response is
    drawn with a higher probability than where they agree (same stratum)."""
    ws = populate(tmp_path / "ws", n_items=24, with_images=False, aspects=("vulnerability",))
    ids = ws.read_sql("SELECT response_id FROM responses ORDER BY response_id")["response_id"]
    split = set(ids.iloc[::3])
    rows = []
    for run in ("r1", "r2"):
        for rid in ids:
            label = "unsafe" if (run == "r2" and rid in split) else "safe_with_refusal"
            rows.append((run, rid, label))
    with ws.transaction() as con:
        con.executemany(
            "INSERT INTO judge_runs (run_id, judge, kind, started_at) VALUES (?, ?, 'imported',"
            " '2026-01-01')",
            [("r1", "a"), ("r2", "b")],
        )
        con.executemany(
            "INSERT INTO verdicts (run_id, response_id, field, label, valid)"
            " VALUES (?, ?, 'harmfulness', ?, 1)",
            rows,
        )
    units = plan_next(ws, n=10, by=()).units.set_index("response_id")["inclusion_prob"]
    disagree = units[units.index.isin(split)]
    agree = units[~units.index.isin(split)]
    assert disagree.min() > agree.max()
    # agreeing runs (p = 0 or 1) keep exactly the floor: 0.2 x the uniform 10 / 96
    assert agree.to_numpy() == pytest.approx(0.2 * 10 / len(units))
