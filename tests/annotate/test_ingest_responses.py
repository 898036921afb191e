"""One test per ingest rule for responses (issue 2, points 4 and 5)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from safecal.annotate import InputError, Workspace, ingest_items, ingest_responses, response_id


@pytest.fixture
def ws(example, tmp_path) -> Workspace:
    ws = Workspace.open(tmp_path / "ws")
    ingest_items(ws, example.items, images=example.images)
    return ws


def responses_csv(tmp_path, rows, name="r.csv", header="item_id,model,language,response"):
    path = tmp_path / name
    lines = [header] + [",".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def count(ws: Workspace) -> int:
    return int(ws.read_sql("SELECT count(*) AS n FROM responses")["n"][0])


def test_three_models_three_formats(ws, example):
    for file in example.responses:
        report = ingest_responses(ws, file)
        assert (report.rows, report.added) == (240, 240)
    got = ws.read_sql("SELECT * FROM responses")
    assert got.groupby("model").size().to_dict() == {
        "aurora-vl-7b": 240,
        "borealis-vl-13b": 240,
        "cirrus-vl-72b": 240,
    }
    assert set(got["language"]) == {"en", "zh"}
    row = got.iloc[0]
    assert row["response_id"] == response_id(row["item_id"], row["model"], row["language"])
    assert json.loads(row["settings"]) == {"temperature": 0.0, "max_tokens": 512}
    assert row["timestamp"].startswith("2026-10-")


def test_response_id_is_stable_and_distinct():
    assert response_id("1", "m", "en") == response_id("1", "m", "en")
    assert (
        len(
            {
                response_id("1", "m", "en"),
                response_id("1", "m", "zh"),
                response_id("1", "n", "en"),
                response_id("2", "m", "en"),
            }
        )
        == 4
    )


def test_reingest_is_a_no_op_and_changes_need_replace(ws, example, tmp_path):
    ingest_responses(ws, example.responses[0])
    again = ingest_responses(ws, example.responses[0])
    assert (again.added, again.unchanged, again.replaced) == (0, 240, 0)
    frame = pd.read_csv(example.responses[0], dtype=str, keep_default_na=False)
    frame.loc[7, "response"] = "An edited answer."
    changed = tmp_path / "changed.csv"
    frame.to_csv(changed, index=False)
    before = ws.read_sql("SELECT * FROM responses ORDER BY response_id")
    with pytest.raises(InputError, match=r"1 response\(s\) already in the workspace.*line 9"):
        ingest_responses(ws, changed)
    pd.testing.assert_frame_equal(
        ws.read_sql("SELECT * FROM responses ORDER BY response_id"), before
    )
    report = ingest_responses(ws, changed, replace=True)
    assert (report.replaced, report.unchanged) == (1, 239)
    assert "An edited answer." in set(ws.read_sql("SELECT response FROM responses")["response"])


def test_unknown_items_are_named(ws, tmp_path):
    path = responses_csv(
        tmp_path,
        [
            ["1", "m", "en", "ok"],
            ["9999", "m", "en", "x"],
            ["9999", "m", "zh", "y"],
            ["abc", "m", "en", "z"],
        ],
    )
    with pytest.raises(
        InputError,
        match=r"item ids not in the workspace.*'9999' \(first at line 3, "
        r"2 responses\).*'abc'",
    ):
        ingest_responses(ws, path)
    assert count(ws) == 0


def test_duplicates_in_one_file(ws, tmp_path):
    path = responses_csv(
        tmp_path, [["1", "m", "en", "a"], ["2", "m", "en", "b"], ["1", "m", "en", "c"]]
    )
    with pytest.raises(InputError, match=r"duplicate \(item_id, model, language\).*lines 2, 4"):
        ingest_responses(ws, path)


def test_bad_language_and_empty_model(ws, tmp_path):
    path = responses_csv(tmp_path, [["1", "m", "fr", "a"], ["2", "", "en", "b"]])
    with pytest.raises(InputError) as err:
        ingest_responses(ws, path)
    assert "field language must be one of en, zh (1 row): line 2: 'fr'" in str(err.value)
    assert "field model is empty (1 row): line 3" in str(err.value)


def test_language_is_case_insensitive_and_id_alias(ws, tmp_path):
    path = responses_csv(tmp_path, [["1", "m", "EN", "a"]], header="id,model,language,response")
    assert ingest_responses(ws, path).added == 1
    assert ws.read_sql("SELECT language FROM responses")["language"][0] == "en"


def test_settings_must_be_json_object(ws, tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(
        json.dumps(
            {
                "item_id": "1",
                "model": "m",
                "language": "en",
                "response": "a",
                "settings": {"temperature": 0.7},
            }
        )
        + "\n"
        + json.dumps(
            {"item_id": "2", "model": "m", "language": "en", "response": "a", "settings": "hot"}
        )
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"settings must be a JSON object.*line 2: 'hot'"):
        ingest_responses(ws, path)


def test_extra_columns_are_kept(ws, tmp_path):
    path = responses_csv(
        tmp_path, [["1", "m", "en", "a", "run-7"]], header="item_id,model,language,response,run"
    )
    ingest_responses(ws, path)
    assert json.loads(ws.read_sql("SELECT extra FROM responses")["extra"][0]) == {"run": "run-7"}


def test_missing_column_and_mapping(ws, tmp_path):
    path = responses_csv(tmp_path, [["1", "m", "en", "a"]], header="item_id,model,language,output")
    with pytest.raises(InputError, match=r"missing required column\(s\) response"):
        ingest_responses(ws, path)
    assert ingest_responses(ws, path, mapping={"response": "output"}).added == 1


def test_error_in_a_later_chunk_writes_nothing(ws, tmp_path):
    rows = [["1", f"m{i}", "en", "a"] for i in range(50)] + [["1", "mX", "xx", "bad"]]
    path = responses_csv(tmp_path, rows)
    with pytest.raises(InputError, match=r"line 52: 'xx'"):
        ingest_responses(ws, path, chunk_rows=7)
    assert count(ws) == 0
    ok = responses_csv(tmp_path, rows[:-1], name="ok.csv")
    assert ingest_responses(ws, ok, chunk_rows=7).added == 50


def test_empty_response_text_is_kept(ws, tmp_path):
    # an empty response is data (the protocol counts it as a refusal), not an error
    path = responses_csv(tmp_path, [["1", "m", "en", ""]])
    assert ingest_responses(ws, path).added == 1
    assert ws.read_sql("SELECT response FROM responses")["response"][0] == ""


def test_responses_need_a_workspace_with_items(tmp_path):
    ws = Workspace.open(tmp_path / "empty")
    path = responses_csv(tmp_path, [["1", "m", "en", "a"]])
    with pytest.raises(InputError, match="ingest the items first"):
        ingest_responses(ws, path)
