"""The multi-round design (annotate.rounds): weights by hand, unbiasedness and interval
coverage over adaptive rounds by seeded simulation, and what the workspace loaders read."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from safecal.annotate.next_round import draw_next
from safecal.annotate.rounds import combined_weights, inclusion_probabilities, probability_cap
from safecal.annotate.sampling import draw_sample
from safecal.calibrate.tables import responses_table
from tests.annotate.active_sim import (
    cell_estimates,
    inclusion,
    new_history,
    population,
    run_round,
)
from tests.annotate.test_next_round import _add_gold, _judged


def test_weights_by_hand():
    # two phases of intensity 0.2 and 0.6 in the response's stratum: c = 0.25, 0.75
    m = np.array([[0.2, 0.2], [0.6, 0.6]])
    w = combined_weights(np.array([0, 1]), np.array([0.5, 0.3]), m)
    # first drawn in phase 0 at 0.5: 0.25 / 0.5 + 0.75; in phase 1 at 0.3: 0.75 / 0.3
    assert w == pytest.approx([1.25, 2.5])
    # one phase: Horvitz-Thompson's 1 / pi
    assert combined_weights(np.array([0]), np.array([0.4]), np.array([[0.4]])) == pytest.approx(
        [2.5]
    )
    # the cap keeps w >= 1: phase 1 at its cap 0.6 / 0.8 = 0.75 gives 0.75 / 0.75 = 1
    cap = probability_cap(np.array([0.2]), np.array([0.6]))
    assert cap == pytest.approx([0.75])
    assert combined_weights(np.array([1]), cap, m[:, :1]) == pytest.approx([1.0])


def test_union_formula_when_no_sample_is_a_round(tmp_path):
    ws = _judged(tmp_path)
    draw_sample(ws, n=24, by=(), seed=1, sample_id="a")
    draw_sample(ws, n=24, by=(), seed=2, sample_id="b")
    got = inclusion_probabilities(ws).set_index("response_id")["inclusion_prob"]
    both = ws.read_sql(
        "SELECT response_id, COUNT(*) AS k FROM samples GROUP BY response_id"
    ).set_index("response_id")["k"]
    pi = 24 / 192
    expected = both.map({1: pi, 2: 1 - (1 - pi) ** 2})
    assert got.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy())


def test_the_loaders_read_the_round_weights(tmp_path):
    ws = _judged(tmp_path)
    draw_sample(ws, n=24, by=(), seed=1, sample_id="s0")
    one = draw_next(ws, n=30, seed=1, sample_id="n1", by=("model",))
    _add_gold(ws, one.sample["response_id"], label_of=lambda r, f: "unsafe"
              if f == "harmfulness" else "full_refusal")  # fmt: skip
    two = draw_next(ws, n=30, seed=2, sample_id="n2", by=("model",))
    # by hand: phases s0 (intensity 24 / 192 everywhere), n1, n2 (expected / unlabeled of
    # the response's model); a response of n2 has w = c_2 / pi
    strata = ws.read_sql("SELECT * FROM round_strata")
    rid = two.sample["response_id"].iloc[0]
    model = two.sample["model"].iloc[0]
    m = [24 / 192]
    for sid in ("n1", "n2"):
        row = strata[(strata["sample_id"] == sid) & (strata["stratum"] == model)].iloc[0]
        m.append(row["n_expected"] / row["n_frame"])
    pi = two.sample["inclusion_prob"].iloc[0]
    expected = 1 / ((m[2] / sum(m)) / pi)
    table = responses_table(ws, field="harmfulness")
    table = pd.concat([table, responses_table(ws, field="refusal")]).set_index("response_id")
    assert table.loc[rid, "inclusion_prob"] == pytest.approx(min(1.0, expected))
    probs = table["inclusion_prob"].dropna()
    assert len(probs) == 24 + len(one.sample) + len(two.sample)
    assert ((probs > 0) & (probs <= 1)).all()


def _adaptive_runs(reps: int, rounds: int, n: int):
    for rep in range(reps):
        pop = population(100 + rep, models=2, cells=4, per_cell=100)
        hist = new_history(len(pop.frame))
        rng = np.random.default_rng(rep)
        for r in range(rounds):
            run_round(pop, hist, n=n, method="active", rng=rng)
            yield rep, r, pop, hist


@pytest.mark.slow
def test_horvitz_thompson_is_unbiased_over_adaptive_rounds():
    """The weighted count and total of the labeled responses estimate the population's,
    after each of three adaptive rounds (each round's allocation follows the gold of the
    earlier ones), over 150 seeded repetitions: within 4 standard errors. The union formula
    on the same draws (a response drawn in round 1 keeps its round-1 probability) counts
    the population about three times."""
    est: dict[int, list[tuple[float, float]]] = {0: [], 1: [], 2: []}
    naive: list[float] = []
    for _, r, pop, hist in _adaptive_runs(150, 3, 40):
        pi = inclusion(hist)
        lab = ~np.isnan(pi)
        y = pop.frame["truth"].to_numpy()
        n_pop = len(y)
        est[r].append(((1 / pi[lab]).sum() / n_pop, (y[lab] / pi[lab]).sum() / n_pop - y.mean()))
        if r == 2:  # the union formula over the recorded (conditional) probabilities
            naive.append((1 / hist.prob[lab]).sum() / n_pop)
    for r, values in est.items():
        arr = np.array(values)
        se = arr.std(axis=0, ddof=1) / math.sqrt(len(arr))
        assert abs(arr[:, 0].mean() - 1) < 4 * se[0], (r, arr[:, 0].mean(), se[0])
        assert abs(arr[:, 1].mean()) < 4 * se[1], (r, arr[:, 1].mean(), se[1])
    # what the union formula would say: each round counts the whole population again
    assert np.mean(naive) > 2.5


@pytest.mark.slow
def test_corrected_intervals_keep_their_coverage_over_rounds():
    """PPI++ 90% intervals per cell with the round weights, after each of 4 adaptive rounds
    (5 to 25 labels per cell): coverage not below nominal minus 3 points (1,280 intervals)."""
    covered = []
    for _, _, pop, hist in _adaptive_runs(40, 4, 40):
        est = cell_estimates(pop, hist)
        covered += est.loc[est["n_labeled"] >= 2, "covered"].tolist()
    assert len(covered) > 1000
    assert np.mean(covered) >= 0.87, np.mean(covered)
