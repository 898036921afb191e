"""Stratified sampling: allocations against hand-derived values, inclusion
probabilities, reproducibility, unbiasedness by simulation, oversampling."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from safecal.annotate.errors import InputError
from safecal.annotate.sampling import allocate, draw_sample, flagged_responses
from safecal.annotate.store import Workspace
from tests.annotate.fixtures import populate


def test_proportional_allocation_by_hand():
    # N = 60, 30, 10 (N = 100), n = 10: 6, 3, 1 exactly
    sizes = pd.Series([60, 30, 10], index=["a", "b", "c"])
    assert allocate(sizes, n=10, allocation="proportional").tolist() == [6, 3, 1]
    # n = 7: raw 4.2, 2.1, 0.7 -> floors 4, 2, 0, one left to the largest remainder (c)
    assert allocate(sizes, n=7, allocation="proportional").tolist() == [4, 2, 1]
    # n = 3 with a tiny stratum: raw 1.8, 0.9, 0.3 -> 2, 1, 0; at least one each -> 1, 1, 1
    assert allocate(sizes, n=3, allocation="proportional").tolist() == [1, 1, 1]


def test_equal_allocation_moves_what_a_small_stratum_cannot_take():
    sizes = pd.Series([60, 30, 2], index=["a", "b", "c"])
    out = allocate(sizes, n=30, allocation="equal")
    assert out["c"] == 2 and out.sum() == 30 and abs(out["a"] - out["b"]) <= 1


def test_width_allocation_by_hand():
    # z(0.975) = 1.959964; n0 = z^2 * 0.25 / 0.1^2 = 96.0365
    # N = 100: n = ceil(96.0365 / (1 + 95.0365 / 100)) = ceil(49.24) = 50
    # N = 10000: ceil(96.0365 / 1.0095) = ceil(95.13) = 96; N = 20: ceil(16.69) = 17
    sizes = pd.Series([100, 10000, 20], index=["a", "b", "c"])
    assert allocate(sizes, n=None, allocation="width", width=0.2).tolist() == [50, 96, 17]
    with pytest.raises(InputError, match="--width"):
        allocate(sizes, n=None, allocation="width")


def _ws(tmp_path) -> Workspace:
    return populate(tmp_path / "ws", n_items=30, with_images=False)


def test_draw_is_reproducible_and_records_inclusion_probabilities(tmp_path):
    ws = _ws(tmp_path)  # 30 items x 2 models x 2 languages = 120 responses
    a = draw_sample(ws, n=24, by=("model", "language"), seed=7, sample_id="a")
    b = draw_sample(ws, n=24, by=("model", "language"), seed=7, sample_id="b")
    c = draw_sample(ws, n=24, by=("model", "language"), seed=8, sample_id="c")
    assert a.sample["response_id"].tolist() == b.sample["response_id"].tolist()
    assert a.sample["response_id"].tolist() != c.sample["response_id"].tolist()
    stored = ws.read_sql("SELECT * FROM samples WHERE sample_id = 'a'")
    assert len(stored) == 24 and set(stored["inclusion_prob"]) == {6 / 30}
    # sum of 1/pi over the sample is the population size (Horvitz-Thompson of a count)
    assert (1 / stored["inclusion_prob"]).sum() == pytest.approx(120)
    with pytest.raises(InputError, match="exists already"):
        draw_sample(ws, n=5, seed=1, sample_id="a")
    with pytest.raises(InputError, match="unknown stratum"):
        draw_sample(ws, n=5, by=("colour",))


def test_horvitz_thompson_is_unbiased_with_oversampling(tmp_path):
    """Oversampled flagged responses: the weighted mean over many seeded draws is the
    population value (a property of the recorded inclusion probabilities)."""
    ws = _ws(tmp_path)
    frame = ws.read_sql("SELECT response_id, model FROM responses ORDER BY response_id")
    rng = np.random.default_rng(0)
    y = pd.Series(rng.random(len(frame)) < 0.3, index=frame["response_id"]).astype(float)
    flagged = frame["response_id"].iloc[::4].tolist()  # 30 flagged responses
    with ws.transaction() as con:
        con.execute(
            "INSERT INTO judge_runs (run_id, judge, kind, started_at) VALUES"
            " ('r1', 'j', 'imported', 'now')"
        )
        con.executemany(
            "INSERT INTO verdicts (run_id, response_id, field, label, valid, score)"
            " VALUES ('r1', ?, 'harmfulness', 'unsafe', 1, ?)",
            [(r, 0.55 if r in flagged else 0.95) for r in frame["response_id"]],
        )
    assert flagged_responses(ws, threshold=0.5, margin=0.1) == set(flagged)
    estimates = []
    for seed in range(150):
        s = draw_sample(
            ws, n=20, by=("model",), oversample=4, seed=seed, sample_id=f"o{seed}"
        ).sample
        w = 1 / s["inclusion_prob"]
        estimates.append((w * y[s["response_id"]].to_numpy()).sum() / len(frame))
        if seed == 0:
            pi = s.set_index("response_id")["inclusion_prob"]
            hit = pi[pi.index.isin(flagged)]
            miss = pi[~pi.index.isin(flagged)]
            assert hit.min() > miss.max()  # flagged responses are oversampled
    # 150 draws: the mean is within 4 standard errors of the truth
    se = np.std(estimates) / math.sqrt(len(estimates))
    assert abs(np.mean(estimates) - y.mean()) < 4 * se


def test_oversample_with_nothing_flagged_is_refused(tmp_path):
    """`--oversample` without any judge disagreement or score near the threshold would
    silently draw a plain sample; it is refused with what to do, and no sample is kept."""
    from safecal.annotate.errors import InputError
    from safecal.annotate.sampling import draw_sample
    from tests.annotate.fixtures import populate

    ws = populate(tmp_path / "ws", n_items=4, with_images=False)
    with pytest.raises(InputError, match=r"--oversample 3: no response to sample is flagged"):
        draw_sample(ws, n=4, oversample=3.0, sample_id="s1")
    assert ws.read_sql("SELECT COUNT(*) AS n FROM samples")["n"].iloc[0] == 0
