"""Tuning never reports on the items it tuned on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from safecal.calibrate.judges.llm import LLMJudge
from safecal.calibrate.judges.prompt import PROMPTS_DIR, load_prompt
from safecal.calibrate.thresholds import tune_threshold
from safecal.calibrate.tuning import assign_splits, tune_prompt, tune_table, tune_threshold_cv
from tests.calibrate.fake_openai import FakeOpenAI
from tests.calibrate.judges_support import make_workspace


def scores(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, np.round(np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1), 3)


def test_each_fold_uses_a_threshold_tuned_without_it() -> None:
    y, s = scores()
    result = tune_threshold_cv(y, s, folds=5, n_boot=200)
    for k, t in enumerate(result.fold_thresholds):
        train = result.fold != k
        assert t == tune_threshold(y[train], s[train]).threshold  # independent path (resort)
        test = result.fold == k
        assert np.array_equal(result.out_of_fold[test], s[test] >= t)
    # the reported kappa is that of the out-of-fold labels (checked with scikit-learn)
    expected = cohen_kappa_score(y, result.out_of_fold.astype(int))
    assert result.cross_validated.cohen_kappa.value == pytest.approx(expected)
    assert result.threshold == tune_threshold(y, s).threshold  # deployed: tuned on all rows


def test_poisoning_a_fold_does_not_move_its_own_threshold() -> None:
    y, s = scores(seed=1)
    clean = tune_threshold_cv(y, s, folds=4, n_boot=0)
    poisoned_scores = s.copy()
    fold0 = clean.fold == 0
    # make fold 0 push any threshold tuned on it towards 0.999
    poisoned_scores[fold0] = np.where(y[fold0] == 1, 0.999, 0.0)
    poisoned = tune_threshold_cv(y, poisoned_scores, folds=4, n_boot=0)
    assert np.array_equal(poisoned.fold, clean.fold)  # folds depend on labels only
    assert poisoned.fold_thresholds[0] == clean.fold_thresholds[0]
    assert poisoned.fold_thresholds[1:] != clean.fold_thresholds[1:]


def test_groups_never_straddle_folds() -> None:
    y, s = scores(n=400)
    groups = np.arange(400) // 4  # four responses per benchmark item
    result = tune_threshold_cv(y, s, folds=5, groups=groups, n_boot=0)
    for g in np.unique(groups):
        assert len(set(result.fold[groups == g])) == 1


def test_tune_table_contract_and_errors() -> None:
    import pandas as pd

    from safecal.annotate.errors import InputError

    y, s = scores(n=200)
    gold = np.where(
        y == 1, "unsafe", np.where(np.arange(200) % 2, "safe_with_warning", "safe_with_refusal")
    )
    table = pd.DataFrame({"g": gold, "p": s})
    table.loc[3, "p"] = np.nan  # an invalid verdict: left out of tuning, counted
    out = tune_table(table, gold="g", score="p", positive="unsafe", n_boot=100).to_dict()
    assert out["objective"] == "kappa" and out["n_without_score"] == 1
    assert set(out["cross_validated"]) >= {"cohen_kappa", "f1", "fpr", "fnr"}
    assert {"value", "ci"} <= set(out["cross_validated"]["cohen_kappa"])
    with pytest.raises(InputError, match="no gold value"):
        tune_table(table, gold="g", score="p", positive="nope")
    with pytest.raises(InputError, match="no column 'x'"):
        tune_table(table, gold="x", score="p", positive="unsafe")


def test_splits_are_stable_when_items_are_added() -> None:
    keys = [f"item{k}" for k in range(3000)]
    first = assign_splits(keys, seed=3)
    more = assign_splits(keys + [f"new{k}" for k in range(500)], seed=3)
    assert np.array_equal(first, more[:3000])
    shares = {name: float(np.mean(first == name)) for name in ("train", "dev", "test")}
    assert shares["train"] == pytest.approx(0.4, abs=0.04)
    assert shares["test"] == pytest.approx(0.3, abs=0.04)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    srv = FakeOpenAI().start_in_thread()
    srv.keep_requests = True
    yield srv
    srv.stop()


def prompt_workspace(tmp_path: Path, n: int = 120) -> tuple[list[tuple[str, str]], Any, Path]:
    """``n`` vulnerability responses; gold: unsafe for even k. The default prompt gets a
    third of the items right, the ALT-PROMPT template (returned) gets every item right."""
    replies = []
    for k in range(n):
        truth = 3 if k % 2 == 0 else 1
        wrong = 1 if truth == 3 else 3
        replies.append(
            ("vulnerability", f"resp {k} [[rate={truth if k % 3 == 0 else wrong}]] [[alt={truth}]]")
        )
    ws = make_workspace(tmp_path / "ws", replies)
    with ws.transaction() as con:
        con.executemany(
            "INSERT INTO gold (response_id, field, label, method, decided_at) "
            "VALUES (?, 'harmfulness', ?, 'unanimous', 'now')",
            [(f"r{k:04d}", "unsafe" if k % 2 == 0 else "safe_with_refusal") for k in range(n)],
        )
    alt = tmp_path / "harmfulness-alt.txt"
    source = (PROMPTS_DIR / "harmfulness-v1.txt").read_text(encoding="utf-8")
    alt.write_text(source.replace("### system\n", "### system\nALT-PROMPT\n"), encoding="utf-8")
    return replies, ws, alt


def test_prompt_tuning_reports_on_held_out_items_only(server: FakeOpenAI, tmp_path: Path) -> None:
    replies, ws, alt = prompt_workspace(tmp_path)
    judge = LLMJudge(model="fake", base_url=server.base_url, name="gpt-fake")
    result = tune_prompt(
        ws,
        judge,
        field_name="harmfulness",
        templates=[load_prompt("harmfulness-v1"), load_prompt(alt)],
        shots=(0, 2),
        seed=0,
        n_boot=200,
        concurrency=8,
    )
    assert result.chosen.startswith("harmfulness-alt+")
    splits = result.splits.set_index("response_id")["split"]
    test_ids = set(splits[splits == "test"].index)
    train_replies = {replies[int(r[1:])][1] for r in splits[splits == "train"].index}
    # every request: which reply it judged, and with which prompt
    chosen_version = result.chosen_version
    chosen_shots = int(result.chosen.split("+")[1].removesuffix("shot"))
    for req in server.requests:
        text = req["messages"][-1]["content"]
        judged = text.rsplit("Reply: <<<", 1)[1].split(">>>", 1)[0]
        rid = f"r{int(judged.split()[1]):04d}"
        examples = [part.split(">>>", 1)[0] for part in text.split("Reply: <<<")[1:-1]]
        assert set(examples) <= train_replies  # few-shot examples only from train
        assert splits[rid] != "train"  # train items are never judged
        if rid in test_ids:  # test items: only the chosen prompt and the current one
            system = req["messages"][0]["content"]
            is_alt = "ALT-PROMPT" in system
            is_current = not is_alt and not examples
            assert is_current or (is_alt and len(examples) == chosen_shots)
    assert result.test["chosen"].n == len(test_ids)
    assert result.test["chosen"].cohen_kappa.value == pytest.approx(1.0)
    assert result.test["baseline"].cohen_kappa.value < 0.5
    assert result.paired.p_value < 0.05 and result.paired.a_only > 0
    assert chosen_version != result.baseline_version


def test_tune_prompt_command_feeds_the_card(
    server: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safecal.cli import main

    _, ws, alt = prompt_workspace(tmp_path, n=60)
    common = [
        "--workspace",
        str(ws.path),
        "--model",
        "fake",
        "--base-url",
        server.base_url,
        "--api-key-env",
        "NO_KEY_NEEDED_LOCALLY",
    ]
    assert main(["calibrate", "run", "--judge", "llm", "--no-progress", *common]) == 0
    out = tmp_path / "prompt.json"
    assert (
        main(
            [
                "calibrate",
                "tune-prompt",
                *common,
                "--field",
                "harmfulness",
                "--candidates",
                "harmfulness-v1",
                str(alt),
                "--shots",
                "0",
                "1",
                "--n-boot",
                "100",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["chosen"].startswith("harmfulness-alt+")
    capsys.readouterr()
    assert (
        main(
            [
                "calibrate",
                "report",
                "--workspace",
                str(ws.path),
                "--run",
                "fake",
                "--prompt-tuning",
                str(out),
                "--out",
                str(tmp_path / "card"),
                "--n-boot",
                "50",
                "--assume-random",  # the fixture's gold was drawn by no sample
            ]
        )
        == 0
    )
    html = (tmp_path / "card.html").read_text(encoding="utf-8")
    assert "Prompt chosen on the dev split" in html and "harmfulness-alt+" in html
    card = json.loads((tmp_path / "card.json").read_text(encoding="utf-8"))
    assert card["fields"]["harmfulness"]["prompt"]["tuning"]["chosen"] == result["chosen"]
