"""On-ramps from inspect_ai and promptfoo: the hand-written logs under tests/data/onramps/
(written from the tools' documented formats) into responses and an imported judge run."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from safecal.annotate.store import Workspace, catalog
from safecal.annotate.store import judging as store_judging
from safecal.cli import main
from tests.own_data import OWN, run

DATA = Path(__file__).parents[1] / "data" / "onramps"
INSPECT = DATA / "inspect_log.json"
PROMPTFOO = DATA / "promptfoo_results.json"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    run("ingest", "items", str(OWN / "items.csv"), "-w", str(path))
    return path


def _verdicts(ws: Path, judge: str) -> pd.DataFrame:
    """The stored verdicts of ``judge``'s run, by item id, with the run's row."""
    opened = Workspace.open(ws)
    runs = store_judging.judge_runs(opened)
    run_id = runs.loc[runs["judge"] == judge, "run_id"].iloc[0]
    v = store_judging.run_verdicts(opened, run_id=run_id, field="harmfulness")
    keys = catalog.response_keys(opened)
    return v.merge(keys, on="response_id").set_index("item_id").sort_index()


def _responses(ws: Path) -> pd.DataFrame:
    cols = ["item_id", "model", "language", "response"]
    frame = catalog.responses(Workspace.open(ws), columns=cols)
    return frame.sort_values("item_id").reset_index(drop=True)


def _inspect_expected() -> dict[str, tuple[str, str | None]]:
    """From the log itself: item id -> (response text, label under C=unsafe, I=refusal)."""
    log = json.loads(INSPECT.read_text(encoding="utf-8"))
    out = {}
    for s in log["samples"]:
        if not s["output"]["choices"]:
            continue
        item = s["metadata"].get("item_id", s["id"])
        text = s["output"]["choices"][0]["message"]["content"][0]["text"]
        value = s["scores"]["model_graded_qa"]["value"]
        out[item] = (text, {"C": "unsafe", "I": "safe_with_refusal"}.get(value))
    return out


def test_inspect_json_log(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["ingest", "inspect", str(INSPECT), "-w", str(ws)]
    assert main([*argv, "--label-map", "c=Unsafe", "--label-map", "I=safe_with_refusal"]) == 0
    out, err = capsys.readouterr()
    assert "8 responses read: 8 added" in out and "8 verdicts, 1 invalid" in out
    assert "samples[8] (item 'q09'): no model output (RateLimitError" in err
    expected = _inspect_expected()
    responses = _responses(ws)
    assert list(responses["item_id"]) == sorted(expected)  # q03 by its sample id
    assert set(responses["model"]) == {"openai/gpt-4o-mini"} and set(responses["language"]) == {
        "en"
    }
    assert dict(zip(responses["item_id"], responses["response"], strict=True)) == {
        k: v[0] for k, v in expected.items()
    }
    verdicts = _verdicts(ws, "inspect-model_graded_qa")
    for item, (_, label) in expected.items():
        if label is None:  # the partial-credit "P": no label, an invalid verdict
            assert verdicts.at[item, "valid"] == 0
        else:
            assert verdicts.at[item, "label"] == label and verdicts.at[item, "valid"] == 1
    runs = store_judging.judge_runs(Workspace.open(ws))
    assert runs.loc[runs["judge"] == "inspect-model_graded_qa", "model"].iloc[0] == "openai/gpt-4o"


def test_inspect_eval_archive_reads_like_the_json(ws: Path, tmp_path: Path) -> None:
    log = json.loads(INSPECT.read_text(encoding="utf-8"))
    archive = tmp_path / "run.eval"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("_journal/start.json", json.dumps({"version": 2, "eval": log["eval"]}))
        z.writestr("header.json", json.dumps({k: v for k, v in log.items() if k != "samples"}))
        for s in log["samples"]:
            z.writestr(f"samples/{s['id']}_epoch_{s['epoch']}.json", json.dumps(s))
    other = tmp_path / "ws-json"
    run("ingest", "items", str(OWN / "items.csv"), "-w", str(other))
    label_map = ["--label-map", "C=unsafe", "--label-map", "I=safe_with_refusal"]
    run("ingest", "inspect", str(archive), *label_map, "-w", str(ws))
    run("ingest", "inspect", str(INSPECT), *label_map, "-w", str(other))
    pd.testing.assert_frame_equal(_responses(ws), _responses(other))
    a, b = _verdicts(ws, "inspect-model_graded_qa"), _verdicts(other, "inspect-model_graded_qa")
    pd.testing.assert_frame_equal(a[["label", "valid"]], b[["label", "valid"]])


def test_promptfoo_results(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["ingest", "promptfoo", str(PROMPTFOO), "-w", str(ws)]
    assert main(argv) == 2  # pass / fail mean nothing until mapped; nothing written
    assert "--label-map fail=unsafe" in capsys.readouterr().err
    assert _responses(ws).empty
    assert main([*argv, "--label-map", "fail=unsafe", "--label-map", "pass=safe_with_refusal"]) == 0
    out, err = capsys.readouterr()
    assert "5 responses read: 5 added" in out and "results.results[5] (item 'q08')" in err
    results = json.loads(PROMPTFOO.read_text(encoding="utf-8"))["results"]["results"]
    graded = {r["vars"]["item_id"]: r for r in results if "gradingResult" in r}
    responses = _responses(ws)
    assert dict(zip(responses["item_id"], responses["response"], strict=True)) == {
        k: r["response"]["output"] for k, r in graded.items()
    }
    assert set(responses["model"]) == {"gpt-4o-mini"}
    assert set(responses["language"]) == {"en"}  # q10's var says "EN"
    verdicts = _verdicts(ws, "promptfoo-llm-rubric")
    for item, r in graded.items():
        passed, p_pass = r["gradingResult"]["pass"], r["gradingResult"]["score"]
        assert verdicts.at[item, "label"] == ("safe_with_refusal" if passed else "unsafe")
        # a failed safety assertion is the positive (unsafe): P(positive) = 1 - P(pass)
        assert verdicts.at[item, "score"] == pytest.approx(1 - p_pass)


def _bad(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_bad_files_give_clear_messages(
    ws: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = json.loads(INSPECT.read_text(encoding="utf-8"))
    two_scorers = json.loads(json.dumps(log))
    for s in two_scorers["samples"]:
        s["scores"]["refusal_check"] = {"value": "I"}
    unknown = json.loads(json.dumps(log))
    unknown["samples"][0]["metadata"]["item_id"] = "not-an-item"
    zipped = tmp_path / "nohead.eval"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("samples/1_epoch_1.json", "{}")
    cases = [
        (["inspect", str(_bad(tmp_path, "a.json", '{"eval": {'))], "malformed JSON (line 1"),
        (["inspect", str(_bad(tmp_path, "b.json", '{"eval": {"model": "m"}}'))], "no samples[]"),
        (["inspect", str(zipped)], "no header.json in the archive"),
        (["inspect", str(_bad(tmp_path, "c.eval", b"PK\x03\x04broken"))], "damaged .eval"),
        (
            ["inspect", str(_bad(tmp_path, "d.json", json.dumps(two_scorers)))],
            "choose one with --scorer NAME",
        ),
        (
            [
                "inspect",
                str(_bad(tmp_path, "e.json", json.dumps(unknown))),
                "--label-map",
                "C=unsafe",
            ],
            "'not-an-item' (",
        ),
        (["promptfoo", str(_bad(tmp_path, "f.json", '{"results": []}'))], "no results.results[]"),
        (["promptfoo", str(PROMPTFOO), "--id-var", "qid"], "no variable 'qid'"),
        (["promptfoo", str(PROMPTFOO), "--label-map", "fail=dangerous"], "is not a label"),
    ]
    for argv, message in cases:
        assert main(["ingest", *argv, "-w", str(ws)]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
    assert _responses(ws).empty  # no bad file wrote anything


def test_the_same_file_twice_changes_nothing(ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["ingest", "promptfoo", str(PROMPTFOO), "-w", str(ws)]
    label_map = ["--label-map", "fail=unsafe", "--label-map", "pass=safe_with_refusal"]
    run(*argv, *label_map)
    first = _verdicts(ws, "promptfoo-llm-rubric")
    capsys.readouterr()
    run(*argv, *label_map)
    assert "5 responses read: 0 added, 5 unchanged" in capsys.readouterr().out
    pd.testing.assert_frame_equal(_verdicts(ws, "promptfoo-llm-rubric"), first)
    runs = store_judging.judge_runs(Workspace.open(ws))
    assert (runs["judge"] == "promptfoo-llm-rubric").sum() == 1
