"""The judge card on the bundled example, the tune command, and hostile text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from safecal.annotate.example import ExamplePaths
from safecal.annotate.store import Workspace
from safecal.calibrate.judging import import_verdicts, run_keyword_judge, write_judge_card
from safecal.cli import main

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def add_gold(ws: Workspace, example: ExamplePaths, *, share: float = 0.7, seed: int = 0) -> None:
    """Gold labels (the example's truth) for a random share of responses, and the
    simulated annotators' labels for the same responses."""
    responses = ws.read_sql("SELECT response_id, item_id, model, language FROM responses")
    keys = ["item_id", "model", "language"]
    truth = pd.read_csv(example.truth, dtype=str).merge(responses, on=keys)
    rng = np.random.default_rng(seed)
    truth = truth[rng.random(len(truth)) < share]
    humans = pd.read_csv(example.human_labels, dtype=str).merge(responses, on=keys)
    humans = humans[humans["response_id"].isin(truth["response_id"])]
    with ws.transaction() as con:
        con.executemany(
            "INSERT INTO gold (response_id, field, label, method, decided_at) "
            "VALUES (?, ?, ?, 'imported', 'now')",
            truth[["response_id", "field", "label"]].itertuples(index=False, name=None),
        )
        con.executemany(
            "INSERT INTO annotations (response_id, item_id, annotator, field, label) "
            "VALUES (?, ?, ?, ?, ?)",
            humans[["response_id", "item_id", "annotator", "field", "label"]].itertuples(
                index=False, name=None
            ),
        )


@pytest.fixture
def judged(example_workspace: Workspace, example: ExamplePaths) -> Workspace:
    ws = example_workspace
    add_gold(ws, example)
    run_keyword_judge(ws)
    import_verdicts(ws, example.judge_verdicts, score="score")
    return ws


def test_card_figures_match_an_independent_computation(judged: Workspace, tmp_path: Path) -> None:
    html_path, json_path = write_judge_card(
        judged, "example-vlm-judge", tmp_path / "card", n_boot=200, assume_random=True
    )
    card = json.loads(json_path.read_text(encoding="utf-8"))
    h = card["fields"]["harmfulness"]
    # independent: binary kappa with scikit-learn over gold rows with a valid verdict
    rows = judged.read_sql(
        "SELECT g.label AS gold, v.label AS judge FROM gold g JOIN verdicts v USING "
        "(response_id) JOIN judge_runs j USING (run_id) WHERE j.judge = 'example-vlm-judge' "
        "AND g.field = 'harmfulness' AND v.valid = 1"
    )
    kappa = cohen_kappa_score(rows["gold"] == "unsafe", rows["judge"] == "unsafe")
    assert h["metrics"]["cohen_kappa"]["value"] == pytest.approx(kappa)
    assert h["metrics"]["n"] == len(rows)
    lo, hi = h["metrics"]["cohen_kappa"]["ci"]
    assert lo < kappa < hi
    invalid = judged.read_sql(
        "SELECT count(*) AS n FROM verdicts v JOIN judge_runs j USING (run_id) "
        "WHERE j.judge = 'example-vlm-judge' AND v.field = 'harmfulness' AND v.valid = 0"
    )
    assert h["invalid"]["n"] == invalid["n"].iloc[0] > 0
    assert h["threshold"]["objective"] == "kappa" and 0 <= h["threshold"]["threshold"] <= 1
    assert "cohen_kappa" in h["threshold"]["cross_validated"]
    # slices worst first, unanimity present
    accs = [r["accuracy"]["value"] for r in h["slices"]["modality"]]
    assert accs == sorted(accs)
    assert {r["value"] for r in h["by_unanimity"]} <= {"unanimous", "split", "single"}
    assert set(card["fields"]) == {"harmfulness", "refusal"}

    html = html_path.read_text(encoding="utf-8")
    for needle in (
        "Agreement with the human gold labels",
        "Reliability",
        "ROC",
        "Precision-recall",
        "Accuracy by level-1 category x modality",
        "Accuracy by human unanimity",
        "Cost and latency",
        "<svg",
    ):
        assert needle in html, needle
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)  # nothing external
    assert "<script" not in html.lower()


