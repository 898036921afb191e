"""A judge's score is its P(positive): values that are not probabilities are refused,
by the function and through the command line (message, exit 2, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from safecal.annotate import InputError
from safecal.calibrate import judge_metrics

REPO = Path(__file__).resolve().parents[2]


def _table(scores: list[object]) -> pd.DataFrame:
    n = len(scores)
    gold = ["unsafe" if i % 2 else "safe_with_refusal" for i in range(n)]
    return pd.DataFrame(
        {"response_id": [f"r{i}" for i in range(n)], "gold": gold, "judge": gold, "score": scores}
    )


@pytest.mark.parametrize("bad", ["abc", np.inf, -3, 2.5, "-inf", "nan-ish"])
def test_non_probability_scores_are_refused(bad):
    scores: list[object] = [0.1, 0.9, 0.2, 0.8, bad, 0.7]
    with pytest.raises(InputError, match=r"not probabilities in \[0, 1\].*response 'r4'"):
        judge_metrics(_table(scores), positive="unsafe", score="score", n_boot=0)


def test_empty_scores_are_missing_not_refused():
    # 0.1/0.2 on the negatives, 0.9/0.7 on the positives: perfectly ranked, AUROC 1
    t = _table([0.1, 0.9, 0.2, None, "", 0.7])
    r = judge_metrics(t, positive="unsafe", score="score", n_boot=0)
    assert r.auroc is not None and r.auroc.value == pytest.approx(1.0)


def test_cli_refuses_garbage_scores(tmp_path):
    f = tmp_path / "t.csv"
    _table([0.1, 0.9, "abc", 0.8, float("inf"), -3]).to_csv(f, index=False)
    done = subprocess.run(
        [sys.executable, "-m", "safecal", "calibrate", "judge", "--table", str(f),
         "--judge", "judge", "--positive", "unsafe", "--score", "score"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: score column 'score': 3 value(s)"), done.stderr
    assert "'abc'" in done.stderr and "Traceback" not in done.stderr
    assert "auroc" not in done.stdout.lower()
