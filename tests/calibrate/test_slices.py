"""Per-slice wrapper and the benchmark's 12 cells with both totals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from safecal.calibrate import (
    MEAN_OF_CELLS,
    POOLED,
    benchmark_cells,
    by_slice,
    corrected_rate,
    judge_metrics,
    unanimity,
)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 2400
    l1 = rng.choice(["Public Safety", "Ethical Safety", "Fundamental"], n)
    mod = rng.choice(["RIRT", "RIST", "SIRT", "SIST"], n)
    p = np.where(np.isin(mod, ["RIST", "SIST"]), 0.7, 0.4)
    y = rng.random(n) < p
    yhat = np.where(rng.random(n) < 0.85, y, ~y)
    gold = np.where(y, "unsafe", "safe_with_warning").astype(object)
    gold[rng.random(n) < 0.7] = None
    return pd.DataFrame(
        {
            "model": rng.choice(["a", "b"], n),
            "level1_category": l1,
            "modality": mod,
            "gold": gold,
            "judge": np.where(yhat, "unsafe", "safe_with_refusal"),
        }
    )


def test_by_slice_equals_the_function_on_each_subset(table: pd.DataFrame) -> None:
    got = by_slice(judge_metrics, table, by="modality", positive="unsafe", n_boot=0)
    assert list(got) == ["RIRT", "RIST", "SIRT", "SIST"]
    sub = table[table["modality"] == "RIST"]
    assert got["RIST"] == judge_metrics(sub, positive="unsafe", n_boot=0)
    with_missing = table.assign(lang=[None] * 10 + ["en"] * (len(table) - 10))
    assert set(by_slice(corrected_rate, with_missing, by="lang", positive="unsafe")) == {
        "(missing)",
        "en",
    }


def test_benchmark_cells(table: pd.DataFrame) -> None:
    cells = benchmark_cells(table, positive="unsafe")
    assert len(cells) == 2 * 14
    for model, rows in cells.groupby("model"):
        body = rows[~rows["cell"].isin([POOLED, MEAN_OF_CELLS])]
        assert len(body) == 12
        pooled = rows[rows["cell"] == POOLED].iloc[0]
        mean = rows[rows["cell"] == MEAN_OF_CELLS].iloc[0]
        whole = corrected_rate(table[table["model"] == model], positive="unsafe")
        assert pooled["corrected"] == pytest.approx(whole.corrected.value)
        assert pooled["n_labeled"] == whole.n_labeled
        # the mean of cells by hand: per cell q PPV + (1 - q) FOR with its own labels
        # (every cell here has gold on both verdict sides, so nothing is borrowed)
        mine = table[table["model"] == model]
        by_hand = []
        for _, cell in mine.groupby(["level1_category", "modality"]):
            says = cell["judge"] == "unsafe"
            lab = cell["gold"].notna()
            gold = cell["gold"] == "unsafe"
            ppv, fo = gold[says & lab].mean(), gold[~says & lab].mean()
            by_hand.append(says.mean() * ppv + (1 - says.mean()) * fo)
        assert mean["corrected"] == pytest.approx(np.mean(by_hand))
        assert mean["method"] == "ppi-by-verdict-stratified" and mean["pool_weight"] == 0
        assert (body["kind"] == "cell").all() and pooled["kind"] == mean["kind"] == "total"
        assert mean["judge_rate"] == pytest.approx(body["judge_rate"].mean())
        assert mean["corrected_low"] < mean["corrected"] < mean["corrected_high"]
        one = body[body["cell"] == "Fundamental x SIST"].iloc[0]
        sub = table[
            (table["model"] == model)
            & (table["level1_category"] == "Fundamental")
            & (table["modality"] == "SIST")
        ]
        # the cell's judge error is pooled with the model's other cells, but with 20-40
        # gold labels its own labels dominate (the pool counts for at most 10 labels)
        own = corrected_rate(sub, positive="unsafe").corrected
        assert own.ci[0] <= one["corrected"] <= own.ci[1]
        assert one["corrected"] == pytest.approx(own.value, abs=0.05)
        assert one["n_labeled"] >= 20 and not one["borrowed"] and one["pool_weight"] < 0.5


def test_mean_of_cells_differs_from_pooled_when_cells_are_unequal() -> None:
    # cell A: 90 responses all judged and gold unsafe; cell B: 10, none unsafe.
    # pooled = 90/100 = 0.9, mean of cells = (1 + 0) / 2 = 0.5: each cell's own labels
    # (cell B's 0 of 10 is not shrunk toward the pool), with an interval around it
    t = pd.DataFrame(
        {
            "model": "m",
            "level1_category": ["X"] * 100,
            "modality": ["RIRT"] * 90 + ["SIST"] * 10,
            "gold": ["unsafe"] * 90 + ["safe_with_warning"] * 10,
            "judge": ["unsafe"] * 90 + ["safe_with_warning"] * 10,
        }
    )
    cells = benchmark_cells(t, positive="unsafe").set_index("cell")
    assert cells.loc[POOLED, "corrected"] == pytest.approx(0.9)
    mean = cells.loc[MEAN_OF_CELLS]
    assert mean["corrected"] == pytest.approx(0.5)
    assert mean["corrected_low"] < 0.5 < mean["corrected_high"]
    assert mean["corrected_high"] - mean["corrected_low"] > 0.05  # cell B: 10 labels


def test_unanimity() -> None:
    t = pd.DataFrame(
        {"a": ["x", "x", None, None], "b": ["x", "y", "x", None], "c": ["x", None, None, None]}
    )
    assert unanimity(t, ["a", "b", "c"]).tolist() == ["unanimous", "split", "single", pd.NA]