def test_keyword_card_has_no_threshold(judged: Workspace, tmp_path: Path) -> None:
    _, json_path = write_judge_card(
        judged, "keyword", tmp_path / "kw", n_boot=100, assume_random=True
    )
    card = json.loads(json_path.read_text(encoding="utf-8"))
    assert "threshold" not in card["fields"]["harmfulness"]
    assert card["fields"]["refusal"]["metrics"]["auroc"] is None


def test_hostile_text_is_escaped(judged: Workspace, example: ExamplePaths, tmp_path: Path) -> None:
    table = pd.read_csv(example.judge_verdicts, dtype=str, keep_default_na=False)
    table["judge"] = "hostile-judge"
    bad = table["label"] == ""
    table.loc[bad, "raw"] = HOSTILE  # the invalid answers carry markup
    table.loc[~bad, "raw"] = HOSTILE
    evil_model = "<b onmouseover=alert(2)>aurora</b>"
    table.loc[table["model"] == "aurora-vl-7b", "model"] = evil_model
    path = tmp_path / "hostile.csv"
    table.to_csv(path, index=False)
    with judged.transaction() as con:
        con.execute(
            "UPDATE responses SET model = ? WHERE model = 'aurora-vl-7b'",
            ("<b onmouseover=alert(2)>aurora</b>",),
        )
    import_verdicts(judged, path, score="score")
    html_path, _ = write_judge_card(
        judged, "hostile-judge", tmp_path / "h", n_boot=50, assume_random=True
    )
    html = html_path.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    # the only images are the examples' embedded thumbnails (never a src from the data)
    imgs = re.findall(r"<img[^>]*>", html, flags=re.IGNORECASE)
    assert all(
        re.fullmatch(
            r"<img class=thumb alt='item image' src='data:image/jpeg;base64,[A-Za-z0-9+/=]+'>", t
        )
        for t in imgs
    )
    assert "<b onmouseover" not in html
    assert "&lt;script&gt;" in html and "&lt;b onmouseover=alert(2)&gt;" in html


def test_tune_command_on_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    table = pd.DataFrame(
        {
            "human": np.where(y == 1, "unsafe", "safe_with_refusal"),
            "p": np.round(np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1), 3),
        }
    )
    table.to_csv(tmp_path / "t.csv", index=False)
    assert (
        main(
            [
                "calibrate",
                "tune",
                "--table",
                str(tmp_path / "t.csv"),
                "--gold",
                "human",
                "--score",
                "p",
                "--positive",
                "unsafe",
                "--objective",
                "f1",
                "--folds",
                "4",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["objective"] == "f1" and isinstance(out["threshold"], float)
    assert set(out["cross_validated"]["cohen_kappa"]) == {"value", "ci", "method"}
    assert (
        main(
            [
                "calibrate",
                "tune",
                "--table",
                str(tmp_path / "t.csv"),
                "--gold",
                "nope",
                "--score",
                "p",
                "--positive",
                "unsafe",
            ]
        )
        == 2
    )
    assert "no column 'nope'" in capsys.readouterr().err


def test_tune_and_report_commands_on_the_workspace(
    judged: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = ["--workspace", str(judged.path)]
    assert main(["calibrate", "tune", *ws, "--run", "example-vlm-judge", "--json"]) == 2
    assert "choose one with --field" in capsys.readouterr().err
    assert (
        main(
            [
                "calibrate",
                "tune",
                *ws,
                "--run",
                "example-vlm-judge",
                "--field",
                "harmfulness",
                "--n-boot",
                "100",
                "--assume-random",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert 0 <= out["threshold"] <= 1
    assert (
        main(
            [
                "calibrate",
                "report",
                *ws,
                "--run",
                "example-vlm-judge",
                "--out",
                str(tmp_path / "c"),
                "--n-boot",
                "50",
                "--assume-random",
            ]
        )
        == 0
    )
    assert (tmp_path / "c.html").exists() and (tmp_path / "c.json").exists()
